from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from consent import services
from consent.models import BaselineRun, ConsentEvent, ConsentState, Purpose
from consent.services import gdpr_baseline_apply
from contacts.models import Activity, ContactList, Organization, Source
from mailings.models import Campaign, CampaignList
from tests.conftest import Tenant
from tests.consent.conftest import make_contact

# A second run records nothing; the never-mailed rule records nothing ever and keeps its count.
NOTHING = {
    "sales_service_legitimate_interest": 0,
    "e_marketing_withdrawn_no_mailings": 0,
    "e_marketing_legitimate_interest_mailed": 0,
    "e_marketing_none_never_mailed": 2,
}


def _account_with_history(tenant: Tenant) -> dict[str, int]:
    """One contact mailed through a list, one with a mailing activity, one never mailed, one
    with the legacy no-mailings flag, one whose list only had a draft campaign."""
    via_list = make_contact(tenant, email="list@example.org")
    via_activity = make_contact(tenant, email="act@example.org")
    never = make_contact(tenant, email="never@example.org")
    flagged = make_contact(tenant, email="flag@example.org", no_mailings=True)
    draft_only = make_contact(tenant, email="draft@example.org")
    with tenant:
        sent_list = ContactList.objects.create(name="Sent")
        draft_list = ContactList.objects.create(name="Draft")
        sent = Campaign.objects.create(name="Spring", status="sent", sent_at=timezone.now())
        draft = Campaign.objects.create(name="Autumn", status="draft")
        CampaignList.objects.create(campaign=sent, list=sent_list)
        CampaignList.objects.create(campaign=draft, list=draft_list)
        Source.objects.create(contact=via_list, list=sent_list, name="Sent")
        Source.objects.create(contact=draft_only, list=draft_list, name="Draft")
        Source.objects.create(contact=flagged, list=sent_list, name="Sent")
        Activity.objects.create(contact=via_activity, kind="mailing")
    return {
        "via_list": via_list.pk,
        "via_activity": via_activity.pk,
        "never": never.pk,
        "flagged": flagged.pk,
        "draft_only": draft_only.pk,
    }


def _marketing_state(contact_id: int) -> tuple[str, str] | None:
    state = ConsentState.objects.filter(
        contact_id=contact_id, purpose__key=Purpose.E_MARKETING
    ).first()
    return (state.status, state.legal_basis) if state else None


def test_the_preview_counts_each_rule_and_records_nothing(tenant: Tenant) -> None:
    _account_with_history(tenant)
    with tenant:
        counts = gdpr_baseline_apply(dry_run=True)
        assert not ConsentEvent.objects.exists()
    assert counts == {
        "sales_service_legitimate_interest": 5,
        "e_marketing_withdrawn_no_mailings": 1,
        "e_marketing_legitimate_interest_mailed": 2,
        "e_marketing_none_never_mailed": 2,
    }


def test_a_run_applies_every_rule(tenant: Tenant) -> None:
    ids = _account_with_history(tenant)
    with tenant:
        gdpr_baseline_apply(dry_run=False)
        assert (
            ConsentState.objects.filter(purpose__key=Purpose.SALES, status="granted").count() == 5
        )
        assert _marketing_state(ids["via_list"]) == ("granted", "legitimate_interest")
        assert _marketing_state(ids["via_activity"]) == ("granted", "legitimate_interest")
        assert _marketing_state(ids["flagged"]) == ("withdrawn", "legitimate_interest")
        assert _marketing_state(ids["never"]) is None
        assert _marketing_state(ids["draft_only"]) is None


def test_a_second_run_records_nothing(tenant: Tenant) -> None:
    _account_with_history(tenant)
    with tenant:
        gdpr_baseline_apply(dry_run=False)
        events = ConsentEvent.objects.count()
        assert gdpr_baseline_apply(dry_run=False) == NOTHING
        assert ConsentEvent.objects.count() == events


def test_the_organisation_no_mailings_flag_is_left_as_it_is(tenant: Tenant) -> None:
    with tenant:
        org = Organization.objects.create(name="Quiet Ltd", no_mailings=True)
    make_contact(tenant, email="q@example.org", organization=org)
    with tenant:
        gdpr_baseline_apply(dry_run=False)
        org.refresh_from_db()
        assert org.no_mailings is True


def test_the_command_prints_the_counts(tenant: Tenant) -> None:
    _account_with_history(tenant)
    out = StringIO()
    call_command("apply_gdpr_baseline", "acme", stdout=out)
    assert "e_marketing_legitimate_interest_mailed: 2 (recorded)" in out.getvalue()


def test_the_page_previews_then_runs_in_the_background(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    _account_with_history(tenant)
    client = tenant.client("admin")
    preview = client.get("/consent/baseline/")
    assert preview.status_code == 200 and "Apply the baseline" in preview.text
    with tenant:
        assert not ConsentEvent.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/consent/baseline/")
    progress = client.get(started["Location"])
    assert progress.status_code == 200 and "Succeeded" in progress.text
    with tenant:
        assert ConsentEvent.objects.count() == 8


def test_a_run_goes_chunk_by_chunk_and_adds_up_the_counts(tenant: Tenant, monkeypatch: Any) -> None:
    _account_with_history(tenant)
    monkeypatch.setattr(services, "BASELINE_CHUNK", 2)
    with tenant:
        run = services.baseline_run_start(created_by_id=None)
        assert services.baseline_run_claim(run_id=run.pk)
        steps = 0
        while services.baseline_run_step(run_id=run.pk):
            steps += 1
        run.refresh_from_db()
    assert (run.status, run.progress, steps) == ("succeeded", 1.0, 3)
    assert run.counts["e_marketing_legitimate_interest_mailed"] == 2


def test_a_run_is_claimed_once(tenant: Tenant) -> None:
    _account_with_history(tenant)
    with tenant:
        run = services.baseline_run_start(created_by_id=None)
        assert services.baseline_run_claim(run_id=run.pk) is True
        assert services.baseline_run_claim(run_id=run.pk) is False


def test_a_silent_run_is_taken_over_and_resumes_from_its_checkpoint(
    tenant: Tenant, monkeypatch: Any
) -> None:
    _account_with_history(tenant)
    monkeypatch.setattr(services, "BASELINE_CHUNK", 2)
    with tenant:
        run = services.baseline_run_start(created_by_id=None)
        services.baseline_run_claim(run_id=run.pk)
        services.baseline_run_step(run_id=run.pk)  # then the worker dies
        BaselineRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=10)
        )
        assert services.baseline_run_claim(run_id=run.pk)
        while services.baseline_run_step(run_id=run.pk):
            pass
        assert ConsentEvent.objects.count() == 8


def test_a_second_start_returns_the_run_under_way(tenant: Tenant) -> None:
    _account_with_history(tenant)
    with tenant:
        first = services.baseline_run_start(created_by_id=None)
        assert services.baseline_run_start(created_by_id=None).pk == first.pk


def test_another_accounts_run_is_404(tenant: Tenant, outsider: Tenant) -> None:
    _account_with_history(outsider)
    with outsider:
        run = services.baseline_run_start(created_by_id=None)
    assert tenant.client("admin").get(f"/consent/baseline/runs/{run.pk}/").status_code == 404
    response = tenant.api("admin").get(f"/api/v1/gdpr-baseline/runs/{run.pk}/")
    assert response.status_code == 404


def test_the_api_starts_a_background_run_for_a_large_account(
    tenant: Tenant, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _account_with_history(tenant)
    monkeypatch.setattr(services, "BASELINE_SYNC_LIMIT", 1)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(
            "/api/v1/gdpr-baseline/", {"dry_run": False}, content_type="application/json"
        )
    assert started.status_code == 202
    run = api.get(f"/api/v1/gdpr-baseline/runs/{started.json()['id']}/").json()
    assert run["status"] == "succeeded"
    assert run["counts"]["sales_service_legitimate_interest"] == 5


def test_the_page_is_for_admins_only(tenant: Tenant) -> None:
    assert tenant.client("marketer").get("/consent/baseline/").status_code == 404


def test_the_api_dry_run_returns_counts_per_rule(tenant: Tenant) -> None:
    _account_with_history(tenant)
    response = tenant.api("admin").post(
        "/api/v1/gdpr-baseline/", {"dry_run": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["counts"]["e_marketing_legitimate_interest_mailed"] == 2
    with tenant:
        assert not ConsentEvent.objects.exists()


def test_the_api_run_records_and_is_idempotent(tenant: Tenant) -> None:
    _account_with_history(tenant)
    api = tenant.api("admin")
    api.post("/api/v1/gdpr-baseline/", {"dry_run": False}, content_type="application/json")
    again = api.post("/api/v1/gdpr-baseline/", {"dry_run": False}, content_type="application/json")
    assert again.json()["counts"] == NOTHING


def test_the_api_baseline_never_touches_another_account(tenant: Tenant, outsider: Tenant) -> None:
    _account_with_history(outsider)
    tenant.api("admin").post(
        "/api/v1/gdpr-baseline/", {"dry_run": False}, content_type="application/json"
    )
    with outsider:
        assert not ConsentEvent.objects.exists()


def test_the_api_baseline_needs_an_admin_key(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/gdpr-baseline/", {"dry_run": True}, content_type="application/json"
    )
    assert response.status_code == 403
