from __future__ import annotations

from consent.models import ConsentEvent
from tests.conftest import Tenant
from tests.consent.conftest import make_contact


def test_purposes_are_listed(tenant: Tenant) -> None:
    response = tenant.api("viewer").get("/api/v1/purposes/")
    assert response.status_code == 200
    assert {p["key"] for p in response.json()["results"]} == {"sales_service", "e_marketing"}


def test_subscription_types_list_the_four_defaults(tenant: Tenant) -> None:
    results = tenant.api("viewer").get("/api/v1/subscription-types/").json()["results"]
    assert len(results) == 4


def test_a_subscription_type_is_created(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/subscription-types/",
        {"key": "webinars", "name": "Webinars", "translations": {"nl": {"name": "Webinars"}}},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["key"] == "webinars"


def test_a_duplicate_subscription_type_key_is_a_400(tenant: Tenant) -> None:
    tenant.api("marketer").get("/api/v1/subscription-types/")
    response = tenant.api("marketer").post(
        "/api/v1/subscription-types/",
        {"key": "newsletter", "name": "Again"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "key" in response.json()["details"]


def test_a_viewer_cannot_create_a_subscription_type(tenant: Tenant) -> None:
    response = tenant.api("viewer").post(
        "/api/v1/subscription-types/", {"key": "x", "name": "X"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_an_event_is_appended_to_the_ledger(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    response = tenant.api("marketer").post(
        f"/api/v1/contacts/{contact.pk}/consents/",
        {
            "purpose": "e_marketing",
            "status": "granted",
            "legal_basis": "consent",
            "ip": "192.0.2.44",
            "text": "form v3",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["ip"]) == ("granted", "192.0.2.44")


def test_the_ledger_lists_newest_first(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    api = tenant.api("marketer")
    for status in ("granted", "withdrawn"):
        api.post(
            f"/api/v1/contacts/{contact.pk}/consents/",
            {"purpose": "e_marketing", "status": status, "legal_basis": "consent"},
            content_type="application/json",
        )
    results = api.get(f"/api/v1/contacts/{contact.pk}/consents/").json()["results"]
    assert [r["status"] for r in results] == ["withdrawn", "granted"]


def test_a_bad_event_names_the_fields(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    response = tenant.api("marketer").post(
        f"/api/v1/contacts/{contact.pk}/consents/",
        {"purpose": "nope", "status": "maybe", "legal_basis": "consent"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert {"purpose", "status"} <= set(response.json()["details"])


def test_another_accounts_ledger_is_404(tenant: Tenant, outsider: Tenant) -> None:
    contact = make_contact(outsider, email="a@example.org")
    api = tenant.api("admin")
    assert api.get(f"/api/v1/contacts/{contact.pk}/consents/").status_code == 404
    response = api.post(
        f"/api/v1/contacts/{contact.pk}/consents/",
        {"purpose": "e_marketing", "status": "granted", "legal_basis": "consent"},
        content_type="application/json",
    )
    assert response.status_code == 404
    with outsider:
        assert not ConsentEvent.objects.exists()
