"""Bad input: each case gets a clear error or a rejects entry, never a 500, never a half-imported
list without a report."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from accounts.tenancy import tenant_atomic
from contacts import imports
from contacts.models import ContactList, ImportJob, ImportReject, ListEntry
from tests.conftest import Tenant, committed
from tests.contacts.import_helpers import csv_bytes, media, run_import

__all__ = ["media"]


@pytest.fixture
def people(tenant: Tenant) -> ContactList:
    with tenant:
        return ContactList.objects.create(name="People")


def page_upload(
    tenant: Tenant, people: ContactList, content: bytes, filename: str = "people.csv"
) -> Any:
    return tenant.client("marketer").post(
        reverse("import_upload"),
        {
            "file": SimpleUploadedFile(filename, content),
            "target": "list",
            "contact_list": str(people.pk),
        },
    )


def api_upload(
    tenant: Tenant, people: ContactList, content: bytes, filename: str = "people.csv"
) -> Any:
    return tenant.api("marketer").post(
        f"/api/v1/lists/{people.pk}/imports/", {"file": SimpleUploadedFile(filename, content)}
    )


def reasons(tenant: Tenant, job: ImportJob) -> list[tuple[int, str]]:
    with tenant:
        return list(
            ImportReject.objects.filter(job=job).order_by("line").values_list("line", "reason")
        )


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "people.csv", "is empty."),
        (b"\r\n \r\n", "people.csv", "The file is empty."),
        (os.urandom(4096) + b"\x00", "people.csv", "contains binary data"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "people.xls",
            "old Excel file (.xls)",
        ),
        (b"PK\x03\x04not really a zip", "people.xlsx", "could not be read as an Excel workbook"),
        (csv_bytes("email,first_name"), "people.csv", "header row but no data rows"),
        (
            csv_bytes("Email,Name,EMAIL", "a@b.be,A,c@d.be"),
            "people.csv",
            "appears twice (columns 1 and 3)",
        ),
    ],
    ids=[
        "empty",
        "blank-lines",
        "binary",
        "xls",
        "broken-xlsx",
        "header-only",
        "duplicate-headers",
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_a_clear_message(
    tenant: Tenant, people: ContactList, content: bytes, filename: str, message: str
) -> None:
    response = page_upload(tenant, people, content, filename)
    assert response.status_code == 400 and message in response.content.decode()
    api = api_upload(tenant, people, content, filename)
    assert api.status_code == 400 and message in api.json()["message"]
    with tenant:
        assert ImportJob.objects.count() == 0 and ListEntry.objects.count() == 0


def test_a_header_only_xlsx_is_refused(tenant: Tenant, people: ContactList) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["email", "first_name"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = api_upload(tenant, people, buffer.getvalue(), "people.xlsx")
    assert response.status_code == 400 and "no data rows" in response.json()["message"]


def test_an_oversized_upload_is_refused_before_it_is_read(
    tenant: Tenant, people: ContactList, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 1024
    content = csv_bytes("email", *[f"p{i}@example.be" for i in range(20_000)])
    response = page_upload(tenant, people, content)
    assert response.status_code == 413
    assert "the largest file you can import is 1 KB" in response.content.decode()
    api = api_upload(tenant, people, content)
    assert api.status_code == 413 and "Split it into smaller files" in api.json()["message"]
    with tenant:
        assert ImportJob.objects.count() == 0


def test_a_file_just_over_the_limit_is_refused_by_its_size(
    tenant: Tenant, people: ContactList, settings: Any
) -> None:
    content = csv_bytes("email", *[f"p{i}@example.be" for i in range(100)])
    settings.IMPORT_MAX_BYTES = len(content) - 1
    with tenant, pytest.raises(imports.ImportFileError, match="largest file you can import"):
        imports.import_create(
            upload=SimpleUploadedFile("p.csv", content), target="list", contact_list=people
        )


def test_an_unclosed_quote_is_reported_with_the_lines_it_swallowed(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(
        tenant,
        b'email,first_name\r\na@example.be,An\r\nb@example.be,"Bert\r\nc@example.be,Cis\r\n',
        into=people,
    )
    assert job.status == "succeeded" and (job.rows_imported, job.rows_rejected) == (1, 1)
    assert reasons(tenant, job) == [
        (
            3,
            "A quote opened on line 3 is never closed, so lines 3 to 4 could not be read as rows. "
            "Close the quote and import these lines again.",
        )
    ]


def test_a_stray_quote_rejects_its_row_instead_of_dropping_the_quote(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(
        tenant, b'email,first_name\r\na@example.be,"An"na\r\nb@example.be,Bo\r\n', into=people
    )
    assert job.rows_imported == 1 and "not valid CSV" in reasons(tenant, job)[0][1]


def test_a_row_with_too_few_or_too_many_values_is_rejected(
    tenant: Tenant, people: ContactList
) -> None:
    job = run_import(
        tenant,
        csv_bytes(
            "email,first_name,city",
            "a@example.be,An",
            "b@example.be,Bo,Gent,extra",
            "c@example.be,Cis,Gent,",
        ),
        into=people,
    )
    assert job.rows_imported == 1
    assert [line for line, _ in reasons(tenant, job)] == [2, 3]
    assert "has 2 values but the header names 3 columns" in reasons(tenant, job)[0][1]


def test_a_mixed_encoding_file_rejects_the_lines_in_the_other_encoding(
    tenant: Tenant, people: ContactList
) -> None:
    content = (
        "email,city\r\na@example.be,Liège\r\n".encode()
        + "b@example.be,Liège\r\n".encode("cp1252")
        + "c@example.be,Köln\r\n".encode()
    )
    job = run_import(tenant, content, into=people)
    assert job.encoding == "utf-8"
    with tenant:
        assert sorted(ListEntry.objects.values_list("email_normalized", "city")) == [
            ("a@example.be", "Liège"),
            ("c@example.be", "Köln"),
        ]
        reject = ImportReject.objects.get()
    assert reject.line == 3 and "not valid UTF-8" in reject.reason
    assert reject.values == ["b@example.be", "Liège"]


def test_a_file_in_one_legacy_encoding_is_not_read_as_utf8(
    tenant: Tenant, people: ContactList
) -> None:
    content = csv_bytes(
        "email;city", "a@example.be;Liège", "b@example.be;Düsseldorf", encoding="latin-1"
    )
    job = run_import(tenant, content, into=people)
    assert job.rows_rejected == 0
    with tenant:
        assert sorted(ListEntry.objects.values_list("city", flat=True)) == ["Düsseldorf", "Liège"]


def test_a_nul_byte_in_a_row_rejects_that_row(tenant: Tenant, people: ContactList) -> None:
    content = csv_bytes("email,first_name", "a@example.be,An") + b"b@example.be,B\x00o\r\n"
    job = run_import(tenant, content, into=people)
    assert job.rows_imported == 1 and "NUL" in reasons(tenant, job)[0][1]


def test_a_formula_is_imported_as_text_and_exported_neutralised(
    tenant: Tenant, people: ContactList
) -> None:
    run_import(tenant, csv_bytes("email,first_name", "a@example.be,=cmd|'/c calc'!A1"), into=people)
    with tenant:
        assert ListEntry.objects.get().first_name == "=cmd|'/c calc'!A1"
    response: Any = tenant.client("marketer").get(reverse("list_export", args=[people.pk, "csv"]))
    assert "'=cmd|'/c calc'!A1" in b"".join(response.streaming_content).decode("utf-8-sig")


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("jan@example.be", True),
        ("  Jan.Peeters@Example.BE ", True),
        ("info@müller.de", True),
        ("jörg@example.de", False),
        ("jan@@example.be", False),
        ("jan@example", False),
        ("jan peeters@example.be", False),
        ("", False),
    ],
)
def test_each_address_is_imported_or_rejected_never_fixed(
    tenant: Tenant, people: ContactList, address: str, accepted: bool
) -> None:
    job = run_import(tenant, csv_bytes("email,first_name", f'"{address}",X'), into=people)
    assert (job.rows_imported, job.rows_rejected) == ((1, 0) if accepted else (0, 1))


def test_nothing_is_silently_dropped_every_row_is_counted(
    tenant: Tenant, people: ContactList
) -> None:
    lines = ["ok1@example.be,A", "bad,B", "ok1@example.be,C", ",D", "ok2@example.be,E"]
    job = run_import(tenant, csv_bytes("email,first_name", *lines), into=people)
    assert job.rows_total == 5
    assert job.rows_rejected == 2 and job.rows_imported == 2  # ok1 twice: one entry, updated


@committed
def test_a_worker_outside_a_transaction_applies_chunks_in_parallel_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch, media: Any
) -> None:
    from tests.conftest import make_tenant

    tenant = make_tenant("pipeline")
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    with tenant_atomic(tenant.account):
        people = ContactList.objects.create(name="People")
        job = imports.import_create(
            upload=SimpleUploadedFile(
                "p.csv", csv_bytes("email", *[f"p{i % 8}@example.be" for i in range(20)], "bad")
            ),
            target="list",
            contact_list=people,
        )
        ImportJob.objects.filter(pk=job.pk).update(status="queued", mapping={"email": "email"})
    imports.import_execute(account_id=tenant.account.pk, job_id=job.pk)
    with tenant_atomic(tenant.account):
        job.refresh_from_db()
        assert (job.status, job.rows_total, job.rows_rejected) == ("succeeded", 21, 1)
        assert ListEntry.objects.count() == 8
