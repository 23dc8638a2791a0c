from __future__ import annotations

import io
import json
import zipfile

from django.db import connection

from consent.models import ConsentEvent, DataSubjectRequest
from consent.services import Evidence, consent_event_record
from contacts.models import Activity, Contact, ContactList, ListEntry, Source, Suppression
from contacts.normalize import email_hash
from tests.conftest import Tenant
from tests.consent.conftest import make_contact, purpose


def _rich_contact(tenant: Tenant) -> Contact:
    contact = make_contact(
        tenant, email="eva@example.org", first_name="Eva", last_name="=Peeters", city="Gent"
    )
    with tenant:
        lst = ContactList.objects.create(name="Friends")
        Source.objects.create(contact=contact, list=lst, name="Friends")
        ListEntry.objects.create(
            list=lst, email="Eva@Example.org", email_normalized="eva@example.org", first_name="Eva"
        )
        Activity.objects.create(contact=contact, kind="purchase", data={"item": "ticket"})
        consent_event_record(
            contact_id=contact.pk,
            purpose=purpose(),
            status="granted",
            legal_basis="consent",
            evidence=Evidence(ip="192.0.2.5", user_agent="Firefox", channel="web"),
        )
    return contact


def _zip(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def test_the_api_export_holds_everything_as_json_and_csv(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    response = tenant.api("marketer").get(f"/api/v1/contacts/{contact.pk}/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = _zip(response.content)
    data = json.loads(archive.read("data.json"))
    assert data["contact"][0]["first_name"] == "Eva"
    assert data["activities"][0]["data"] == {"item": "ticket"}
    assert data["consent_events"][0]["ip"] == "192.0.2.5"
    assert data["list_entries"][0]["list_name"] == "Friends"
    assert {"contact.csv", "consent_events.csv", "sources.csv"} <= set(archive.namelist())


def test_the_export_csv_neutralises_formulas(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    response = tenant.api("marketer").get(f"/api/v1/contacts/{contact.pk}/export/")
    assert "'=Peeters" in _zip(response.content).read("contact.csv").decode()


def test_an_export_is_logged_with_a_due_date_one_month_later(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    tenant.client("marketer").get(f"/consent/contacts/{contact.pk}/export/")
    with tenant:
        request = DataSubjectRequest.objects.get()
    assert (request.kind, request.status, request.contact_id_ref) == ("export", "done", contact.pk)
    assert 28 <= (request.due_at - request.requested_at).days <= 31


def test_the_export_of_another_accounts_contact_is_404(tenant: Tenant, outsider: Tenant) -> None:
    contact = _rich_contact(outsider)
    assert tenant.api("admin").get(f"/api/v1/contacts/{contact.pk}/export/").status_code == 404
    assert tenant.client("admin").get(f"/consent/contacts/{contact.pk}/export/").status_code == 404


def test_erasure_removes_the_personal_data_everywhere(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    response = tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/")
    assert response.status_code == 200
    with tenant:
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert not ListEntry.objects.exists()
        assert not Activity.objects.exists() and not Source.objects.exists()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM contacts_contact WHERE first_name = 'Eva' OR city = 'Gent'"
            )
            assert cursor.fetchone() == (0,)


def test_erasure_scrubs_the_ledger_evidence_and_records_itself(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/")
    with tenant:
        events = list(ConsentEvent.objects.filter(contact_id=contact.pk).order_by("id"))
    assert [(e.status, e.ip, e.user_agent) for e in events] == [
        ("granted", None, ""),
        ("withdrawn", None, ""),
    ]
    assert events[1].channel == "erasure"


def test_erasure_keeps_the_address_only_as_a_hash(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/")
    with tenant:
        suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason) == (None, "erased")
    assert suppression.email_hash == email_hash("eva@example.org")


def test_erasure_is_logged_as_done(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    body = tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/").json()
    assert (body["kind"], body["status"], body["contact"]) == ("erasure", "done", contact.pk)


def test_erasure_needs_an_admin_key(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    assert tenant.api("marketer").post(f"/api/v1/contacts/{contact.pk}/erase/").status_code == 403


def test_erasing_another_accounts_contact_is_404(tenant: Tenant, outsider: Tenant) -> None:
    contact = _rich_contact(outsider)
    assert tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/").status_code == 404
    assert (
        tenant.client("admin")
        .post(f"/consent/contacts/{contact.pk}/erase/", {"confirm": "erase"})
        .status_code
        == 404
    )
    with outsider:
        assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_erase_page_asks_first_and_counts(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    page = tenant.client("admin").get(f"/consent/contacts/{contact.pk}/erase/")
    assert page.status_code == 200 and "1 activities" in page.text
    with tenant:
        assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_erase_page_needs_the_confirmation_word(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    tenant.client("admin").post(f"/consent/contacts/{contact.pk}/erase/", {"confirm": "yes"})
    with tenant:
        assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_erase_page_erases_after_confirmation(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    response = tenant.client("admin").post(
        f"/consent/contacts/{contact.pk}/erase/", {"confirm": "erase"}
    )
    assert response.status_code == 302
    with tenant:
        assert not Contact.objects.filter(pk=contact.pk).exists()


def test_the_requests_page_lists_requests_with_due_dates(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    tenant.api("admin").get(f"/api/v1/contacts/{contact.pk}/export/")
    page = tenant.client("viewer").get("/consent/requests/")
    assert page.status_code == 200 and "Access (export)" in page.text


def test_the_requests_api_lists_only_this_accounts_requests(
    tenant: Tenant, outsider: Tenant
) -> None:
    contact = _rich_contact(outsider)
    outsider.api("admin").get(f"/api/v1/contacts/{contact.pk}/export/")
    assert tenant.api("viewer").get("/api/v1/data-subject-requests/").json()["results"] == []


def test_a_rectification_request_is_logged_open_then_marked_done(tenant: Tenant) -> None:
    contact = _rich_contact(tenant)
    client = tenant.client("marketer")
    client.post(f"/consent/contacts/{contact.pk}/", {"action": "rectification"})
    with tenant:
        request = DataSubjectRequest.objects.get()
    assert (request.kind, request.status) == ("rectification", "open")
    client.post(f"/consent/requests/{request.pk}/done/")
    with tenant:
        request.refresh_from_db()
    assert request.status == "done" and request.completed_at is not None


def test_another_accounts_request_cannot_be_marked_done(tenant: Tenant, outsider: Tenant) -> None:
    contact = _rich_contact(outsider)
    outsider.client("marketer").post(
        f"/consent/contacts/{contact.pk}/", {"action": "rectification"}
    )
    with outsider:
        request = DataSubjectRequest.objects.get()
    response = tenant.client("admin").post(f"/consent/requests/{request.pk}/done/")
    assert response.status_code == 404


def test_erasure_also_scrubs_the_ledger_of_contacts_merged_into_it(tenant: Tenant) -> None:
    from contacts.models import ContactMerge

    contact = _rich_contact(tenant)
    twin = make_contact(tenant, email="eva.old@example.org")
    with tenant:
        consent_event_record(
            contact_id=twin.pk,
            purpose=purpose(),
            status="granted",
            legal_basis="consent",
            evidence=Evidence(ip="192.0.2.99", user_agent="Old browser"),
        )
        twin_id = twin.pk
        ContactMerge.objects.create(kept_contact=contact, merged_contact_id=twin_id)
        twin.delete()
    tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/")
    with tenant:
        merged = ConsentEvent.objects.get(contact_id=twin_id)
    assert (merged.ip, merged.user_agent) == (None, "")


def test_erasure_drops_rejected_import_rows_that_carry_the_address(tenant: Tenant) -> None:
    from contacts.models import ImportJob, ImportReject

    contact = _rich_contact(tenant)
    with tenant:
        job = ImportJob.objects.create(
            target="contacts", name="upload", original_name="a.csv", file_format="csv"
        )
        ImportReject.objects.create(job=job, line=2, reason="bad", values=[" EVA@example.org", "x"])
        ImportReject.objects.create(job=job, line=3, reason="bad", values=["other@example.org"])
    tenant.api("admin").post(f"/api/v1/contacts/{contact.pk}/erase/")
    with tenant:
        assert list(ImportReject.objects.values_list("line", flat=True)) == [3]
