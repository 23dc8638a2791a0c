from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from consent.models import ConsentEvent, ConsentState, Purpose
from contacts.duplicates import Person, find_duplicates
from contacts.models import (
    Activity,
    Contact,
    ContactMerge,
    DuplicateScan,
    DuplicateSuggestion,
    ListEntry,
    Source,
)
from tests.conftest import Tenant
from tests.contacts.duplicate_data import as_people, generate
from tests.contacts.factories import contact, contact_list

JSON = "application/json"


def test_precision_and_recall_on_generated_duplicates() -> None:
    rows, truth = generate(3000, seed=11)
    found = {(a, b) for a, b, _, _ in find_duplicates(as_people(rows))}
    true_positives = len(found & truth)
    precision, recall = true_positives / len(found), true_positives / len(truth)
    assert precision >= 0.9, precision
    assert recall >= 0.9, recall


def test_relatives_at_one_address_are_not_duplicates() -> None:
    people = as_people([])
    jan = Person.of(
        id=1,
        first_name="Jan",
        last_name="Peeters",
        email="jan@x.be",
        phone="",
        postal_code="9000",
        street="Kerkstraat 4",
        company_name="",
    )
    marie = Person.of(
        id=2,
        first_name="Marie",
        last_name="Peeters",
        email="marie@x.be",
        phone="",
        postal_code="9000",
        street="Kerkstraat 4",
        company_name="",
    )
    assert find_duplicates([*people, jan, marie]) == []


def test_swapped_names_with_an_initial_and_another_phone_format_match() -> None:
    a = Person.of(
        id=1,
        first_name="Hélène",
        last_name="Dubois",
        email="h@x.be",
        phone="0475 123456",
        postal_code="",
        street="",
        company_name="",
    )
    b = Person.of(
        id=2,
        first_name="DUBOIS",
        last_name="H.",
        email="hd@y.be",
        phone="+32 475 12 34 56",
        postal_code="",
        street="",
        company_name="",
    )
    assert [(x, y) for x, y, _, _ in find_duplicates([a, b])] == [(1, 2)]


# --- the scan, through the API ------------------------------------------------------------------


def _twins(tenant: Tenant) -> tuple[Contact, Contact]:
    a = contact(
        tenant,
        email="jan.peeters@example.org",
        first_name="Jan",
        last_name="Peeters",
        postal_code="9000",
        street="Kerkstraat 4",
        city="Gent",
    )
    b = contact(
        tenant,
        email="j.peeters@work.example",
        first_name="J.",
        last_name="Peters",
        postal_code="9000",
        street="Kerkstr. 4",
        phone="0475 123456",
    )
    return a, b


def _scan(tenant: Tenant, capture: Callable[..., Any]) -> dict[str, Any]:
    with capture(execute=True):
        response = tenant.api("marketer").post("/api/v1/duplicates/scan/")
    assert response.status_code == 202
    return tenant.api("viewer").get(f"/api/v1/duplicates/scans/{response.json()['id']}/").json()


def test_a_scan_finds_the_twins_and_reports_success(
    tenant: Tenant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    a, b = _twins(tenant)
    contact(
        tenant, email="other@example.org", first_name="Marie", last_name="Claes", postal_code="9000"
    )
    scan = _scan(tenant, django_capture_on_commit_callbacks)
    assert (scan["status"], scan["progress"], scan["suggestions_found"]) == ("succeeded", 1.0, 1)
    suggestions = tenant.api("viewer").get("/api/v1/duplicates/").json()["results"]
    assert [s["contacts"] for s in suggestions] == [[a.pk, b.pk]]
    assert 0 < suggestions[0]["score"] <= 1


def test_a_dismissed_suggestion_stays_dismissed_after_a_new_scan(
    tenant: Tenant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    _twins(tenant)
    _scan(tenant, django_capture_on_commit_callbacks)
    suggestion = tenant.api("viewer").get("/api/v1/duplicates/").json()["results"][0]
    assert (
        tenant.api("marketer").post(f"/api/v1/duplicates/{suggestion['id']}/dismiss/").status_code
        == 204
    )
    _scan(tenant, django_capture_on_commit_callbacks)
    assert tenant.api("viewer").get("/api/v1/duplicates/").json()["results"] == []


def test_a_second_scan_request_while_one_is_queued_returns_the_same_scan(tenant: Tenant) -> None:
    api = tenant.api("marketer")
    first = api.post("/api/v1/duplicates/scan/").json()  # on_commit never fires here: stays queued
    second = api.post("/api/v1/duplicates/scan/").json()
    assert first["id"] == second["id"] and second["status"] == "queued"


def test_a_scan_whose_worker_went_silent_is_replaced(tenant: Tenant) -> None:
    from datetime import timedelta

    from django.utils import timezone

    with tenant_atomic(tenant.account):
        stale = DuplicateScan.objects.create(
            status="running", heartbeat_at=timezone.now() - timedelta(hours=1)
        )
    fresh = tenant.api("marketer").post("/api/v1/duplicates/scan/").json()
    assert fresh["id"] != stale.pk
    with tenant_atomic(tenant.account):
        stale.refresh_from_db()
    assert stale.status == "failed" and "worker" in stale.error


def test_viewers_cannot_scan_merge_or_dismiss(tenant: Tenant) -> None:
    a, b = _twins(tenant)
    with tenant_atomic(tenant.account):
        s = DuplicateSuggestion.objects.create(contact_a=a, contact_b=b, score=0.9)
    api = tenant.api("viewer")
    assert api.post("/api/v1/duplicates/scan/").status_code == 403
    assert (
        api.post(f"/api/v1/duplicates/{s.pk}/merge/", {"keep": a.pk}, content_type=JSON).status_code
        == 403
    )
    assert api.post(f"/api/v1/duplicates/{s.pk}/dismiss/").status_code == 403


def test_another_accounts_suggestion_and_scan_are_404(tenant: Tenant, outsider: Tenant) -> None:
    a, b = _twins(outsider)
    with tenant_atomic(outsider.account):
        s = DuplicateSuggestion.objects.create(contact_a=a, contact_b=b, score=0.9)
        scan = DuplicateScan.objects.create()
    api = tenant.api("admin")
    assert (
        api.post(f"/api/v1/duplicates/{s.pk}/merge/", {"keep": a.pk}, content_type=JSON).status_code
        == 404
    )
    assert api.post(f"/api/v1/duplicates/{s.pk}/dismiss/").status_code == 404
    assert api.get(f"/api/v1/duplicates/scans/{scan.pk}/").status_code == 404
    assert api.get("/api/v1/duplicates/").json()["results"] == []


# --- merging ------------------------------------------------------------------------------------


@pytest.fixture
def merge_case(tenant: Tenant) -> dict[str, Any]:
    members, fair = contact_list(tenant, "Members"), contact_list(tenant, "Fair")
    a, b = _twins(tenant)
    with tenant_atomic(tenant.account):
        Source.objects.create(contact=a, list=members, name="Members")
        Source.objects.create(contact=b, list=fair, name="Fair")
        ListEntry.objects.create(list=fair, email=str(b.email), email_normalized=b.email)
        Activity.objects.create(contact=b, kind="purchase")
        purpose = Purpose.objects.create(key="e_marketing", name="E-marketing")
        ConsentEvent.objects.create(
            contact=b,
            purpose=purpose,
            legal_basis="consent",
            status="withdrawn",
            channel="web",
            ip="192.0.2.1",
        )
        suggestion = DuplicateSuggestion.objects.create(contact_a=a, contact_b=b, score=0.9)
    return {"a": a, "b": b, "suggestion": suggestion, "purpose": purpose, "fair": fair}


def _merge(tenant: Tenant, case: dict[str, Any], **body: Any) -> Any:
    return tenant.api("marketer").post(
        f"/api/v1/duplicates/{case['suggestion'].pk}/merge/", body, content_type=JSON
    )


def test_merge_keeps_chosen_fields_and_fills_empty_ones(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    a, b = merge_case["a"], merge_case["b"]
    response = _merge(tenant, merge_case, keep=a.pk, fields={"last_name": b.pk})
    assert response.status_code == 200, response.json()
    with tenant_atomic(tenant.account):
        kept = Contact.objects.get()
    assert (kept.pk, kept.first_name, kept.last_name, kept.phone, kept.email) == (
        a.pk,
        "Jan",
        "Peters",
        "0475 123456",
        "jan.peeters@example.org",
    )


def test_merge_moves_sources_activities_and_list_entries(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    a = merge_case["a"]
    _merge(tenant, merge_case, keep=a.pk)
    with tenant_atomic(tenant.account):
        assert sorted(Source.objects.filter(contact=a).values_list("name", flat=True)) == [
            "Fair",
            "Members",
        ]
        assert Activity.objects.filter(contact=a).count() == 1
        assert ListEntry.objects.get(list=merge_case["fair"]).email_normalized == a.email


def test_merge_carries_the_newer_consent_over_as_a_new_ledger_event(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    a, b = merge_case["a"], merge_case["b"]
    _merge(tenant, merge_case, keep=a.pk)
    with tenant_atomic(tenant.account):
        state = ConsentState.objects.get(contact=a, purpose=merge_case["purpose"])
        copied = ConsentEvent.objects.get(contact_id=a.pk)
        original = ConsentEvent.objects.get(contact_id=b.pk)  # the ledger row itself never changes
    assert state.status == "withdrawn"
    assert (copied.channel, copied.ip) == ("merge", "192.0.2.1")
    assert f"#{b.pk}" in copied.source and original.status == "withdrawn"


def test_merge_is_recorded_and_the_other_contact_is_gone(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    a, b = merge_case["a"], merge_case["b"]
    body = _merge(tenant, merge_case, keep=a.pk).json()
    assert (body["kept_contact"], body["merged_contact_id"], body["merged_email"]) == (
        a.pk,
        b.pk,
        b.email,
    )
    with tenant_atomic(tenant.account):
        assert ContactMerge.objects.get().moved["sources"] == 1
        assert not Contact.objects.filter(pk=b.pk).exists()
        assert not DuplicateSuggestion.objects.exists()


def test_merge_may_keep_the_other_contacts_email(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    a, b = merge_case["a"], merge_case["b"]
    _merge(tenant, merge_case, keep=a.pk, fields={"email": b.pk})
    with tenant_atomic(tenant.account):
        assert Contact.objects.get().email == b.email


def test_merge_refuses_a_contact_outside_the_pair(
    tenant: Tenant, merge_case: dict[str, Any]
) -> None:
    stranger = contact(tenant, email="s@example.org")
    response = _merge(tenant, merge_case, keep=stranger.pk)
    assert response.status_code == 400
    assert "keep" in response.json()["details"]


def test_merge_refuses_an_unknown_field(tenant: Tenant, merge_case: dict[str, Any]) -> None:
    response = _merge(
        tenant, merge_case, keep=merge_case["a"].pk, fields={"password": merge_case["b"].pk}
    )
    assert response.status_code == 400


def test_a_scan_left_running_by_a_dead_worker_is_taken_over_when_redelivered(
    tenant: Tenant,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from contacts.tasks_duplicates import duplicate_scan_run

    a, b = _twins(tenant)
    with tenant_atomic(tenant.account):
        scan = DuplicateScan.objects.create(
            status="running", heartbeat_at=timezone.now() - timedelta(hours=1)
        )
    duplicate_scan_run(tenant.account.pk, scan.pk)
    with tenant_atomic(tenant.account):
        scan.refresh_from_db()
        assert scan.status == "succeeded"
        assert DuplicateSuggestion.objects.filter(contact_a=a, contact_b=b).exists()


def test_a_running_scan_that_still_reports_is_not_run_twice(tenant: Tenant) -> None:
    from django.utils import timezone

    from contacts.tasks_duplicates import duplicate_scan_run

    _twins(tenant)
    with tenant_atomic(tenant.account):
        scan = DuplicateScan.objects.create(status="running", heartbeat_at=timezone.now())
    duplicate_scan_run(tenant.account.pk, scan.pk)
    with tenant_atomic(tenant.account):
        scan.refresh_from_db()
        assert (scan.status, scan.pairs_compared) == ("running", 0)


def test_suggestions_for_a_contact_deleted_during_the_scan_are_skipped(tenant: Tenant) -> None:
    from contacts.duplicates import _suggestions_upsert

    a, b = _twins(tenant)
    gone = contact(tenant, email="gone@example.org")
    gone_id = gone.pk
    with tenant_atomic(tenant.account):
        Contact.objects.filter(pk=gone_id).delete()
        scan = DuplicateScan.objects.create(status="running")
        _suggestions_upsert(
            account_id=tenant.account.pk,
            scan_id=scan.pk,
            hits=[(a.pk, b.pk, 0.9, ["same address"]), (a.pk, gone_id, 0.8, ["same phone"])],
        )
        assert list(DuplicateSuggestion.objects.values_list("contact_a", "contact_b")) == [
            (a.pk, b.pk)
        ]
