from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tenancy import tenant_atomic
from contacts.models import ContactList
from converter.models import Conversion
from mailings.models import Campaign, CampaignList
from tests.conftest import Tenant
from tests.converter.conftest import Driver
from tests.converter.helpers import make_contact, make_list

JAN = {"email": "jan@example.be", "first_name": "Jan", "city": "Gent"}


def _run_to_review(tenant: Tenant, driver: Driver) -> Conversion:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes")
        news = make_list("News", [JAN, {"email": "broken", "first_name": "X"}])
        return driver.start([news])


def _page_urls(conversion: Conversion) -> list[str]:
    return [
        reverse("conversion", args=[conversion.pk]),
        reverse("conversion_progress", args=[conversion.pk]),
        reverse("conversion_step", args=[conversion.pk, 1]),
        reverse("conversion_step_dropped", args=[conversion.pk, 1]),
        reverse("conversion_step_invalid", args=[conversion.pk, 1]),
        reverse("conversion_confirm", args=[conversion.pk]),
        reverse("conversion_report", args=[conversion.pk]),
        reverse("conversion_report_csv", args=[conversion.pk]),
    ]


def _post_urls(conversion: Conversion) -> list[str]:
    return [
        reverse("conversion_step_resolve", args=[conversion.pk, 1]),
        reverse("conversion_confirm_final", args=[conversion.pk]),
        reverse("conversion_list_add", args=[conversion.pk]),
        reverse("conversion_cancel", args=[conversion.pk]),
        reverse("conversion_resume", args=[conversion.pk]),
    ]


def test_the_selection_page_shows_lists_counts_and_exports(tenant: Tenant) -> None:
    with tenant:
        make_list("News", [JAN, {"email": "ann@example.be"}])
    response = tenant.client("admin").get(reverse("converter"))
    assert response.status_code == 200
    assert "News" in response.text
    assert "Lists you do not select will be deleted irrevocably" in response.text
    assert "Export News (CSV)" in response.text


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_only_admins_reach_the_converter(tenant: Tenant, role: str) -> None:
    assert tenant.client(role).get(reverse("converter")).status_code == 404


def test_the_start_page_names_every_list_that_will_be_deleted(tenant: Tenant) -> None:
    with tenant:
        news = make_list("News", [JAN])
        make_list("Old members", [{"email": "a@example.be"}, {"email": "b@example.be"}])
    response = tenant.client("admin").post(
        reverse("conversion_create"), {"lists": [news.pk], f"order_{news.pk}": "1"}
    )
    assert response.status_code == 200
    assert "1 list will be deleted" in response.text
    assert "Old members — 2 entries" in response.text


def test_starting_creates_the_conversion_and_locks_the_account(
    tenant: Tenant, django_capture_on_commit_callbacks: object
) -> None:
    with tenant:
        news = make_list("News", [JAN])
    client = tenant.client("admin")
    response = client.post(
        reverse("conversion_create"),
        {"lists": [news.pk], f"order_{news.pk}": "1", "confirmed": "yes"},
    )
    with tenant:
        conversion = Conversion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("conversion", args=[conversion.pk])
    assert tenant.client("marketer").get(reverse("dashboard")).status_code == 423


def test_the_list_order_decides_the_merge_order(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        first = make_list("A", [JAN])
        second = make_list("B", [JAN])
    tenant.client("admin").post(
        reverse("conversion_create"),
        {
            "lists": [first.pk, second.pk],
            f"order_{first.pk}": "2",
            f"order_{second.pk}": "1",
            "confirmed": "yes",
        },
    )
    with tenant:
        steps = list(Conversion.objects.get().steps.values_list("list_name", flat=True))
    assert steps == ["B", "A"]


def test_starting_without_a_list_explains_why(tenant: Tenant) -> None:
    response = tenant.client("admin").post(reverse("conversion_create"), {}, follow=True)
    assert "Select at least one list to merge." in response.text


def test_the_review_page_shows_counts_conflicts_and_drops(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    response = tenant.client("admin").get(reverse("conversion_step", args=[conversion.pk, 1]))
    assert response.status_code == 200
    assert "Johannes" in response.text and "Mismatch" in response.text
    assert "Choosing <strong>list</strong> drops 1 database value" in response.text


def test_the_conflicts_table_searches(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    url = reverse("conversion_step", args=[conversion.pk, 1])
    response = tenant.client("admin").get(url, {"q": "nobody@"})
    assert "No conflicts match." in response.text


def test_the_dropped_preview_counts_overrides(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    url = reverse("conversion_step_dropped", args=[conversion.pk, 1])
    response = tenant.client("admin").get(url, {"choice": "database", "override_city": "list"})
    assert "drops 1 value." in response.text


def test_invalid_entries_download(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    response = tenant.client("admin").get(
        reverse("conversion_step_invalid", args=[conversion.pk, 1])
    )
    body = response.getvalue().decode()
    assert "broken" in body and "jan@example.be" not in body


def test_resolving_on_the_page_merges_and_confirming_finishes(
    tenant: Tenant, driver: Driver, django_capture_on_commit_callbacks: object
) -> None:
    conversion = _run_to_review(tenant, driver)
    client = tenant.client("admin")
    with driver.capture(execute=True):
        client.post(
            reverse("conversion_step_resolve", args=[conversion.pk, 1]),
            {"choice": "database", "override_city": "list"},
        )
    assert (
        "Confirm the conversion"
        in client.get(reverse("conversion_confirm", args=[conversion.pk])).text
    )
    with driver.capture(execute=True):
        client.post(
            reverse("conversion_confirm_final", args=[conversion.pk]), {"understood": "yes"}
        )
    report = client.get(reverse("conversion_report", args=[conversion.pk]))
    assert report.status_code == 200 and "Contacts updated" in report.text
    csv = client.get(reverse("conversion_report_csv", args=[conversion.pk])).content.decode()
    assert "News" in csv


def test_confirming_needs_the_box_ticked(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    with tenant:
        assert driver.resolve(conversion, 1, "list").status == "merged"
    response = tenant.client("admin").post(
        reverse("conversion_confirm_final", args=[conversion.pk]), follow=True
    )
    assert "Tick the box" in response.text
    with tenant:
        assert Conversion.objects.get().status == "confirming"


def test_cancelling_on_the_page(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    response = tenant.client("admin").post(
        reverse("conversion_cancel", args=[conversion.pk]), follow=True
    )
    assert "the account is as it was before" in response.text
    with tenant:
        assert Conversion.objects.get().status == "cancelled"


def test_a_scheduled_campaign_can_be_cancelled(tenant: Tenant) -> None:
    with tenant:
        news = make_list("News", [JAN])
        campaign = Campaign.objects.create(name="Spring", status="scheduled")
        CampaignList.objects.create(campaign=campaign, list=news)
    client = tenant.client("admin")
    assert "Spring" in client.get(reverse("converter")).text
    client.post(reverse("converter_campaign_cancel", args=[campaign.pk]))
    with tenant:
        campaign.refresh_from_db()
    assert campaign.status == "cancelled"


def test_a_list_exports_as_csv_with_formulas_neutralised(tenant: Tenant) -> None:
    with tenant:
        news = make_list("News", [{"email": "jan@example.be", "first_name": "=SUM(A1)"}])
    response = tenant.client("admin").get(reverse("converter_list_export", args=[news.pk]))
    body = response.getvalue().decode()
    assert "jan@example.be" in body and "'=SUM(A1)" in body


def test_the_holder_keeps_working_while_others_see_the_lock(tenant: Tenant, driver: Driver) -> None:
    _run_to_review(tenant, driver)
    assert tenant.client("admin").get(reverse("dashboard")).status_code == 200
    locked = tenant.client("viewer").get(reverse("dashboard"))
    assert locked.status_code == 423
    assert f"being converted by {tenant.admin.email}" in locked.text


def test_other_members_cannot_sign_in_during_a_conversion(tenant: Tenant, driver: Driver) -> None:
    _run_to_review(tenant, driver)
    from tests.conftest import PASSWORD

    response = Client().post(
        reverse("login"), {"username": tenant.marketer.email, "password": PASSWORD}
    )
    assert response.status_code == 423
    assert "being converted by" in response.text


def test_the_lock_ends_with_the_conversion(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    with tenant:
        driver.cancel(conversion)
    assert tenant.client("viewer").get(reverse("dashboard")).status_code == 200


def test_an_expired_lease_unlocks_the_account(tenant: Tenant, driver: Driver) -> None:
    conversion = _run_to_review(tenant, driver)
    with tenant:
        Conversion.objects.filter(pk=conversion.pk).update(lease_expires_at=None)
    assert tenant.client("viewer").get(reverse("dashboard")).status_code == 200


def test_another_accounts_conversion_answers_404(
    tenant: Tenant, outsider: Tenant, driver: Driver
) -> None:
    conversion = _run_to_review(tenant, driver)
    with outsider:
        other_list = ContactList.objects.create(name="Theirs")
        campaign = Campaign.objects.create(name="Theirs", status="scheduled")
    client = outsider.client("admin")
    for url in _page_urls(conversion):
        assert client.get(url).status_code == 404, url
    for url in _post_urls(conversion):
        assert client.post(url, {"choice": "list", "list": other_list.pk}).status_code == 404, url
    assert client.post(reverse("converter_campaign_cancel", args=[campaign.pk])).status_code == 302
    own = tenant.client("admin")
    assert own.get(reverse("converter_list_export", args=[other_list.pk])).status_code == 404
    assert own.post(reverse("converter_campaign_cancel", args=[campaign.pk])).status_code == 404
    with tenant_atomic(outsider.account):
        assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_other_roles_get_404_on_every_conversion_page(
    tenant: Tenant, driver: Driver, role: str
) -> None:
    conversion = _run_to_review(tenant, driver)
    with tenant:
        Conversion.objects.filter(pk=conversion.pk).update(lease_expires_at=None)
    client = tenant.client(role)
    for url in _page_urls(conversion):
        assert client.get(url).status_code == 404, url
    for url in _post_urls(conversion):
        assert client.post(url).status_code == 404, url


def test_a_running_step_shows_a_polling_progress_bar(
    tenant: Tenant, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from converter import services

    monkeypatch.setattr(services, "_enqueue", lambda conversion: None)
    with tenant:
        news = make_list("News", [JAN])
        conversion = driver.start([news])
    client = tenant.client("admin")
    page = client.get(reverse("conversion", args=[conversion.pk]))
    assert '<progress id="progress-bar"' in page.text
    partial = client.get(reverse("conversion_progress", args=[conversion.pk]))
    assert 'hx-trigger="every 1s"' in partial.text
    assert "HX-Refresh" not in partial.headers


def test_a_stopped_worker_offers_resume(
    tenant: Tenant, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from converter import services

    monkeypatch.setattr(services, "_enqueue", lambda conversion: None)
    with tenant:
        news = make_list("News", [JAN])
        conversion = driver.start([news])
        Conversion.objects.filter(pk=conversion.pk).update(lease_expires_at=None)
    client = tenant.client("admin")
    assert "The work has stopped" in client.get(reverse("conversion", args=[conversion.pk])).text
    monkeypatch.undo()
    with driver.capture(execute=True):
        client.post(reverse("conversion_resume", args=[conversion.pk]))
    with tenant:
        assert Conversion.objects.get(pk=conversion.pk).status == "review"
