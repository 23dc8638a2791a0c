from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from accounts.tenancy import tenant_atomic
from contacts import imports
from contacts.models import (
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    ImportReject,
    ListEntry,
    SavedMapping,
    Source,
    Suppression,
)
from contacts.normalize import email_hash
from tests.conftest import Tenant
from tests.contacts.import_helpers import csv_bytes, media, run_import

__all__ = ["media"]


@pytest.fixture
def people(tenant: Tenant) -> ContactList:
    with tenant:
        return ContactList.objects.create(name="People")


def entries(tenant: Tenant, *fields: str) -> list[tuple[Any, ...]]:
    with tenant:
        return sorted(ListEntry.objects.values_list("email_normalized", *fields))


def rejects(tenant: Tenant, job: ImportJob) -> list[tuple[int, str, str]]:
    with tenant:
        return list(
            ImportReject.objects.filter(job=job)
            .order_by("line")
            .values_list("line", "kind", "reason")
        )


def test_a_csv_becomes_list_entries(tenant: Tenant, people: ContactList) -> None:
    job = run_import(
        tenant,
        csv_bytes(
            "Voornaam;Achternaam;E-mail", "Jan;Peeters;JAN@Example.be", "An;Smet;an@example.be"
        ),
        into=people,
    )
    assert (job.status, job.rows_total, job.rows_imported, job.rows_rejected) == (
        "succeeded",
        2,
        2,
        0,
    )
    assert entries(tenant, "first_name", "last_name", "email") == [
        ("an@example.be", "An", "Smet", "an@example.be"),
        ("jan@example.be", "Jan", "Peeters", "JAN@Example.be"),
    ]


def test_a_later_row_of_the_same_address_updates_the_entry(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(
        tenant,
        csv_bytes("email,first_name,city", "jan@example.be,Jan,Gent", "JAN@example.be,,Brussel"),
        into=people,
    )
    assert entries(tenant, "first_name", "city") == [("jan@example.be", "Jan", "Brussel")]


def test_a_reimport_updates_entries_without_clearing_filled_fields(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(tenant, csv_bytes("email,first_name,city", "jan@example.be,Jan,Gent"), into=people)
    run_import(tenant, csv_bytes("email,first_name,city", "jan@example.be,,Antwerpen"), into=people)
    assert entries(tenant, "first_name", "city") == [("jan@example.be", "Jan", "Antwerpen")]


def test_a_contact_import_upserts_contacts_with_the_import_as_source(tenant: Tenant) -> None:
    with tenant:
        Contact.objects.create(email="jan@example.be", first_name="Jan", city="Gent")
    run_import(
        tenant,
        csv_bytes("Prénom,Courriel,Ville", ",jan@example.be,Liège", "Marie,marie@example.fr,Namur"),
        name="Beurs 2024",
    )
    with tenant:
        contacts = sorted(Contact.objects.values_list("email", "first_name", "city"))
        sources = sorted(Source.objects.values_list("contact__email", "name", "list"))
    assert contacts == [("jan@example.be", "Jan", "Liège"), ("marie@example.fr", "Marie", "Namur")]
    assert sources == [
        ("jan@example.be", "Beurs 2024", None),
        ("marie@example.fr", "Beurs 2024", None),
    ]


def test_importing_the_same_file_twice_adds_no_second_contact_or_source(tenant: Tenant) -> None:
    content = csv_bytes("email,first_name", "jan@example.be,Jan")
    run_import(tenant, content, name="Fair")
    run_import(tenant, content, name="Fair")
    with tenant:
        assert (Contact.objects.count(), Source.objects.count()) == (1, 1)


def test_an_invalid_address_is_rejected_with_its_line_reason_and_values(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(
        tenant,
        csv_bytes("email,first_name", "good@example.be,Good", "not-an-address,Bad", ",Empty"),
        into=people,
    )
    assert (job.rows_imported, job.rows_rejected) == (1, 2)
    with tenant:
        rows = list(imports.rejects_rows(job=job))
    assert rows[0] == ["line", "outcome", "reason", "email", "first_name"]
    assert rows[1][:2] == ["3", "rejected"] and "exactly one @" in rows[1][2]
    assert rows[1][3:] == ["not-an-address", "Bad"]
    assert rows[2][:2] == ["4", "rejected"] and "empty" in rows[2][2]


def test_an_internationalised_domain_is_imported_in_its_idna_form(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(tenant, csv_bytes("email", "info@müller.de"), into=people)
    assert entries(tenant, "email") == [("info@xn--mller-kva.de", "info@müller.de")]


def test_a_non_ascii_local_part_is_rejected_not_altered(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(tenant, csv_bytes("email", "jörg@example.de"), into=people)
    assert job.rows_rejected == 1 and entries(tenant) == []
    assert "before the @" in rejects(tenant, job)[0][2]


def test_a_suppressed_address_is_not_subscribed_and_is_reported(
    tenant: Tenant, people: ContactList
) -> None:
    with tenant:
        Suppression.objects.create(
            email=None, email_hash=email_hash("gone@example.be"), reason="erased"
        )
    job = run_import(
        tenant,
        csv_bytes("email,status", "gone@example.be,subscribed", "new@example.be,"),
        into=people,
    )
    assert entries(tenant, "status") == [
        ("gone@example.be", "unsubscribed"),
        ("new@example.be", "subscribed"),
    ]
    assert job.rows_suppressed == 1
    assert rejects(tenant, job)[0][:2] == (2, "suppressed")


def test_a_suppressed_bounce_stays_bounced(tenant: Tenant, people: ContactList) -> None:
    with tenant:
        Suppression.objects.create(
            email="b@example.be", email_hash=email_hash("b@example.be"), reason="bounced"
        )
    run_import(tenant, csv_bytes("email", "b@example.be"), into=people)
    assert entries(tenant, "status") == [("b@example.be", "bounced")]


def test_a_reimport_never_resubscribes_an_unsubscribed_entry_without_a_status_column(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(tenant, csv_bytes("email,status", "a@example.be,unsubscribed"), into=people)
    run_import(tenant, csv_bytes("email,first_name", "a@example.be,An"), into=people)
    assert entries(tenant, "status", "first_name") == [("a@example.be", "unsubscribed", "An")]


def test_status_and_opt_in_columns_are_imported(tenant: Tenant, people: ContactList) -> None:
    run_import(
        tenant,
        csv_bytes(
            "email,status,optin,optin_at,optin_confirmed_at,optin_ip",
            "a@example.be,Bounced,double_confirmed,2024-03-01 10:00,02/03/2024 11:30,192.0.2.7",
        ),
        into=people,
    )
    with tenant:
        entry = ListEntry.objects.get()
    assert (entry.status, entry.optin, entry.optin_ip) == (
        "bounced",
        "double_confirmed",
        "192.0.2.7",
    )
    assert entry.optin_at is not None and entry.optin_at.isoformat() == "2024-03-01T09:00:00+00:00"
    assert entry.optin_confirmed_at is not None and entry.optin_confirmed_at.day == 2


def test_an_unknown_status_rejects_the_row(tenant: Tenant, people: ContactList) -> None:
    job = run_import(tenant, csv_bytes("email,status", "a@example.be,maybe"), into=people)
    assert job.rows_rejected == 1 and "not a status" in rejects(tenant, job)[0][2]


def test_a_too_long_value_rejects_the_row_instead_of_being_cut(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(
        tenant, csv_bytes("email,postal_code", "a@example.be," + "9" * 30), into=people
    )
    assert job.rows_rejected == 1 and "longer than 20" in rejects(tenant, job)[0][2]


def test_a_custom_field_is_created_when_asked_and_filled(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(
        tenant,
        csv_bytes("email,Lidnummer", "a@example.be,A-17"),
        into=people,
        mapping={"email": "email", "Lidnummer": "custom:lidnummer"},
    )
    with tenant:
        assert list(CustomField.objects.values_list("key", "label")) == [("lidnummer", "Lidnummer")]
    assert entries(tenant, "custom_fields") == [("a@example.be", {"lidnummer": "A-17"})]


def test_typed_custom_fields_are_checked(tenant: Tenant, people: ContactList) -> None:
    with tenant:
        CustomField.objects.create(key="visits", label="Visits", type="number")
    job = run_import(
        tenant,
        csv_bytes("email,visits", "a@example.be,3", "b@example.be,many"),
        into=people,
        mapping={"email": "email", "visits": "custom:visits"},
    )
    assert entries(tenant, "custom_fields") == [("a@example.be", {"visits": 3})]
    assert "not a number" in rejects(tenant, job)[0][2]


def test_headers_in_dutch_french_and_german_are_recognised(tenant: Tenant) -> None:
    with tenant:
        suggestion = imports.mapping_suggest(
            headers=[
                "Voornaam",
                "Prénom",
                "Vorname",
                "E-Mail-Adresse",
                "Postleitzahl",
                "Woonplaats",
                "Notities",
            ],
            target_kind="list",
        )
    assert (
        suggestion
        == {
            "Voornaam": "first_name",
            "E-Mail-Adresse": "email",
            "Postleitzahl": "postal_code",
            "Woonplaats": "city",
        }
        | {}
    )  # one column per field: Prénom and Vorname are left for the user to choose


def test_each_language_maps_its_own_names(tenant: Tenant) -> None:
    with tenant:
        for headers in (
            ["Voornaam", "E-mail"],
            ["Prénom", "Courriel"],
            ["Vorname", "E-Mail-Adresse"],
        ):
            assert sorted(
                imports.mapping_suggest(headers=headers, target_kind="contacts").values()
            ) == [
                "email",
                "first_name",
            ]


def test_a_misspelt_header_is_suggested_by_similarity(tenant: Tenant) -> None:
    with tenant:
        assert imports.mapping_suggest(headers=["Achtername"], target_kind="list") == {
            "Achtername": "last_name"
        }


def test_a_saved_mapping_is_suggested_for_the_same_headers(tenant: Tenant) -> None:
    with tenant:
        imports.mapping_save(
            name="Shop export", mapping={"Klantnr": "custom:klantnr", "Mail": "email"}
        )
        saved = SavedMapping.objects.get().mapping
        suggestion = imports.mapping_suggest(
            headers=["Mail", "Klantnr"], target_kind="list", saved=saved
        )
    assert suggestion == {"Mail": "email", "Klantnr": "custom:klantnr"}


def test_windows_1252_is_detected(tenant: Tenant, people: ContactList) -> None:
    job = run_import(
        tenant,
        csv_bytes("email;first_name", "z@example.be;Zoë “Zo”", encoding="cp1252"),
        into=people,
    )
    assert job.encoding == "cp1252"
    assert entries(tenant, "first_name") == [("z@example.be", "Zoë “Zo”")]


def test_latin_1_is_detected(tenant: Tenant, people: ContactList) -> None:
    job = run_import(
        tenant, csv_bytes("email\tcity", "z@example.be\tLiège", encoding="latin-1"), into=people
    )
    assert job.encoding in ("latin-1", "cp1252")
    assert entries(tenant, "city") == [("z@example.be", "Liège")]


def test_utf8_with_a_bom_is_read_without_it(tenant: Tenant, people: ContactList) -> None:
    job = run_import(tenant, "\ufeffemail,city\r\nz@example.be,Köln\r\n".encode(), into=people)
    assert job.encoding == "utf-8-sig" and job.headers == ["email", "city"]
    assert entries(tenant, "city") == [("z@example.be", "Köln")]


def test_quoted_new_lines_stay_in_their_value(tenant: Tenant, people: ContactList) -> None:
    job = run_import(
        tenant,
        csv_bytes(
            "email,street,city",
            'a@example.be,"Kerkstraat 1\nbus 2",Gent',
            "b@example.be,Dorp 3,Aalst",
        ),
        into=people,
    )
    assert entries(tenant, "street") == [
        ("a@example.be", "Kerkstraat 1\nbus 2"),
        ("b@example.be", "Dorp 3"),
    ]
    assert job.rows_rejected == 0


def test_an_xlsx_workbook_is_imported(tenant: Tenant, people: ContactList) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["E-mail", "Naam", "Postcode"])
    sheet.append(["a@example.be", None, 1000])
    sheet.append(["b@example.be"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(
        tenant,
        buffer.getvalue(),
        filename="people.xlsx",
        into=people,
        mapping={"E-mail": "email", "Postcode": "postal_code"},
    )
    assert (job.file_format, job.rows_imported, job.rows_rejected) == ("xlsx", 2, 0)
    assert entries(tenant, "postal_code") == [("a@example.be", "1000"), ("b@example.be", "")]


def test_a_large_file_is_applied_in_chunks_with_the_same_result(
    tenant: Tenant, people: ContactList, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    lines = [f"p{i % 40}@example.be,Name {i}" for i in range(100)] + ["broken,x"]
    job = run_import(tenant, csv_bytes("email,first_name", *lines), into=people)
    assert (job.status, job.progress, job.rows_total) == ("succeeded", 1.0, 101)
    assert (job.rows_rejected, len(entries(tenant))) == (1, 40)
    assert ("p0@example.be", "Name 80") in entries(tenant, "first_name")


def test_values_with_tabs_backslashes_and_line_breaks_are_stored_as_they_are(
    tenant: Tenant, people: ContactList
) -> None:
    content = csv_bytes(
        "email;street;city",
        'a@example.be;"Kerkstraat 1\nbus 2";"Gent\\Centrum"',
        'b@example.be;"Markt\t3\rA";\\N',
        newline="\n",
    )
    run_import(tenant, content, into=people)
    assert entries(tenant, "street", "city") == [
        ("a@example.be", "Kerkstraat 1\nbus 2", "Gent\\Centrum"),
        ("b@example.be", "Markt\t3\rA", "\\N"),
    ]


def test_contacts_repeated_across_chunks_take_the_last_values_and_one_source(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of new addresses take a plain INSERT; a chunk meeting earlier ones upserts."""
    monkeypatch.setattr(imports, "CHUNK_ROWS", 4)
    lines = [f"p{i % 6}@example.be,Name {i},{'nl' if i < 12 else 'fr'}" for i in range(15)]
    run_import(tenant, csv_bytes("email,first_name,language", *lines), name="Fair")
    with tenant:
        assert sorted(Contact.objects.values_list("email", "first_name", "language")) == [
            ("p0@example.be", "Name 12", "fr"),
            ("p1@example.be", "Name 13", "fr"),
            ("p2@example.be", "Name 14", "fr"),
            ("p3@example.be", "Name 9", "nl"),
            ("p4@example.be", "Name 10", "nl"),
            ("p5@example.be", "Name 11", "nl"),
        ]
        assert sorted(Source.objects.values_list("contact__email", "name")) == [
            (f"p{i}@example.be", "Fair") for i in range(6)
        ]


def test_a_job_whose_worker_died_resumes_from_its_checkpoint(
    tenant: Tenant, people: ContactList, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    job = run_import(
        tenant,
        csv_bytes("email", "a@example.be", "b@example.be", "bad", "c@example.be"),
        into=people,
    )
    # As if the worker had died after the first chunk: the rows past the checkpoint are gone.
    with tenant:
        ListEntry.objects.filter(email_normalized="c@example.be").delete()
        ImportReject.objects.all().delete()
        ImportJob.objects.filter(pk=job.pk).update(
            status="running",
            rows_done=2,
            rows_imported=2,
            rows_rejected=0,
            lease_until=job.created_at,
        )
    imports.import_execute(account_id=tenant.account.pk, job_id=job.pk)
    with tenant:
        job.refresh_from_db()
    assert (job.status, job.rows_imported, job.rows_rejected) == ("succeeded", 3, 1)
    assert [e[0] for e in entries(tenant)] == ["a@example.be", "b@example.be", "c@example.be"]


def test_a_running_job_with_a_live_lease_is_not_run_twice(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(tenant, csv_bytes("email", "a@example.be"), into=people)
    with tenant:
        ImportJob.objects.filter(pk=job.pk).update(status="running", rows_done=0, rows_imported=0)
    with tenant_atomic(tenant.account):
        assert imports.import_claim(job_id=job.pk) is None


def test_a_finished_job_delivered_again_changes_nothing(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(tenant, csv_bytes("email", "a@example.be"), into=people)
    imports.import_execute(account_id=tenant.account.pk, job_id=job.pk)
    with tenant:
        job.refresh_from_db()
    assert (job.status, job.rows_imported) == ("succeeded", 1)


def test_a_cancelled_job_stops_and_keeps_its_report(tenant: Tenant, people: ContactList) -> None:
    with tenant:
        from django.core.files.uploadedfile import SimpleUploadedFile

        job = imports.import_create(
            upload=SimpleUploadedFile("p.csv", csv_bytes("email", "a@example.be")),
            target="list",
            contact_list=people,
        )
        ImportJob.objects.filter(pk=job.pk).update(status="queued", mapping={"email": "email"})
        assert imports.import_cancel(job=job)
    imports.import_execute(account_id=tenant.account.pk, job_id=job.pk)
    with tenant:
        job.refresh_from_db()
    assert job.status == "failed" and "Cancelled" in job.error and entries(tenant) == []


def test_proven_opt_in_data_in_a_contact_import_goes_to_the_consent_ledger(tenant: Tenant) -> None:
    from consent.models import ConsentEvent, ConsentState

    run_import(
        tenant,
        csv_bytes(
            "email,optin,optin_at,optin_confirmed_at,optin_ip",
            "double@example.be,double_confirmed,2024-03-01 10:00,2024-03-01 10:05,192.0.2.7",
            "single@example.be,single,2023-05-04 09:00,,198.51.100.1",
            "pending@example.be,double_pending,2024-06-01 08:00,,",
            "nothing@example.be,none,,,",
        ),
        name="Webshop 2024",
    )
    with tenant:
        events = {
            e.contact.email: e
            for e in ConsentEvent.objects.select_related("contact").filter(channel="import")
        }
        states = dict(ConsentState.objects.values_list("contact__email", "status"))
    assert set(events) == {"double@example.be", "single@example.be", "pending@example.be"}
    double, single = events["double@example.be"], events["single@example.be"]
    assert (double.status, double.legal_basis, double.ip) == ("granted", "consent", "192.0.2.7")
    assert double.doi_requested_at is not None and double.doi_confirmed_at is not None
    assert double.source == "import: Webshop 2024"
    assert (single.status, single.ip, single.doi_confirmed_at) == ("granted", "198.51.100.1", None)
    assert "single" in single.text and "2023-05-04" in single.text
    assert states == {
        "double@example.be": "granted",
        "single@example.be": "granted",
        "pending@example.be": "pending",
    }
