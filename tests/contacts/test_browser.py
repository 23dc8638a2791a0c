from __future__ import annotations

import time
from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from contacts.models import Contact, DuplicateScan
from tests.conftest import PASSWORD, Tenant, committed, make_tenant
from tests.contacts.factories import contact


def _sign_in(page: Any, tenant: Tenant, role: str = "marketer") -> None:
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(getattr(tenant, role).email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


@pytest.mark.browser
@committed
def test_typing_in_the_search_box_narrows_the_table(page: Any) -> None:
    tenant = make_tenant("acme")
    contact(tenant, email="an@example.org", first_name="An", last_name="Peeters")
    contact(tenant, email="bo@example.org", first_name="Bo", last_name="Claes")
    _sign_in(page, tenant, "viewer")
    page.goto("/contacts/")
    page.get_by_label("Search name, e-mail or company").fill("claes")
    page.wait_for_url("**/contacts/?q=claes**")
    rows = page.locator("#contact-results tbody tr")
    rows.first.wait_for()
    page.wait_for_function("document.querySelectorAll('#contact-results tbody tr').length === 1")
    assert "bo@example.org" in rows.first.inner_text()


@pytest.mark.browser
@committed
def test_the_segment_editor_counts_while_criteria_are_ticked(page: Any) -> None:
    tenant = make_tenant("acme")
    contact(tenant, email="a@example.org", language="nl")
    contact(tenant, email="b@example.org", language="nl")
    contact(tenant, email="c@example.org", language="fr")
    _sign_in(page, tenant)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/segments/new/")
    page.get_by_label("Nederlands").check()
    status = page.get_by_role("status").filter(has_text="match")
    status.wait_for()
    assert status.inner_text().startswith("2 contacts match")
    page.get_by_label("Name").fill("Dutch speakers")
    page.get_by_role("button", name="Save segment").click()
    assert "Segment “Dutch speakers” saved." in page.get_by_role("status").first.inner_text()


@committed
def test_a_real_worker_runs_the_duplicate_scan(celery_worker: Any) -> None:
    tenant = make_tenant("acme")
    a = contact(
        tenant, email="jan@example.org", first_name="Jan", last_name="Peeters", phone="0475 123456"
    )
    b = contact(
        tenant,
        email="jp@work.example",
        first_name="Peeters",
        last_name="Jan",
        phone="+32 475 12 34 56",
    )
    celery_worker()
    scan_id = tenant.api("marketer").post("/api/v1/duplicates/scan/").json()["id"]
    for _ in range(600):  # waits for the worker, up to a minute
        status = tenant.api("viewer").get(f"/api/v1/duplicates/scans/{scan_id}/").json()["status"]
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert status == "succeeded"
    suggestions = tenant.api("viewer").get("/api/v1/duplicates/").json()["results"]
    assert [s["contacts"] for s in suggestions] == [[a.pk, b.pk]]
    with tenant_atomic(tenant.account):
        assert Contact.objects.count() == 2 and DuplicateScan.objects.get().progress == 1.0
