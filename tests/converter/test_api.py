from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.tenancy import tenant_atomic
from contacts.models import Contact, ContactList
from converter.models import Conversion
from tests.conftest import Tenant
from tests.converter.conftest import Driver
from tests.converter.helpers import make_contact, make_list

JAN = {"email": "jan@example.be", "first_name": "Jan", "city": "Gent"}


def _post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def _lists(tenant: Tenant) -> tuple[ContactList, ContactList]:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes")
        return make_list("News", [JAN]), make_list("Events", [{**JAN, "first_name": "Hans"}])


def test_an_unattended_conversion_runs_every_step(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    news, events = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            api,
            "/api/v1/conversions/",
            {
                "lists": [news.pk, events.pk],
                "choices": {str(events.pk): "database"},
                "default_choice": "list",
                "unattended": True,
            },
        )
    assert response.status_code == 201
    conversion_id = response.json()["id"]
    body = api.get(f"/api/v1/conversions/{conversion_id}/").json()
    assert body["status"] == "confirming"
    assert body["progress"] == 1.0
    assert [(s["position"], s["list"], s["status"]) for s in body["steps"]] == [
        (1, news.pk, "merged"),
        (2, events.pk, "merged"),
    ]
    assert body["steps"][1]["counts"] == {
        "entries": 1,
        "new": 0,
        "identical": 0,
        "conflicting_contacts": 1,
        "fill_conflicts": 0,
        "mismatch_conflicts": 1,
        "unsubscribed": 0,
        "invalid": 0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = _post(api, f"/api/v1/conversions/{conversion_id}/confirm/")
    assert confirmed.status_code == 200
    assert api.get(f"/api/v1/conversions/{conversion_id}/").json()["status"] == "done"
    with tenant:
        assert Contact.objects.get().first_name == "Jan"


def test_a_step_waits_for_its_choice_then_merges(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    news, _ = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_id = _post(api, "/api/v1/conversions/", {"lists": [news.pk]}).json()["id"]
    assert api.get(f"/api/v1/conversions/{conversion_id}/").json()["status"] == "review"
    conflicts = api.get(f"/api/v1/conversions/{conversion_id}/steps/1/conflicts/").json()
    assert [
        (c["field"], c["database_value"], c["list_value"], c["kind"]) for c in conflicts["results"]
    ] == [
        ("city", "", "Gent", "fill"),
        ("first_name", "Johannes", "Jan", "mismatch"),
    ] or sorted(
        (c["field"], c["database_value"], c["list_value"], c["kind"]) for c in conflicts["results"]
    ) == [("city", "", "Gent", "fill"), ("first_name", "Johannes", "Jan", "mismatch")]
    with django_capture_on_commit_callbacks(execute=True):
        resolved = _post(
            api,
            f"/api/v1/conversions/{conversion_id}/steps/1/resolve/",
            {"choice": "database", "field_overrides": {"city": "list"}},
        )
    assert resolved.status_code == 200
    body = api.get(f"/api/v1/conversions/{conversion_id}/").json()
    assert body["status"] == "confirming"
    assert body["steps"][0]["dropped_values"] == 1


def test_conflicts_filter_by_kind(tenant: Tenant, django_capture_on_commit_callbacks: Any) -> None:
    news, _ = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_id = _post(api, "/api/v1/conversions/", {"lists": [news.pk]}).json()["id"]
    fills = api.get(f"/api/v1/conversions/{conversion_id}/steps/1/conflicts/?kind=fill").json()
    assert [c["field"] for c in fills["results"]] == ["city"]


def test_bad_input_gets_a_json_error(tenant: Tenant) -> None:
    api = tenant.api("admin")
    response = _post(api, "/api/v1/conversions/", {"lists": [], "default_choice": "maybe"})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"lists", "default_choice"}


def test_an_unknown_list_is_refused(tenant: Tenant, outsider: Tenant) -> None:
    with outsider:
        theirs = ContactList.objects.create(name="Theirs")
    response = _post(tenant.api("admin"), "/api/v1/conversions/", {"lists": [theirs.pk]})
    assert response.status_code == 400
    assert response.json()["details"]["lists"] == [f"No list with id {theirs.pk} in this account."]


def test_unattended_without_choices_is_refused(tenant: Tenant) -> None:
    news, _ = _lists(tenant)
    response = _post(
        tenant.api("admin"), "/api/v1/conversions/", {"lists": [news.pk], "unattended": True}
    )
    assert response.status_code == 400
    assert "choice" in response.json()["details"]["non_field_errors"][0]


def test_a_forgotten_list_is_added_over_the_api(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    news, events = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_id = _post(
            api,
            "/api/v1/conversions/",
            {"lists": [news.pk], "default_choice": "list", "unattended": True},
        ).json()["id"]
        added = _post(api, f"/api/v1/conversions/{conversion_id}/lists/", {"list": events.pk})
    assert added.status_code == 201
    assert [s["list"] for s in added.json()["steps"]] == [news.pk, events.pk]


def test_cancel_over_the_api(tenant: Tenant, django_capture_on_commit_callbacks: Any) -> None:
    news, _ = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_id = _post(api, "/api/v1/conversions/", {"lists": [news.pk]}).json()["id"]
    assert (
        _post(api, f"/api/v1/conversions/{conversion_id}/cancel/").json()["status"] == "cancelled"
    )


def test_other_keys_get_423_while_the_starting_key_goes_on(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    news, _ = _lists(tenant)
    api = tenant.api("admin")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_id = _post(api, "/api/v1/conversions/", {"lists": [news.pk]}).json()["id"]
    assert api.get(f"/api/v1/conversions/{conversion_id}/").status_code == 200
    locked = tenant.api("marketer").get("/api/v1/account/")
    assert locked.status_code == 423
    assert "being converted" in locked.json()["message"]


def test_a_conversion_started_in_the_browser_locks_every_key(
    tenant: Tenant, driver: Driver
) -> None:
    news, _ = _lists(tenant)
    with tenant:
        driver.start([news])
    assert tenant.api("admin").get("/api/v1/account/").status_code == 423


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_only_admin_keys_use_conversions(tenant: Tenant, role: str) -> None:
    news, _ = _lists(tenant)
    api = tenant.api(role)
    assert api.get("/api/v1/conversions/").status_code == 403
    assert _post(api, "/api/v1/conversions/", {"lists": [news.pk]}).status_code == 403


def test_another_accounts_conversion_answers_404(
    tenant: Tenant, outsider: Tenant, driver: Driver
) -> None:
    news, _ = _lists(tenant)
    with tenant:
        conversion = driver.start([news])
        Conversion.objects.filter(pk=conversion.pk).update(lease_expires_at=None)
    api = outsider.api("admin")
    base = f"/api/v1/conversions/{conversion.pk}/"
    assert api.get(base).status_code == 404
    assert api.get(base + "steps/1/conflicts/").status_code == 404
    assert _post(api, base + "steps/1/resolve/", {"choice": "list"}).status_code == 404
    assert _post(api, base + "lists/", {"list": news.pk}).status_code == 404
    for action in ("confirm", "cancel", "resume"):
        assert _post(api, base + f"{action}/").status_code == 404
    with tenant_atomic(tenant.account):
        assert Conversion.objects.get(pk=conversion.pk).status == "review"
