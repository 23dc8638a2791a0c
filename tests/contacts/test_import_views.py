from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from contacts.models import Contact, ContactList, ImportJob, ListEntry, SavedMapping, Segment
from tests.conftest import Tenant
from tests.contacts.import_helpers import csv_bytes, media, run_import

__all__ = ["media"]


@pytest.fixture
def people(tenant: Tenant) -> ContactList:
    with tenant:
        return ContactList.objects.create(name="People")


def upload(client: Any, content: bytes, **data: Any) -> Any:
    return client.post(
        reverse("import_upload"),
        {"file": SimpleUploadedFile(data.pop("filename", "people.csv"), content), **data},
    )


def body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def test_the_import_flow_goes_from_upload_to_the_result(
    tenant: Tenant, people: ContactList, django_capture_on_commit_callbacks: Any
) -> None:
    client = tenant.client("marketer")
    response = upload(
        client,
        csv_bytes("Voornaam;E-mail;Lidnummer", "Jan;jan@example.be;17", "Bad;nope;18"),
        target="list",
        contact_list=str(people.pk),
    )
    assert response.status_code == 302
    mapping_page = client.get(response["Location"])
    page = mapping_page.content.decode()
    assert "Check the columns" in page and "jan@example.be" in page
    assert '<option value="first_name" selected>' in page
    with tenant:
        job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            reverse("import_mapping", args=[job.pk]),
            {"col-0": "first_name", "col-1": "email", "col-2": "custom:lidnummer"},
        )
    assert started.status_code == 302
    result = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "Done" in result and "Download the rejected rows" in result
    with tenant:
        assert list(ListEntry.objects.values_list("first_name", "custom_fields")) == [
            ("Jan", {"lidnummer": "17"})
        ]


def test_a_mapping_without_an_e_mail_column_is_explained(
    tenant: Tenant, people: ContactList
) -> None:
    client = tenant.client("marketer")
    upload(
        client,
        csv_bytes("email,name", "a@example.be,A"),
        target="list",
        contact_list=str(people.pk),
    )
    with tenant:
        job = ImportJob.objects.get()
    response = client.post(reverse("import_mapping", args=[job.pk]), {"col-1": "first_name"})
    assert response.status_code == 400
    assert "Choose the column that holds the e-mail address" in response.content.decode()


def test_the_mapping_can_be_saved_and_reused(tenant: Tenant, people: ContactList) -> None:
    client = tenant.client("marketer")
    upload(
        client,
        csv_bytes("Mail,Klant", "a@example.be,A"),
        target="list",
        contact_list=str(people.pk),
    )
    with tenant:
        job = ImportJob.objects.get()
    client.post(
        reverse("import_mapping", args=[job.pk]),
        {"col-0": "email", "col-1": "company_name", "save_as": "Shop"},
    )
    with tenant:
        saved = SavedMapping.objects.get()
    assert (saved.name, saved.mapping) == ("Shop", {"Mail": "email", "Klant": "company_name"})
    upload(
        client,
        csv_bytes("Mail,Klant", "b@example.be,B"),
        target="list",
        contact_list=str(people.pk),
    )
    with tenant:
        second = ImportJob.objects.filter(status="draft").get()
    page = client.get(
        reverse("import_detail", args=[second.pk]), {"saved": saved.pk}
    ).content.decode()
    assert '<option value="company_name" selected>' in page


def test_an_import_into_a_new_list_creates_it(tenant: Tenant) -> None:
    client = tenant.client("marketer")
    response = upload(
        client,
        csv_bytes("email", "a@example.be"),
        target="list",
        contact_list="new",
        new_list_name="Fair 2024",
    )
    assert response.status_code == 302
    with tenant:
        assert ImportJob.objects.get().list == ContactList.objects.get(name="Fair 2024")


def test_the_progress_partial_polls_while_the_job_runs(tenant: Tenant, people: ContactList) -> None:
    client = tenant.client("marketer")
    upload(client, csv_bytes("email", "a@example.be"), target="list", contact_list=str(people.pk))
    with tenant:
        job = ImportJob.objects.get()
        ImportJob.objects.filter(pk=job.pk).update(status="running", progress=0.4, rows_done=10)
    partial = client.get(reverse("import_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "40%" in partial


def test_a_stalled_job_offers_resume_and_resumes(
    tenant: Tenant, people: ContactList, django_capture_on_commit_callbacks: Any
) -> None:
    job = run_import(tenant, csv_bytes("email", "a@example.be"), into=people)
    with tenant:
        ImportJob.objects.filter(pk=job.pk).update(status="running", lease_until=job.created_at)
    client = tenant.client("marketer")
    assert "Resume" in client.get(reverse("import_detail", args=[job.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_resume", args=[job.pk]))
    with tenant:
        job.refresh_from_db()
    assert job.status == "succeeded"


def test_cancel_stops_a_queued_import(tenant: Tenant, people: ContactList) -> None:
    client = tenant.client("marketer")
    upload(client, csv_bytes("email", "a@example.be"), target="list", contact_list=str(people.pk))
    with tenant:
        job = ImportJob.objects.get()
        ImportJob.objects.filter(pk=job.pk).update(status="queued", mapping={"email": "email"})
    client.post(reverse("import_cancel", args=[job.pk]))
    with tenant:
        job.refresh_from_db()
    assert job.status == "failed" and "Cancelled" in job.error


def test_the_rejects_download_lists_each_rejected_row(tenant: Tenant, people: ContactList) -> None:
    job = run_import(tenant, csv_bytes("email,city", "x@,Gent", "ok@example.be,Gent"), into=people)
    response = tenant.client("marketer").get(reverse("import_rejects", args=[job.pk]))
    lines = body(response).splitlines()
    assert lines[0] == "line,outcome,reason,email,city"
    assert lines[1].startswith("2,rejected,") and lines[1].endswith("x@,Gent")
    assert len(lines) == 2


def test_the_import_history_lists_jobs(tenant: Tenant, people: ContactList) -> None:
    run_import(tenant, csv_bytes("email", "a@example.be"), into=people, name="Spring fair")
    page = tenant.client("marketer").get(reverse("imports")).content.decode()
    assert "Spring fair" in page and "Succeeded" in page


@pytest.mark.parametrize(
    "name", ["import_detail", "import_progress", "import_rejects", "import_cancel", "import_resume"]
)
def test_another_accounts_import_is_not_found(outsider: Tenant, tenant: Tenant, name: str) -> None:
    with outsider:
        other_list = ContactList.objects.create(name="Theirs")
    job = run_import(outsider, csv_bytes("email", "a@example.be"), into=other_list)
    client = tenant.client("admin")
    method = client.post if name in ("import_cancel", "import_resume") else client.get
    assert method(reverse(name, args=[job.pk])).status_code == 404


def test_a_viewer_cannot_import(tenant: Tenant) -> None:
    assert tenant.client("viewer").get(reverse("import_upload")).status_code == 404


def test_the_upload_page_preselects_the_list_it_was_opened_from(
    tenant: Tenant, people: ContactList
) -> None:
    page = (
        tenant.client("marketer")
        .get(reverse("import_upload"), {"list": people.pk})
        .content.decode()
    )
    assert f'<option value="{people.pk}" selected>' in page


# --- Exports --------------------------------------------------------------------------------------


def test_a_list_exports_to_csv_with_formulas_neutralised(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(
        tenant,
        csv_bytes("email,first_name,city", 'a@example.be,"=HYPERLINK(""http://x"")",@Gent'),
        into=people,
    )
    response = tenant.client("marketer").get(reverse("list_export", args=[people.pk, "csv"]))
    assert response["Content-Disposition"] == 'attachment; filename="people.csv"'
    lines = body(response).splitlines()
    assert lines[0].startswith("email,salutation,title,first_name")
    assert "'=HYPERLINK" in lines[1] and ",'@Gent," in lines[1]


def test_an_import_keeps_a_formula_as_text(tenant: Tenant, people: ContactList) -> None:
    run_import(tenant, csv_bytes("email,first_name", "a@example.be,=1+2"), into=people)
    with tenant:
        assert ListEntry.objects.get().first_name == "=1+2"


def test_a_list_exports_to_xlsx_as_text_cells(tenant: Tenant, people: ContactList) -> None:
    run_import(tenant, csv_bytes("email,first_name", "a@example.be,=1+2"), into=people)
    response: Any = tenant.client("marketer").get(reverse("list_export", args=[people.pk, "xlsx"]))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "a@example.be" and rows[1][3] == "'=1+2"
    assert sheet.cell(row=2, column=4).data_type == "s"


def test_contacts_export_with_their_custom_fields(tenant: Tenant) -> None:
    run_import(
        tenant,
        csv_bytes("email,first_name,Klant", "a@example.be,An,K1"),
        mapping={"email": "email", "first_name": "first_name", "Klant": "custom:klant"},
    )
    lines = body(
        tenant.client("marketer").get(reverse("contacts_export", args=["csv"]))
    ).splitlines()
    assert lines[0].endswith(",klant") and lines[1].startswith("a@example.be,,,An,")
    assert lines[1].endswith(",K1")


def test_a_segment_exports_its_contacts(tenant: Tenant) -> None:
    with tenant:
        Contact.objects.create(email="nl@example.be", language="nl")
        Contact.objects.create(email="fr@example.be", language="fr")
        segment = Segment.objects.create(name="Dutch", definition={"languages": ["nl"]})
    lines = body(
        tenant.client("marketer").get(reverse("segment_export", args=[segment.pk, "csv"]))
    ).splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["nl@example.be"]


def test_another_accounts_list_and_segment_do_not_export(tenant: Tenant, outsider: Tenant) -> None:
    with outsider:
        other_list = ContactList.objects.create(name="Theirs")
        other_segment = Segment.objects.create(name="Theirs")
    client = tenant.client("admin")
    assert client.get(reverse("list_export", args=[other_list.pk, "csv"])).status_code == 404
    assert client.get(reverse("segment_export", args=[other_segment.pk, "xlsx"])).status_code == 404
    assert (
        client.get(
            reverse("contacts_export", args=["csv"]), {"segment": other_segment.pk}
        ).status_code
        == 404
    )
