from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact, ContactList, ImportJob, ListEntry, Source
from tests.conftest import Tenant
from tests.contacts.import_helpers import csv_bytes, media

__all__ = ["media"]


@pytest.fixture
def people(tenant: Tenant) -> ContactList:
    with tenant:
        return ContactList.objects.create(name="People")


def post_file(api: Any, url: str, content: bytes, filename: str = "people.csv", **data: Any) -> Any:
    return api.post(url, {"file": SimpleUploadedFile(filename, content), **data})


def test_a_file_posted_to_a_list_is_imported(
    tenant: Tenant, people: ContactList, django_capture_on_commit_callbacks: Any
) -> None:
    api = tenant.api("marketer")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            api,
            f"/api/v1/lists/{people.pk}/imports/",
            csv_bytes("Vorname,E-Mail,Status", "Jörg,j@example.de,unsubscribed", "X,broken,"),
        )
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    detail = api.get(response["Location"]).json()
    assert {
        k: detail[k] for k in ("status", "progress", "rows_total", "rows_imported", "rows_rejected")
    } == {
        "status": "succeeded",
        "progress": 1.0,
        "rows_total": 2,
        "rows_imported": 1,
        "rows_rejected": 1,
    }
    with tenant:
        assert list(ListEntry.objects.values_list("first_name", "status")) == [
            ("Jörg", "unsubscribed")
        ]
    errors: Any = api.get(detail["errors_url"])
    assert errors["Content-Type"].startswith("text/csv")
    text = b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()
    assert text[0] == "line,outcome,reason,Vorname,E-Mail,Status" and text[1].startswith(
        "3,rejected,"
    )


def test_an_explicit_mapping_overrides_the_suggestions(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(
            tenant.api("marketer"),
            "/api/v1/contacts/imports/",
            csv_bytes("Mail,Bedrijf,Notes", "a@example.be,Acme,n/a"),
            mapping=json.dumps({"Mail": "email", "Notes": None, "Bedrijf": "custom:bedrijf"}),
            name="CRM export",
        )
    assert response.status_code == 202, response.json()
    with tenant:
        contact = Contact.objects.get()
        assert (contact.company_name, contact.custom_fields) == ("", {"bedrijf": "Acme"})
        assert list(Source.objects.values_list("name", flat=True)) == ["CRM export"]


def test_a_mapping_to_an_unknown_field_is_a_400_with_details(
    tenant: Tenant, people: ContactList, media: Any
) -> None:
    response = post_file(
        tenant.api("marketer"),
        f"/api/v1/lists/{people.pk}/imports/",
        csv_bytes("email,x", "a@example.be,1"),
        mapping=json.dumps({"x": "shoe_size"}),
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "mapping": {"x": "“shoe_size” is not a field you can import into here."}
    }
    with tenant:
        assert ImportJob.objects.count() == 0
    assert [p for p in media.rglob("*") if p.is_file()] == []


def test_a_mapping_that_is_not_json_is_a_400(tenant: Tenant, people: ContactList) -> None:
    response = post_file(
        tenant.api("marketer"),
        f"/api/v1/lists/{people.pk}/imports/",
        csv_bytes("email", "a@b.be"),
        mapping="{nope",
    )
    assert response.status_code == 400 and "mapping" in response.json()["details"]


def test_a_request_without_a_file_is_a_400(tenant: Tenant, people: ContactList) -> None:
    response = tenant.api("marketer").post(f"/api/v1/lists/{people.pk}/imports/", {})
    assert response.status_code == 400 and "file" in response.json()["details"]


def test_a_viewer_key_cannot_import(tenant: Tenant, people: ContactList) -> None:
    response = post_file(
        tenant.api("viewer"), f"/api/v1/lists/{people.pk}/imports/", csv_bytes("email", "a@b.be")
    )
    assert response.status_code == 403


def test_another_accounts_list_is_not_found(tenant: Tenant, outsider: Tenant) -> None:
    with outsider:
        other = ContactList.objects.create(name="Theirs")
    response = post_file(
        tenant.api("admin"), f"/api/v1/lists/{other.pk}/imports/", csv_bytes("email", "a@b.be")
    )
    assert response.status_code == 404 and response.json()["message"]


@pytest.mark.parametrize("suffix", ["", "errors/"])
def test_another_accounts_import_is_not_found(
    tenant: Tenant, outsider: Tenant, suffix: str, django_capture_on_commit_callbacks: Any
) -> None:
    with outsider:
        other = ContactList.objects.create(name="Theirs")
    with django_capture_on_commit_callbacks(execute=True):
        created = post_file(
            outsider.api("admin"),
            f"/api/v1/lists/{other.pk}/imports/",
            csv_bytes("email", "a@b.be"),
        )
    job_id = created.json()["id"]
    assert tenant.api("admin").get(f"/api/v1/imports/{job_id}/{suffix}").status_code == 404


def test_the_import_endpoints_are_in_the_schema(client: Any, db: None) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/lists/{list_id}/imports/",
        "/api/v1/contacts/imports/",
        "/api/v1/imports/{job_id}/",
        "/api/v1/imports/{job_id}/errors/",
    ):
        assert path in schema["paths"]
