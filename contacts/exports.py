"""Exports of lists, contacts and segments to CSV and XLSX, streamed.

Every text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab, a
carriage return or NUL) is prefixed with `'` (DESIGN §2), so an exported file never executes
what someone typed into a sign-up form.

CSV streams row by row from a server-side cursor; XLSX is written by openpyxl's write-only
workbook (rows go to a temporary file as they come), then streamed from that file. Memory stays
flat either way. Iteration happens after the view has returned, outside the request's
transaction, so each export opens its own tenant transaction for the reading.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.tenancy import current_account_id, tenant_atomic
from contacts.models import PERSON_FIELDS, Contact, ContactList, CustomField, ListEntry

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")
XLSX_MAX_ROWS = 1_048_576
ITERATOR_CHUNK = 2000

CONTACT_COLUMNS = ["email", *PERSON_FIELDS, "mailing_method", "no_mailings", "created_at"]
ENTRY_COLUMNS = [
    "email",
    *PERSON_FIELDS,
    "status",
    "optin",
    "optin_at",
    "optin_confirmed_at",
    "optin_ip",
    "created_at",
]


class ExportTooLarge(ValueError):
    pass


def neutralize(value: object) -> str:
    """The text of a cell, with a leading `'` when a spreadsheet would treat it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number, even a negative one, is never read as a formula
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[list[object]]) -> Iterator[str]:
    """CSV text, one line per yield; UTF-8 with a BOM so Excel reads accents correctly."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([neutralize(v) for v in row])


def xlsx_file(rows: Iterable[list[object]], *, title: str) -> Any:
    """A temporary file holding the workbook (deleted when closed)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    for count, row in enumerate(rows, start=1):
        if count > XLSX_MAX_ROWS:
            raise ExportTooLarge(
                f"Excel holds at most {XLSX_MAX_ROWS:,} rows; export this as CSV instead."
            )
        # A plain string cell (never a formula): openpyxl would turn a leading "=" into one.
        sheet.append([neutralize(v) for v in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (FileResponse closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in title).strip() or "Export"
    return cleaned[:31]


def _custom_keys() -> list[str]:
    return list(CustomField.objects.order_by("key").values_list("key", flat=True))


def _rows(
    queryset: QuerySet[Any], columns: list[str], custom_keys: list[str]
) -> Iterator[list[object]]:
    yield [*columns, *custom_keys]
    for values in queryset.values_list(*columns, "custom_fields").iterator(
        chunk_size=ITERATOR_CHUNK
    ):
        custom = values[-1] or {}
        yield [*values[:-1], *(custom.get(key) for key in custom_keys)]


def in_own_transaction(rows_factory: Any) -> Iterator[list[object]]:
    """Rows read in a tenant transaction opened when iteration starts (after the view returned)."""
    account_id = current_account_id()

    def generate() -> Iterator[list[object]]:
        with tenant_atomic(account_id):
            yield from rows_factory()

    return generate()


def list_rows(contact_list: ContactList) -> Iterator[list[object]]:
    list_id = contact_list.pk

    def rows() -> Iterator[list[object]]:
        queryset = ListEntry.objects.filter(list_id=list_id).order_by("id")
        return _rows(queryset, ENTRY_COLUMNS, _custom_keys())

    return in_own_transaction(rows)


def contact_rows(queryset_factory: Any) -> Iterator[list[object]]:
    """`queryset_factory()` builds the contacts to export inside the export's transaction."""

    def rows() -> Iterator[list[object]]:
        queryset: QuerySet[Contact] = queryset_factory().order_by("id")
        return _rows(queryset, CONTACT_COLUMNS, _custom_keys())

    return in_own_transaction(rows)
