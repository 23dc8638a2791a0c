from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from accounts.management.commands.seed_demo import ADMIN
from accounts.tenancy import tenant_atomic
from contacts.models import ContactList
from tests.conftest import PASSWORD, committed, make_tenant

pytestmark = [pytest.mark.browser, committed]


def test_the_demo_admin_signs_in_and_reaches_the_dashboard(page: Any) -> None:
    call_command("seed_demo", verbosity=0)
    page.goto("/")
    page.get_by_label("E-mail address").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() == "Kunstverein Maas-Rhein"
    assert "6" in page.locator(".stat", has_text="lists").inner_text()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lists").click()
    page.wait_for_url("**/lists/")
    assert page.get_by_role("cell", name="Nieuwsbrief NL").is_visible()


def test_a_marketer_of_another_account_cannot_open_the_first_accounts_pages(page: Any) -> None:
    call_command("seed_demo", verbosity=0)
    other = make_tenant("other")
    from accounts.models import Account

    demo = Account.objects.get(slug="demo")
    with tenant_atomic(demo):
        demo_list_id = ContactList.objects.get(name="Nieuwsbrief NL").pk
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(other.marketer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() == "Other"
    page.goto("/lists/")
    assert page.get_by_text("Nieuwsbrief NL").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": csrf, "Referer": page.url}
    switch = page.request.post(
        "/account/switch/", form={"account_id": str(demo.pk)}, headers=headers
    )
    assert switch.status == 404
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "Other"
    with tenant_atomic(demo):
        assert ContactList.objects.filter(pk=demo_list_id).exists()
