"""The whole wizard in a real Chromium, on a small account."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from contacts.models import Contact
from tests.conftest import PASSWORD, Tenant, committed
from tests.converter.helpers import make_contact, make_list

pytestmark = [pytest.mark.browser, committed]


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _resolve(page: Any, list_name: str, choice: str, overrides: dict[str, str]) -> None:
    page.get_by_role("link", name="Review and choose").click()
    page.get_by_role("heading", name=list_name).wait_for()
    page.get_by_label(choice).check()
    for label, value in overrides.items():
        page.get_by_label(f"Choice for {label}").select_option(value)
    page.get_by_role("button", name=f"Merge “{list_name}”").click()
    page.wait_for_url("**/converter/*/")


def test_an_admin_converts_three_lists_in_the_browser(page: Any, tenant: Tenant) -> None:
    tenant.admin.set_password(PASSWORD)
    tenant.admin.save()
    with tenant_atomic(tenant.account):
        make_contact(email="jan@example.be", first_name="Johannes", city="")
        news = make_list(
            "Newsletter", [{"email": "jan@example.be", "first_name": "Jan", "city": "Gent"}]
        )
        events = make_list(
            "Events", [{"email": "jan@example.be", "first_name": "Hans", "phone": "+32 9 111"}]
        )
        members = make_list(
            "Members",
            [
                {"email": "jan@example.be", "city": "Brugge", "last_name": "Peeters"},
                {"email": "ann@example.be", "first_name": "Ann", "status": "unsubscribed"},
            ],
        )
        make_list("Old stuff", [{"email": "old@example.be"}])
    page.on("dialog", lambda dialog: dialog.accept())

    _sign_in(page, tenant.admin.email)
    page.wait_for_url("**/")
    page.goto("/converter/")
    page.get_by_label("Merge Old stuff").uncheck()
    for position, contact_list in enumerate([news, events, members], start=1):
        page.get_by_label(f"Order of {contact_list.name}").fill(str(position))
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("heading", name="1 list will be deleted").is_visible()
    assert "Old stuff — 1 entries" in page.locator(".deleted-lists").inner_text()
    page.get_by_role("button", name="Start the conversion").click()
    page.wait_for_url("**/converter/*/")
    assert page.get_by_role("heading", name="The account is locked").is_visible()

    other = page.context.browser.new_context(base_url=page.url.split("/converter")[0])
    second = other.new_page()
    _sign_in(second, tenant.marketer.email)
    assert "being converted by admin@acme.test" in second.get_by_role("alert").inner_text()
    assert second.url.endswith("/login/")
    other.close()

    _resolve(page, "Newsletter", "List values win", {})
    _resolve(page, "Events", "Database values stay", {})
    _resolve(page, "Members", "List values win", {"City": "database"})

    page.get_by_role("link", name="Review the summary and confirm").click()
    assert (
        "Old stuff (1 entries)"
        in page.get_by_role("region", name="Final confirmation").inner_text()
    )
    page.get_by_label("I understand that this cannot be undone").check()
    page.get_by_role("button", name="Confirm the conversion").click()
    page.wait_for_url("**/report/")
    assert page.get_by_role("heading", name="Segments created").is_visible()

    with tenant_atomic(tenant.account):
        jan = Contact.objects.get(email="jan@example.be")
    page.goto(f"/contacts/{jan.pk}/")
    details = page.locator("dl.fields").inner_text()
    assert "Jan" in details and "Peeters" in details and "Gent" in details
    assert "Brugge" not in details and "+32 9 111" not in details
    sources = page.get_by_role("link", name="Newsletter")
    assert sources.count() >= 1
    for name in ("Events", "Members"):
        assert page.get_by_role("link", name=name).count() >= 1
