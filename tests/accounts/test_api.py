from __future__ import annotations

from django.test import Client

from accounts.models import ApiKey
from accounts.services import api_key_create
from accounts.tenancy import tenant_atomic
from contacts.models import ContactList
from tests.conftest import Tenant


def test_the_api_refuses_a_missing_or_wrong_key_in_json(tenant: Tenant) -> None:
    assert Client().get("/api/v1/lists/").status_code == 401
    bad = Client(HTTP_AUTHORIZATION="Bearer crm_1_notarealkeynotarealkeynotarealkey").get(
        "/api/v1/lists/"
    )
    assert bad.status_code == 401
    assert bad.json() == {"message": "Invalid API key.", "details": {}}


def test_a_key_of_one_account_with_another_accounts_id_is_refused(
    tenant: Tenant, outsider: Tenant
) -> None:
    _, key = api_key_create(account=tenant.account, role="admin")
    forged = key.replace(f"crm_{tenant.account.pk}_", f"crm_{outsider.account.pk}_")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {forged}").get("/api/v1/lists/").status_code == 401


def test_a_revoked_key_stops_working(tenant: Tenant) -> None:
    api = tenant.api("marketer")
    assert api.get("/api/v1/lists/").status_code == 200
    with tenant:
        ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert api.get("/api/v1/lists/").status_code == 401


def test_viewers_read_and_marketers_write(tenant: Tenant) -> None:
    assert (
        tenant.api("viewer")
        .post("/api/v1/lists/", {"name": "X"}, content_type="application/json")
        .status_code
        == 403
    )
    created = tenant.api("marketer").post(
        "/api/v1/lists/", {"name": "Members 2025"}, content_type="application/json"
    )
    assert created.status_code == 201
    assert (
        tenant.api("viewer").get(f"/api/v1/lists/{created.json()['id']}/").json()["name"]
        == "Members 2025"
    )


def test_validation_errors_name_the_field(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/lists/", {"name": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid input."
    assert "name" in response.json()["details"]


def test_malformed_json_is_a_clear_400(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/lists/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


def test_lists_are_paginated_with_a_cursor(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        ContactList.objects.bulk_create(ContactList(name=f"List {n}") for n in range(5))
    first = tenant.api("viewer").get("/api/v1/lists/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = tenant.api("viewer").get(first["next"]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])


def test_the_openapi_schema_and_docs_render(db: None) -> None:
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/lists/" in schema.content
    assert Client().get("/api/docs/").status_code == 200
