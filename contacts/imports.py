"""Imports of CSV and XLSX files into a list (ListEntry upsert) or the contact database.

Flow: `import_create` stores the upload and reads its head (format, encoding, delimiter, headers,
first rows) so that a bad file is refused at once with a clear message; `import_start` checks the
column mapping and queues `contacts.tasks.import_run`, which calls `import_execute`.

The fast path streams the file, validates each row in Python (contacts.normalize), COPYs the valid
rows of a chunk into a temporary staging table and applies them with set-based statements (a
plain `INSERT … SELECT` while the rows are all new, else `INSERT … ON CONFLICT DO UPDATE`, then an
`UPDATE … FROM` of the rows met by id); rejected rows go to `ImportReject` in the same
transaction. Each chunk commits with its checkpoint (`rows_done`), so progress is visible, memory
stays flat, and a job whose worker died resumes where it stopped.

Rules the user relies on:
- nothing is silently dropped or changed: a row that cannot be imported as it is gets a reject
  entry with its line number, the reason and its original values;
- an empty cell never clears a value already in the database; a later row of the same e-mail
  updates what earlier rows wrote;
- a suppressed address (matched by its hash, which survives erasure) is never subscribed by an
  import: its list entry is kept unsubscribed (or bounced) and the row is reported.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import ipaddress
import json
import re
import sys
import threading
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO, Any

import psycopg
from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from rapidfuzz import fuzz, process, utils

from accounts.tenancy import current_account_id, tenant_atomic
from contacts.models import (
    PERSON_FIELDS,
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    ImportReject,
    ListEntry,
    MailingMethod,
    SavedMapping,
    Source,
)
from contacts.normalize import InvalidEmail, email_hash, normalize_email

CHUNK_ROWS = 20_000
LEASE = timedelta(minutes=10)
SAMPLE_BYTES = 1024 * 1024
PREVIEW_ROWS = 5

# --- Targets and their names in en / nl / fr / de ------------------------------------------------

OPTIN = ["optin", "optin_at", "optin_confirmed_at", "optin_ip"]
LIST_ONLY = ["status", *OPTIN]
# Opt-in columns of a contact import are not contact fields: they become consent-ledger events.
CONTACT_ONLY = ["mailing_method", *OPTIN]
CUSTOM_PREFIX = "custom:"

TARGET_LABELS: dict[str, str] = {
    "email": "E-mail",
    "salutation": "Salutation",
    "title": "Title",
    "first_name": "First name",
    "last_name": "Last name",
    "company_name": "Company",
    "letter_salutation": "Letter salutation",
    "phone": "Phone",
    "street": "Street and number",
    "postal_code": "Postal code",
    "city": "City",
    "country": "Country",
    "language": "Language (en, nl, fr, de)",
    "mailing_method": "Mailing method (email, post, both, none)",
    "status": "Status (subscribed, unsubscribed, bounced)",
    "optin": "Opt-in (none, single, double_pending, double_confirmed)",
    "optin_at": "Opt-in date",
    "optin_confirmed_at": "Opt-in confirmation date",
    "optin_ip": "Opt-in IP address",
}

# fmt: off
ALIASES: dict[str, list[str]] = {
    "email": [
        "email", "e-mail", "mail", "email address", "e-mail address", "emailaddress", "e-mailadres",
        "emailadres", "mailadres", "e-mail adres", "courriel", "adresse e-mail", "adresse email",
        "adresse électronique", "adresse mail", "mél", "e-mail-adresse", "emailadresse",
        "mailadresse", "e-mail adresse",
    ],
    "salutation": [
        "salutation", "gender", "aanspreking", "geslacht", "civilité", "civilite", "genre",
        "anrede", "geschlecht",
    ],
    "title": ["title", "titel", "titre", "academic title", "akademischer titel"],
    "first_name": [
        "first name", "firstname", "given name", "forename", "voornaam", "roepnaam", "prénom",
        "prenom", "vorname",
    ],
    "last_name": [
        "last name", "lastname", "surname", "family name", "achternaam", "familienaam", "nom",
        "nom de famille", "nachname", "familienname",
    ],
    "company_name": [
        "company", "company name", "organisation", "organization", "bedrijf", "bedrijfsnaam",
        "organisatie", "firma", "société", "societe", "entreprise", "raison sociale", "firmenname",
        "unternehmen",
    ],
    "letter_salutation": [
        "letter salutation", "aanhef", "briefaanhef", "formule d'appel", "formule de politesse",
        "briefanrede", "anredezeile",
    ],
    "phone": [
        "phone", "telephone", "phone number", "mobile", "tel", "telefoon", "telefoonnummer", "gsm",
        "mobiel", "téléphone", "telephone number", "numéro de téléphone", "portable", "telefon",
        "telefonnummer", "handy", "mobilnummer",
    ],
    "street": [
        "street", "address", "street address", "address line", "straat", "adres", "straatnaam",
        "straat en huisnummer", "rue", "adresse", "adresse postale", "straße", "strasse",
        "anschrift", "straße und hausnummer",
    ],
    "postal_code": [
        "postal code", "postcode", "zip", "zip code", "post code", "code postal", "cp", "plz",
        "postleitzahl",
    ],
    "city": [
        "city", "town", "plaats", "woonplaats", "gemeente", "stad", "ville", "localité",
        "localite", "commune", "ort", "stadt", "wohnort",
    ],
    "country": ["country", "land", "pays", "staat"],
    "language": ["language", "lang", "taal", "langue", "sprache", "correspondentietaal"],
    "mailing_method": [
        "mailing method", "verzendwijze", "verzendmethode", "mode d'envoi", "versandart",
    ],
    "status": [
        "status", "subscription status", "abonnementstatus", "inschrijving", "statut",
        "statut d'abonnement", "abostatus",
    ],
    "optin": ["opt-in", "optin", "opt in", "opt-in type", "opt-in status", "type opt-in"],
    "optin_at": [
        "opt-in date", "optin at", "opted in at", "opt-in datum", "date opt-in", "date d'opt-in",
        "opt-in-datum", "subscribed at", "ingeschreven op", "inscrit le", "angemeldet am",
    ],
    "optin_confirmed_at": [
        "confirmed at", "opt-in confirmed at", "confirmation date", "double opt-in date",
        "bevestigd op", "bevestigingsdatum", "confirmé le", "date de confirmation", "bestätigt am",
        "bestätigungsdatum",
    ],
    "optin_ip": ["ip", "ip address", "opt-in ip", "ip-adres", "adresse ip", "ip-adresse"],
}
# fmt: on

_STATUS = {s.value for s in ListEntry.Status}
_OPTIN = {s.value for s in ListEntry.OptIn}
_MAILING_METHOD = {m.value for m in MailingMethod}
_LANGUAGES = {
    "en": "en", "english": "en", "engels": "en", "anglais": "en", "englisch": "en",
    "nl": "nl", "dutch": "nl", "nederlands": "nl", "néerlandais": "nl", "niederländisch": "nl",
    "vlaams": "nl", "flemish": "nl",
    "fr": "fr", "french": "fr", "frans": "fr", "français": "fr", "francais": "fr",
    "französisch": "fr",
    "de": "de", "german": "de", "duits": "de", "allemand": "de", "deutsch": "de",
}  # fmt: skip
_TRUE = {"1", "true", "yes", "y", "ja", "j", "oui", "o", "x", "waar", "vrai", "wahr"}
_FALSE = {"0", "false", "no", "n", "nee", "non", "nein", "onwaar", "faux", "falsch"}


def _process(text: str) -> str:
    return str(utils.default_process(text))


_ALIAS_INDEX: dict[str, str] = {}
for _target, _names in ALIASES.items():
    for _name in [_target.replace("_", " "), *_names]:
        _ALIAS_INDEX.setdefault(_process(_name), _target)


def targets_for(target_kind: str) -> list[str]:
    """Standard fields a column can be mapped to, in the order a person reads them."""
    base = ["email", *PERSON_FIELDS]
    return base + (LIST_ONLY if target_kind == ImportJob.Target.LIST else CONTACT_ONLY)


def _field_max_length(name: str) -> int | None:
    model = Contact if name in CONTACT_ONLY or name == "email" else ListEntry
    return model._meta.get_field(name).max_length  # type: ignore[union-attr]


# --- Errors ---------------------------------------------------------------------------------------


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message tells the user what to do."""


class MappingError(ValueError):
    def __init__(self, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


# --- Reading files --------------------------------------------------------------------------------

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_C1 = re.compile(rb"[\x80-\x9f]")
_ESCAPED = re.compile("[\udc80-\udcff]")
_VALID_NON_ASCII = re.compile("[\u0080-\udc7f\udd00-\U0010ffff]")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")


def _sniff_format(head: bytes) -> str:
    if not head.strip():
        raise ImportFileError("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "This is an old Excel file (.xls). Open it in Excel or LibreOffice, save it as "
            ".xlsx or CSV, and upload that."
        )
    if head.startswith(_UTF16_BOMS):
        return "csv"
    sample = head[:65536]
    # Text files hold no control characters but the odd stray one (rejected with its row).
    if len(_CONTROL.findall(sample)) > max(len(sample) // 200, 2):
        raise ImportFileError(
            "This file is not a CSV or Excel file: it contains binary data. Upload a .csv or "
            ".xlsx file."
        )
    return "csv"


@dataclass
class EncodingScan:
    encoding: str
    mixed: bool = False
    lines: int = 0
    nul: bool = True  # unknown until the whole file was read

    @property
    def clean(self) -> bool:
        """Every line decodes and none holds NUL: rows need no per-line check."""
        return not self.mixed and not self.nul


def _scan_encoding(stream: IO[bytes], limit: int | None = None) -> EncodingScan:
    """Which encoding decodes the file (or its first `limit` bytes), read block by block.

    UTF-8 when every byte sequence is valid; cp1252 (or latin-1 when bytes that cp1252 leaves
    undefined occur) when no valid multi-byte sequence exists; `mixed` when both occur: the file
    is then read as UTF-8 and its invalid lines are rejected rather than guessed.
    """
    head = stream.read(4)
    if head.startswith(_UTF8_BOM):
        stream.seek(3)
        bom = "utf-8-sig"
    elif head.startswith(_UTF16_BOMS):
        stream.seek(0)
        return EncodingScan("utf-16")
    else:
        stream.seek(0)
        bom = ""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    invalid = valid_multibyte = c1 = undefined = nul = False
    lines = 0
    read = 0
    while True:
        block = stream.read(SAMPLE_BYTES)
        if not block:
            break
        read += len(block)
        lines += block.count(b"\n")
        nul = nul or b"\x00" in block
        if block.isascii():
            decoder.decode(block)
            if limit is not None and read >= limit:
                break
            continue
        text = decoder.decode(block)
        if _ESCAPED.search(text):
            invalid = True
            c1 = c1 or bool(_C1.search(block))
            undefined = undefined or bool(_CP1252_UNDEFINED.search(block))
            valid_multibyte = valid_multibyte or bool(_VALID_NON_ASCII.search(text))
        else:
            valid_multibyte = True
        if limit is not None and read >= limit:
            break
    complete = limit is None or read < limit
    if complete:
        tail = decoder.decode(b"", final=True)
        invalid = invalid or bool(_ESCAPED.search(tail))
    stream.seek(0)
    nul = nul or not complete
    if not invalid:
        return EncodingScan(bom or "utf-8", lines=lines, nul=nul)
    if valid_multibyte or bom:
        return EncodingScan(bom or "utf-8", mixed=True, lines=lines, nul=nul)
    return EncodingScan("cp1252" if c1 and not undefined else "latin-1", lines=lines, nul=nul)


def _sniff_delimiter(text: str) -> str:
    lines = text.splitlines()[:50]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


@dataclass
class Record:
    line: int
    values: list[str]
    problem: str = ""


def _undo_escape(value: str) -> str:
    """An undecodable value shown as Windows-1252, for the rejects file."""
    if not _ESCAPED.search(value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("cp1252", "replace")


def _csv_records(
    stream: IO[bytes], encoding: str, delimiter: str, *, checked: bool = True
) -> Iterator[Record]:
    """The file's records with their first line numbers. `checked=False` skips the per-line
    search for undecodable bytes and NUL: only for a file whose scan found it clean."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    bad_lines: dict[int, str] = {}
    not_decodable = (
        f"This row is not valid {encoding.upper()} while the rest of the file is (it looks like "
        "Windows-1252 text). Save the file as UTF-8 and import this row again."
    )
    nul = "This row contains NUL characters (binary data), which cannot be stored."

    def lines() -> Iterator[str]:
        for number, line in enumerate(text, start=1):
            if "\x00" in line:
                bad_lines[number] = nul
                line = line.replace("\x00", "\u2400")
            elif not line.isascii() and _ESCAPED.search(line):
                bad_lines[number] = not_decodable
            yield line

    # strict: a stray quote is an error for its row, never a character silently dropped.
    reader = csv.reader(lines() if checked else text, delimiter=delimiter, strict=True)
    previous = 0
    try:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if reader.line_num > previous + 1 or "end of data" in str(exc):
                    reason = (
                        f"A quote opened on line {previous + 1} is never closed, so lines "
                        f"{previous + 1} to {reader.line_num} could not be read as rows. Close the "
                        "quote and import these lines again."
                    )
                else:
                    reason = (
                        f"This line is not valid CSV ({exc}). A quote inside a value must be "
                        'doubled ("") and the value itself quoted.'
                    )
                yield Record(previous + 1, [], reason)
                if reader.line_num == previous:
                    return
                previous = reader.line_num
                continue
            start = previous + 1
            previous = reader.line_num
            if bad_lines:
                spanned = [n for n in bad_lines if n <= previous]
                if spanned:
                    reason = bad_lines[spanned[0]]
                    for n in spanned:
                        del bad_lines[n]
                    yield Record(start, [_undo_escape(v) for v in values], reason)
                    continue
            yield Record(start, values)
    finally:
        # Closing the wrapper would close the caller's stream (an upload still to be saved).
        with contextlib.suppress(ValueError):
            text.detach()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _xlsx_records(stream: IO[bytes]) -> tuple[Iterator[Record], int | None]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception:  # openpyxl raises many kinds for a damaged or foreign zip file
        raise ImportFileError(
            "This file could not be read as an Excel workbook (.xlsx). It may be damaged or "
            "another kind of file; save it again as .xlsx or CSV."
        ) from None

    def records() -> Iterator[Record]:
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield Record(number, [_cell_text(v) for v in row])
        except ImportFileError:
            raise
        except Exception:
            raise ImportFileError(
                "The Excel workbook is damaged part-way through; save it again and retry."
            ) from None
        finally:
            workbook.close()

    return records(), sheet.max_row


@dataclass
class FileHead:
    file_format: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[list[str]]


def _check_headers(headers: list[str]) -> list[str]:
    cleaned = [h.strip().lstrip("\ufeff") for h in headers]
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    if not cleaned:
        raise ImportFileError("The first row is empty: it must name the columns.")
    seen: dict[str, int] = {}
    for position, header in enumerate(cleaned, start=1):
        if not header:
            continue
        key = header.casefold()
        if key in seen:
            raise ImportFileError(
                f"The column “{header}” appears twice (columns {seen[key]} and {position}). "
                "Rename or remove one of them and upload the file again."
            )
        seen[key] = position
    return cleaned


def file_head(stream: IO[bytes]) -> FileHead:
    """The format, encoding, delimiter, headers and first rows; raises `ImportFileError`."""
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    file_format = _sniff_format(head)
    if file_format == "xlsx":
        records, _ = _xlsx_records(stream)
        encoding = delimiter = ""
    else:
        encoding = _scan_encoding(stream, limit=SAMPLE_BYTES).encoding
        sample = head.decode(encoding, errors="replace")
        delimiter = _sniff_delimiter(sample)
        records = _csv_records(stream, encoding, delimiter)
    header_record = next((r for r in records if any(v.strip() for v in r.values)), None)
    if header_record is None:
        raise ImportFileError("The file is empty.")
    if header_record.problem:
        raise ImportFileError(f"The first row cannot be read: {header_record.problem}")
    headers = _check_headers(header_record.values)
    rows: list[list[str]] = []
    for record in records:
        if any(v.strip() for v in record.values):
            rows.append(record.values[: len(headers)])
        if len(rows) >= PREVIEW_ROWS:
            break
    with contextlib.suppress(Exception):
        records.close()  # type: ignore[attr-defined]
    if not rows:
        raise ImportFileError("The file has a header row but no data rows: nothing to import.")
    stream.seek(0)
    return FileHead(file_format, encoding, delimiter, headers, rows)


# --- Mapping --------------------------------------------------------------------------------------


def mapping_suggest(
    *, headers: list[str], target_kind: str, fuzzy: bool = True, saved: dict[str, str] | None = None
) -> dict[str, str]:
    """Header → target for the headers we recognise (exact names first, then close spellings)."""
    allowed = set(targets_for(target_kind))
    custom = {
        _process(name): f"{CUSTOM_PREFIX}{key}"
        for key, label in CustomField.objects.values_list("key", "label")
        for name in (key, label)
    }
    saved_index = {_process(h): t for h, t in (saved or {}).items() if t}
    choices = {a: t for a, t in _ALIAS_INDEX.items() if t in allowed}
    suggestion: dict[str, str] = {}
    used: set[str] = set()
    pending: list[str] = []
    for header in headers:
        key = _process(header)
        if not key:
            continue
        target = saved_index.get(key) or choices.get(key) or custom.get(key)
        if target and target not in used and _target_valid(target, target_kind):
            suggestion[header] = target
            used.add(target)
        else:
            pending.append(header)
    if fuzzy:
        candidates = {**choices, **custom}
        for header in pending:
            match = process.extractOne(
                _process(header), list(candidates), scorer=fuzz.ratio, score_cutoff=84
            )
            if match and candidates[match[0]] not in used:
                suggestion[header] = candidates[match[0]]
                used.add(candidates[match[0]])
    return suggestion


def _target_valid(target: str, target_kind: str) -> bool:
    if target.startswith(CUSTOM_PREFIX):
        key = target[len(CUSTOM_PREFIX) :]
        return bool(key) and slugify(key).replace("-", "_") == key
    return target in targets_for(target_kind)


def custom_key_for(header: str) -> str:
    return (slugify(header).replace("-", "_") or "field")[:60]


def mapping_validate(*, headers: list[str], mapping: dict[str, str], target_kind: str) -> None:
    details: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header, target in mapping.items():
        if not target:
            continue
        if header not in headers:
            details[header] = "The file has no column with this name."
        elif not isinstance(target, str) or not _target_valid(target, target_kind):
            details[header] = f"“{target}” is not a field you can import into here."
        elif target in seen:
            details[header] = f"“{seen[target]}” is already mapped to {target}."
        else:
            seen[target] = header
    if details:
        raise MappingError("The column mapping is not valid.", details)
    if "email" not in seen:
        raise MappingError(
            "Choose the column that holds the e-mail address: rows are matched on it.",
            {"email": "No column is mapped to the e-mail address."},
        )


def mapping_save(*, name: str, mapping: dict[str, str]) -> SavedMapping:
    saved, _ = SavedMapping.objects.update_or_create(
        name=name,
        account_id=current_account_id(),
        defaults={"mapping": {h: t for h, t in mapping.items() if t}, "updated_at": timezone.now()},
    )
    return saved


# --- Jobs: create, start, cancel, resume -----------------------------------------------------------


def import_create(
    *,
    upload: File[Any],
    target: str,
    contact_list: ContactList | None = None,
    name: str = "",
    created_by: Any = None,
) -> ImportJob:
    """Stores the upload and reads its head; raises `ImportFileError` for a file that cannot work."""
    size = upload.size or 0
    if size > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(too_large_message(size))
    if target == ImportJob.Target.LIST and contact_list is None:
        raise ImportFileError("Choose the list to import into.")
    upload.seek(0)
    head = file_head(upload)
    original = (upload.name or "upload").rsplit("/", 1)[-1][:255]
    job = ImportJob(
        account_id=current_account_id(),
        target=target,
        list=contact_list if target == ImportJob.Target.LIST else None,
        name=(name.strip() or f"Import of {original}")[:200],
        original_name=original,
        size=size,
        file_format=head.file_format,
        encoding=head.encoding,
        delimiter=head.delimiter,
        headers=head.headers,
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    upload.seek(0)
    job.upload.save(f"upload.{head.file_format}", upload, save=False)
    job.save()
    return job


def too_large_message(size: int) -> str:
    limit = settings.IMPORT_MAX_BYTES
    return (
        f"The file is {_megabytes(size)}; the largest file you can import is "
        f"{_megabytes(limit)}. Split it into smaller files and import them one after another."
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB" if size >= 100 * 1024 else f"{size / 1024:,.0f} KB"


def import_preview(*, job: ImportJob) -> FileHead:
    with job.upload.open("rb") as stream:
        return file_head(stream)


def import_start(*, job: ImportJob, mapping: dict[str, str], save_as: str = "") -> ImportJob:
    """Checks the mapping, creates the custom fields it asks for and queues the job."""
    from contacts.tasks import import_run

    mapping = {h: t for h, t in mapping.items() if t}
    mapping_validate(headers=job.headers, mapping=mapping, target_kind=job.target)
    for header, target in mapping.items():
        if target.startswith(CUSTOM_PREFIX):
            key = target[len(CUSTOM_PREFIX) :]
            CustomField.objects.get_or_create(
                key=key, account_id=job.account_id, defaults={"label": header[:100]}
            )
    if save_as.strip():
        mapping_save(name=save_as.strip()[:100], mapping=mapping)
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
        mapping=mapping, status=ImportJob.Status.QUEUED
    )
    if not updated:
        raise MappingError("This import has already been started.")
    job.refresh_from_db()
    account_id, job_id = job.account_id, job.pk
    transaction.on_commit(lambda: import_run.delay(account_id, job_id))
    return job


def import_cancel(*, job: ImportJob) -> bool:
    """Stops a queued or running job after its current chunk; what was committed stays."""
    return bool(
        ImportJob.objects.filter(
            pk=job.pk, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
        ).update(
            status=ImportJob.Status.FAILED,
            error="Cancelled. The rows counted as imported were imported; the rest were not.",
            finished_at=timezone.now(),
            claim="",
        )
    )


def import_is_stalled(job: ImportJob) -> bool:
    return (
        job.status == ImportJob.Status.RUNNING
        and job.lease_until is not None
        and job.lease_until < timezone.now()
    )


def import_resume(*, job: ImportJob) -> bool:
    """Queues a stalled (worker died) or failed job again; it goes on from its checkpoint."""
    from contacts.tasks import import_run

    updated = ImportJob.objects.filter(
        Q(status=ImportJob.Status.FAILED)
        | Q(status=ImportJob.Status.RUNNING, lease_until__lt=timezone.now()),
        pk=job.pk,
    ).update(status=ImportJob.Status.QUEUED, error="", claim="", finished_at=None)
    if updated:
        account_id, job_id = job.account_id, job.pk
        transaction.on_commit(lambda: import_run.delay(account_id, job_id))
    return bool(updated)


# --- Rows: validation ------------------------------------------------------------------------------


_DATE_PATTERNS = [
    f"{day}{time_part}"
    for day in ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
    for time_part in (" %H:%M:%S", " %H:%M", "")
]


def _parse_datetime(value: str) -> datetime:
    """ISO 8601, or day-first European dates; a date without a zone is in settings.TIME_ZONE."""
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _DATE_PATTERNS:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"“{value}” is not a date (use 2024-03-31, 31-03-2024 or 31/03/2024).")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return parsed


def _parse_custom(kind: str, value: str) -> object:
    if kind == CustomField.Type.NUMBER:
        decimal = value.replace(",", ".") if "," in value and "." not in value else value
        try:
            number = float(decimal)
        except ValueError:
            raise ValueError(f"“{value}” is not a number.") from None
        return int(number) if decimal.lstrip("+-").isdigit() else number
    if kind == CustomField.Type.DATE:
        return _parse_datetime(value).date().isoformat()
    if kind == CustomField.Type.BOOLEAN:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"“{value}” is not yes or no.")
    return value


@dataclass
class Plan:
    """What each mapped column becomes; built once per job."""

    email_index: int
    fields: list[tuple[int, str, int | None]]  # (column, field, max length) of text fields
    specials: list[tuple[int, str]]  # status, opt-in, dates, IP, language, mailing method
    customs: list[tuple[int, str, str]]  # (column, key, type)
    columns: list[str] = field(default_factory=list)  # staging columns after the fixed ones
    # Whether the next chunk first tries a plain INSERT: true until a chunk meets rows already
    # there (see `_upsert`).
    plain_inserts: bool = True


def _plan(job: ImportJob) -> Plan:
    position = {h: i for i, h in enumerate(job.headers)}
    types = dict(CustomField.objects.values_list("key", "type"))
    email_index = -1
    fields: list[tuple[int, str, int | None]] = []
    specials: list[tuple[int, str]] = []
    customs: list[tuple[int, str, str]] = []
    for header, target in job.mapping.items():
        index = position[header]
        if target == "email":
            email_index = index
        elif target.startswith(CUSTOM_PREFIX):
            key = target[len(CUSTOM_PREFIX) :]
            customs.append((index, key, types.get(key, CustomField.Type.TEXT)))
        elif target in ("language", "mailing_method", *LIST_ONLY, *CONTACT_ONLY):
            specials.append((index, target))
        else:
            fields.append((index, target, _field_max_length(target)))
    plan = Plan(email_index, fields, specials, customs)
    plan.columns = [f for _, f, _ in fields] + [t for _, t in specials]
    if customs:
        plan.columns.append("custom")
    return plan


def _special(target: str, value: str) -> object:
    lowered = value.lower()
    if target == "status":
        if lowered not in _STATUS:
            raise ValueError(
                f"“{value}” is not a status (use subscribed, unsubscribed or bounced)."
            )
        return lowered
    if target == "optin":
        if lowered not in _OPTIN:
            raise ValueError(
                f"“{value}” is not an opt-in kind (use none, single, double_pending or "
                "double_confirmed)."
            )
        return lowered
    if target in ("optin_at", "optin_confirmed_at"):
        return _parse_datetime(value)
    if target == "optin_ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"“{value}” is not an IP address.") from None
    if target == "language":
        if lowered not in _LANGUAGES:
            raise ValueError(f"“{value}” is not a language we know (use en, nl, fr or de).")
        return _LANGUAGES[lowered]
    if target == "mailing_method":
        if lowered not in _MAILING_METHOD:
            raise ValueError(f"“{value}” is not a mailing method (use email, post, both or none).")
        return lowered
    raise AssertionError(target)


_LABELS = {**TARGET_LABELS}


_BLANK = "(a row of empty cells)"


def _row(plan: Plan, values: list[str], width: int) -> tuple[str, list[Any]] | str:
    """(normalised e-mail, staged values) for a good row, or the reason it is rejected
    (`_BLANK` itself for a row with nothing but spaces, which is skipped like an empty line)."""
    if len(values) > width and any(v.strip() for v in values[width:]):
        return (
            f"This row has {len(values)} values but the header names {width} columns "
            "(a stray delimiter or an unquoted line break?)."
        )
    if len(values) < width:
        return (
            f"This row has {len(values)} values but the header names {width} columns "
            "(a line break inside a value that is not quoted?)."
        )
    raw_email = values[plan.email_index]
    if not raw_email.strip():
        if not any(v.strip() for v in values):
            return _BLANK
        return "The e-mail address is empty; rows are matched on the e-mail address."
    try:
        email = normalize_email(raw_email)
    except InvalidEmail as exc:
        return str(exc)
    staged: list[Any] = []
    for index, name, max_length in plan.fields:
        value = values[index].strip()
        if max_length is not None and len(value) > max_length:
            return f"{_LABELS[name]} is longer than {max_length} characters."
        staged.append(value)
    for index, target in plan.specials:
        value = values[index].strip()
        if not value:
            staged.append(None)
            continue
        try:
            staged.append(_special(target, value))
        except ValueError as exc:
            return f"{_LABELS[target]}: {exc}"
    if plan.customs:
        custom: dict[str, object] = {}
        for index, key, kind in plan.customs:
            value = values[index].strip()
            if value:
                try:
                    custom[key] = _parse_custom(kind, value)
                except ValueError as exc:
                    return f"Custom field {key}: {exc}"
        staged.append(json.dumps(custom))
    return email, staged


def _merge_staged(plan: Plan, earlier: list[Any], later: list[Any]) -> None:
    """A later row of the same e-mail overwrites the earlier one's values where it has some."""
    offset = 4  # line, email, email_normalized, email_hash
    n = len(plan.fields) + len(plan.specials)
    for i in range(n):
        value = later[offset + i]
        if value not in ("", None):
            earlier[offset + i] = value
    earlier[0] = later[0]
    earlier[1] = later[1]
    if plan.customs:
        merged = {**json.loads(earlier[offset + n]), **json.loads(later[offset + n])}
        earlier[offset + n] = json.dumps(merged)


# --- Rows: set-based apply ------------------------------------------------------------------------

_SQL_TYPES = {"optin_at": "timestamptz", "optin_confirmed_at": "timestamptz", "optin_ip": "inet"}

Given = dict[str, tuple[str, list[Any]]]


def _insert_columns(model: type[models.Model], given: Given) -> tuple[str, str, list[Any]]:
    """Column list, SELECT expressions and their parameters for an INSERT filling every column.

    Columns not in `given` get the model field's default, so a field added to the model later
    cannot make the import fail on a NOT NULL column.
    """
    columns: list[str] = []
    expressions: list[str] = []
    params: list[Any] = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key:
            continue
        column = model_field.column or model_field.attname
        columns.append(connection.ops.quote_name(column))
        if column in given:
            expression, expression_params = given[column]
            expressions.append(expression)
            params.extend(expression_params)
        elif isinstance(model_field, models.DateTimeField) and model_field.default is timezone.now:
            expressions.append("now()")
        elif isinstance(model_field, models.JSONField):
            expressions.append("%s::jsonb")
            params.append(json.dumps(model_field.get_default()))
        else:
            expressions.append("%s")
            params.append(model_field.get_default())
    return ", ".join(columns), ", ".join(expressions), params


def _given_fields(model: type[models.Model], plan: Plan, skip: tuple[str, ...] = ()) -> Given:
    """Staged values for the mapped fields; an empty special cell takes the field's default."""
    given: Given = {f: (f"s.{f}", []) for _, f, _ in plan.fields}
    for _, target in plan.specials:
        if target in skip:
            continue
        model_field = model._meta.get_field(target)
        assert isinstance(model_field, models.Field)
        default = model_field.get_default()
        given[target] = (
            (f"s.{target}", []) if default is None else (f"COALESCE(s.{target}, %s)", [default])
        )
    if plan.customs:
        given["custom_fields"] = ("s.custom", [])
    return given


def _upsert(
    plan: Plan,
    *,
    table: str,
    key: str,
    columns: str,
    expressions: str,
    params: list[Any],
    sets: list[str],
    also: str = "",
    also_params: list[Any] | None = None,
) -> int:
    """INSERT … ON CONFLICT DO UPDATE, then record on each staged row that met an existing row
    that row's id (`also` is a further data-modifying CTE over `landed`, e.g. the sources);
    returns how many met one.

    The unique index on (account, …, `key`) arbitrates, so no plan depends on the statistics of
    a target table that this very import is filling (a join planned on the statistics of an
    empty list can scan the list once per staged row). Later statements reach rows by id.

    Into a new list or database nearly every row is new, and a plain INSERT costs a quarter
    less than ON CONFLICT (which checks the unique index before each row as well as after). So
    while chunks meet no existing row, each first tries a plain INSERT in a savepoint; the
    unique index refuses it if any row was there already, and the chunk then takes the upsert."""
    all_params = [*params, *(also_params or [])]
    if plan.plain_inserts:
        insert = f"INSERT INTO {table} AS t ({columns}) SELECT {expressions} FROM import_stage s"
        if also:
            insert = f"WITH landed AS ({insert} RETURNING t.id){also} SELECT 1"
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(insert, all_params)
            return 0
        except IntegrityError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
                raise
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH landed AS (INSERT INTO {table} AS t ({columns}) SELECT {expressions} "
            f"FROM import_stage s ON CONFLICT (account_id, {key}) DO UPDATE SET "
            f"{', '.join(sets)} RETURNING t.id, t.{key.split(', ')[-1]} AS key, "
            "(t.xmax = 0) AS inserted)"
            f"{also} UPDATE import_stage s SET target_id = landed.id FROM landed "
            "WHERE NOT landed.inserted AND s.email_normalized = landed.key",
            all_params,
        )
        met = cursor.rowcount
    plan.plain_inserts = met == 0
    return met


def _update_met(table: str, sets: list[str]) -> None:
    """Sets `sets` on the rows that staged rows met, by id. Only those few rows are read: the
    statistics tell the planner how few they are, or it would scan the whole table per chunk."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE import_stage")
        cursor.execute(
            f"UPDATE {table} t SET {', '.join(sets)} FROM import_stage s "
            "WHERE s.target_id IS NOT NULL AND t.id = s.target_id",
        )


def _stage_suppressions(account: int) -> None:
    """Marks the staged addresses that are suppressed, for `_apply_list` and `_apply_contacts`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE import_stage s SET sup_reason = sup.reason FROM contacts_suppression sup "
            "WHERE sup.account_id = %s AND sup.email_hash = s.email_hash",
            [account],
        )


def _excluded_sets(plan: Plan) -> list[str]:
    """Text and custom fields: an empty cell never clears what the database holds."""
    sets = [
        f"{f} = CASE WHEN EXCLUDED.{f} <> '' THEN EXCLUDED.{f} ELSE t.{f} END"
        for _, f, _ in plan.fields
    ]
    if plan.customs:
        sets.append("custom_fields = t.custom_fields || EXCLUDED.custom_fields")
    sets.append("updated_at = now()")
    return sets


def _apply_list(job: ImportJob, plan: Plan) -> int:
    """Upserts the staged rows into the job's list; returns how many were kept from subscribing.

    Status and opt-in columns of rows already in the list are set in a second statement, by id:
    there an empty cell keeps the entry's value, and a suppressed address is never subscribed."""
    account, list_id = job.account_id, job.list_id
    specials = [t for _, t in plan.specials]
    status_in = "s.status" if "status" in specials else "NULL"
    forced = "CASE WHEN s.sup_reason = 'bounced' THEN 'bounced' ELSE 'unsubscribed' END"

    def status(otherwise: str) -> str:
        """The file's status, else `otherwise`; never subscribed for a suppressed address."""
        wanted = f"COALESCE({status_in}, {otherwise})"
        return (
            f"CASE WHEN s.sup_reason IS NOT NULL AND {wanted} = 'subscribed' THEN {forced} "
            f"ELSE {wanted} END"
        )

    given = _given_fields(ListEntry, plan, skip=("status",))
    given.update(
        account_id=("%s", [account]),
        list_id=("%s", [list_id]),
        email=("s.email", []),
        email_normalized=("s.email_normalized", []),
        status=(status("'subscribed'"), []),
    )
    columns, expressions, params = _insert_columns(ListEntry, given)
    later = [f"{t} = COALESCE(s.{t}, t.{t})" for t in specials if t != "status"]
    later.append(f"status = {status('t.status')}")
    with connection.cursor() as cursor:
        met = _upsert(
            plan,
            table="contacts_listentry",
            key="list_id, email_normalized",
            columns=columns,
            expressions=expressions,
            params=params,
            sets=["email = EXCLUDED.email", *_excluded_sets(plan)],
        )
        if met:
            _update_met("contacts_listentry", later)
        cursor.execute(
            'INSERT INTO contacts_importreject (account_id, job_id, line, kind, reason, "values") '
            "SELECT %s, %s, s.line, 'suppressed', 'The address is on the suppression list ('"
            " || s.sup_reason || '), so this import did not subscribe it: the entry is '"
            f" || {forced} || '.', jsonb_build_array(s.email) FROM import_stage s"
            f" WHERE s.sup_reason IS NOT NULL AND COALESCE({status_in}, 'subscribed') = 'subscribed'",
            [account, job.pk],
        )
        return cursor.rowcount


def _apply_contacts(job: ImportJob, plan: Plan) -> int:
    """Upserts the staged rows into contacts and adds the import as their source; returns how
    many of the addresses are suppressed (they stay so: a contact row subscribes no one)."""
    account = job.account_id
    specials = [t for _, t in plan.specials if t not in OPTIN]
    given = _given_fields(Contact, plan, skip=tuple(OPTIN))
    given.update(account_id=("%s", [account]), email=("s.email_normalized", []))
    columns, expressions, params = _insert_columns(Contact, given)
    source_columns, source_expressions, source_params = _insert_columns(
        Source,
        {
            "account_id": ("%s", [account]),
            "contact_id": ("landed.id", []),
            "list_id": ("NULL", []),
            "name": ("%s", [job.name]),
        },
    )
    with connection.cursor() as cursor:
        met = _upsert(
            plan,
            table="contacts_contact",
            key="email",
            columns=columns,
            expressions=expressions,
            params=params,
            sets=_excluded_sets(plan),
            also=f", sources AS (INSERT INTO contacts_source ({source_columns}) SELECT "
            f"{source_expressions} FROM landed ON CONFLICT (account_id, contact_id, name) "
            "DO NOTHING)",
            also_params=source_params,
        )
        if specials and met:
            _update_met("contacts_contact", [f"{t} = COALESCE(s.{t}, t.{t})" for t in specials])
        if "optin" in plan.columns:
            _record_optins(job, plan)
        cursor.execute("SELECT count(*) FROM import_stage WHERE sup_reason IS NOT NULL")
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def _record_optins(job: ImportJob, plan: Plan) -> None:
    """Proven opt-in data in a contact import goes to the consent ledger (source: the import).

    Double opt-in keeps its request and confirmation times and IP as evidence; a single opt-in
    keeps its IP and, in the event's text, its date. "none" or an empty cell records nothing."""
    from consent.models import ConsentEvent, LegalBasis, Purpose
    from consent.services import consent_events_bulk_record

    column = {name: f"s.{name}" if name in plan.columns else "NULL" for name in OPTIN}
    requested, confirmed = f"{column['optin_at']}", f"{column['optin_confirmed_at']}"
    for optin, status, doi_requested, doi_confirmed in [
        (ListEntry.OptIn.SINGLE, ConsentEvent.Status.GRANTED, "NULL", "NULL"),
        (ListEntry.OptIn.DOUBLE_CONFIRMED, ConsentEvent.Status.GRANTED, requested, confirmed),
        (ListEntry.OptIn.DOUBLE_PENDING, ConsentEvent.Status.PENDING, requested, "NULL"),
    ]:
        consent_events_bulk_record(
            purpose_key=Purpose.E_MARKETING,
            status=status,
            legal_basis=LegalBasis.CONSENT,
            channel="import",
            source=f"import: {job.name}",
            contacts_sql=(
                f"SELECT c.id AS contact_id, {column['optin_ip']}::inet AS ip, "
                f"{doi_requested}::timestamptz AS doi_requested_at, "
                f"{doi_confirmed}::timestamptz AS doi_confirmed_at, "
                "'Opt-in (' || s.optin || ') carried by the import ' || %s"
                f" || COALESCE(', given ' || {requested}::text, '') AS text "
                "FROM import_stage s JOIN contacts_contact c ON c.account_id = %s "
                "AND c.email = s.email_normalized WHERE s.optin = %s"
            ),
            params=[job.name, job.account_id, optin],
            with_evidence=True,
            text_per_row=True,
        )


def _staging_sql(plan: Plan) -> str:
    columns = ["line bigint", "email text", "email_normalized text", "email_hash text"]
    for name in plan.columns:
        sql_type = "jsonb" if name == "custom" else _SQL_TYPES.get(name, "text")
        columns.append(f"{name} {sql_type}")
    columns += ["target_id bigint", "sup_reason text"]
    # Dropped at the commit; inside an outer transaction (tests) the chunk before left it.
    return (
        "DROP TABLE IF EXISTS pg_temp.import_stage; "
        f"CREATE TEMPORARY TABLE import_stage ({', '.join(columns)}) ON COMMIT DROP"
    )


# --- The run ---------------------------------------------------------------------------------------


def import_claim(*, job_id: int) -> str | None:
    """Takes a queued job (or one whose worker died) for this worker; None when another has it."""
    claim = uuid.uuid4().hex
    now = timezone.now()
    updated = ImportJob.objects.filter(
        Q(status=ImportJob.Status.QUEUED) | Q(status=ImportJob.Status.RUNNING, lease_until__lt=now),
        pk=job_id,
    ).update(status=ImportJob.Status.RUNNING, claim=claim, lease_until=now + LEASE, started_at=now)
    return claim if updated else None


@dataclass
class _Source:
    records: Iterator[Record]
    progress: Callable[[int], float]
    estimate: int


def _open_records(job: ImportJob, stream: IO[bytes]) -> _Source:
    if job.file_format == "xlsx":
        records, max_row = _xlsx_records(stream)
        total = max((max_row or 1) - 1, 1)
        return _Source(records, lambda line: min(line / total, 1.0), total)
    scan = _scan_encoding(stream)
    if scan.encoding != job.encoding:
        job.encoding = scan.encoding
        ImportJob.objects.filter(pk=job.pk).update(encoding=scan.encoding)
    size = max(job.size, 1)

    def progress(_line: int) -> float:
        try:
            return min(stream.tell() / size, 1.0)
        except (OSError, ValueError):
            return 0.0

    records = _csv_records(stream, scan.encoding, job.delimiter or ",", checked=not scan.clean)
    return _Source(records, progress, max(scan.lines - 1, 0))


def import_execute(*, account_id: int, job_id: int) -> None:
    """Runs a job to its end, one committed chunk at a time. Safe to call twice: the second
    caller finds the job claimed and returns."""
    with tenant_atomic(account_id):
        claim = import_claim(job_id=job_id)
    if claim is None:
        return
    try:
        _execute(account_id, job_id, claim)
    except ImportFileError as exc:
        _fail(account_id, job_id, claim, str(exc))
    except Exception as exc:
        _fail(
            account_id,
            job_id,
            claim,
            f"The import stopped on an unexpected error ({type(exc).__name__}).",
        )
        raise


def _fail(account_id: int, job_id: int, claim: str, message: str) -> None:
    with tenant_atomic(account_id):
        ImportJob.objects.filter(pk=job_id, claim=claim).update(
            status=ImportJob.Status.FAILED,
            error=f"{message} The rows counted as imported were imported; the rest were not: "
            "fix the file and import it again, or resume.",
            finished_at=timezone.now(),
            claim="",
        )


@dataclass
class _Chunk:
    rows: int
    copy_data: bytes  # the rows in COPY's text format
    rejects: list[tuple[int, str, list[str]]]
    done: int
    progress: float
    total: int
    sent: threading.Event = field(default_factory=threading.Event)  # rows and rejects sent


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPE = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _copy_escaped(text: str) -> str:
    return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPE[m.group()], text)


def _in_key_order(chunk: dict[str, list[Any]]) -> Iterator[list[Any]]:
    """A chunk's rows by e-mail: staged in this order, they reach the unique index in it, and
    each index page the chunk touches is visited once in a row (the sort costs the reading
    thread, which has time to spare, rather than the database)."""
    return (chunk[email] for email in sorted(chunk))


def _copy_data(rows: Iterable[list[Any]]) -> bytes:
    """The rows in COPY's text format, made by the reading thread: it waits for the database
    anyway, while the thread applying chunks is the one the import waits for.

    NUL, which no accepted value contains (PostgreSQL cannot store it), stands for NULL until
    one replace over the whole chunk; a row is escaped only when it needs it."""
    lines = []
    for row in rows:
        line = "\t".join(["\0" if v is None else str(v) for v in row])
        if line.count("\t") != len(row) - 1 or "\\" in line or "\n" in line or "\r" in line:
            line = "\t".join(["\0" if v is None else _copy_escaped(str(v)) for v in row])
        lines.append(line)
    lines.append("")
    return "\n".join(lines).replace("\0", "\\N").encode()


class _Applier:
    """Applies chunks in order, each in its own transaction.

    Outside a transaction (a worker), a second thread with its own database connection applies
    one chunk while the caller parses the next, so PostgreSQL and Python work at the same time;
    at most two chunks are in memory. Inside a transaction (tests) chunks apply inline, on the
    caller's connection, which is the only one that sees the uncommitted rows."""

    # The applying thread mostly waits for PostgreSQL, and after each reply it waits for the
    # parsing thread to hand over the GIL: by default after 5 ms, several times per statement.
    SWITCH_INTERVAL = 0.0005

    def __init__(self, account_id: int, job: ImportJob, plan: Plan, claim: str) -> None:
        self.args = (account_id, job, plan, claim)
        self.pending: Future[bool] | None = None
        self.executor = None if connection.in_atomic_block else ThreadPoolExecutor(max_workers=1)
        self.switch_interval = sys.getswitchinterval()
        if self.executor is not None:
            sys.setswitchinterval(self.SWITCH_INTERVAL)

    def submit(self, chunk: _Chunk, *, final: bool = False) -> bool:
        """False when the job is no longer ours: stop reading."""
        if self.executor is None:
            return _commit_chunk(*self.args, chunk, final=final)
        if self.pending is not None and not self.pending.result():
            return False
        self.pending = self.executor.submit(self._in_thread, chunk, final)
        if final:
            return self.pending.result()
        # Sending the rows (COPY, rejects) is the part of a chunk that needs Python all along;
        # parsing at the same time makes it three times slower, and the applying thread is the
        # one the import waits for.
        chunk.sent.wait()
        return True

    def _in_thread(self, chunk: _Chunk, final: bool) -> bool:
        try:
            return _commit_chunk(*self.args, chunk, final=final)
        finally:
            chunk.sent.set()

    def close(self) -> None:
        sys.setswitchinterval(self.switch_interval)
        if self.executor is not None:
            if self.pending is not None and not self.pending.done():
                self.pending.cancel()
            # The thread's own connection: `connection` is looked up in that thread.
            self.executor.submit(lambda: connection.close()).result()
            self.executor.shutdown(wait=True)


def _execute(account_id: int, job_id: int, claim: str) -> None:
    with tenant_atomic(account_id):
        job = ImportJob.objects.get(pk=job_id)
        plan = _plan(job)
    width = len(job.headers)
    pad = job.file_format == "xlsx"  # a spreadsheet row simply ends at its last filled cell
    skip = job.rows_done
    applier = _Applier(account_id, job, plan, claim)
    try:
        with job.upload.open("rb") as stream:
            source = _open_records(job, stream)
            header_seen = False
            done = committed = 0
            chunk: dict[str, list[Any]] = {}
            rejects: list[tuple[int, str, list[str]]] = []
            row_of = _row
            hash_of = email_hash
            email_index = plan.email_index
            for record in source.records:
                values = record.values
                if not header_seen:
                    header_seen = record.problem != "" or any(v.strip() for v in values)
                    continue
                if not record.problem and not any(values):
                    continue
                done += 1
                if done <= skip:
                    continue
                if record.problem:
                    rejects.append((record.line, record.problem, values))
                else:
                    if pad and len(values) < width:
                        values = values + [""] * (width - len(values))
                    result = row_of(plan, values, width)
                    if isinstance(result, str):
                        if result is _BLANK:
                            done -= 1
                        else:
                            rejects.append((record.line, result, values))
                    else:
                        email, staged = result
                        row = [record.line, values[email_index].strip(), email, hash_of(email)]
                        row += staged
                        earlier = chunk.get(email)
                        if earlier is None:
                            chunk[email] = row
                        else:
                            _merge_staged(plan, earlier, row)
                if done - max(committed, skip) >= CHUNK_ROWS:
                    estimate = max(source.estimate, done)
                    progress = source.progress(0)
                    part = _Chunk(
                        len(chunk),
                        _copy_data(_in_key_order(chunk)),
                        rejects,
                        done,
                        progress,
                        estimate,
                    )
                    if not applier.submit(part):
                        return
                    committed = done
                    chunk, rejects = {}, []
            part = _Chunk(len(chunk), _copy_data(_in_key_order(chunk)), rejects, done, 1.0, done)
            applier.submit(part, final=True)
    finally:
        applier.close()


def _reject_values(values: list[str]) -> list[str]:
    return [v.replace("\x00", "\u2400") for v in values]


def _commit_chunk(
    account_id: int, job: ImportJob, plan: Plan, claim: str, part: _Chunk, *, final: bool = False
) -> bool:
    """Applies one chunk and moves the checkpoint in one transaction; False when the job is no
    longer ours (cancelled, or taken over after our lease ran out)."""
    with tenant_atomic(account_id):
        current = (
            ImportJob.objects.select_for_update()
            .filter(pk=job.pk)
            .values_list("status", "claim")
            .first()
        )
        if current != (ImportJob.Status.RUNNING, claim):
            return False
        rejects = part.rejects
        if part.rows:
            columns = ["line", "email", "email_normalized", "email_hash", *plan.columns]
            with connection.cursor() as cursor:
                cursor.execute(_staging_sql(plan))
                with cursor.copy(f"COPY import_stage ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(part.copy_data)
            _stage_suppressions(account_id)
        if rejects:
            ImportReject.objects.bulk_create(
                [
                    ImportReject(
                        account_id=account_id,
                        job_id=job.pk,
                        line=line,
                        reason=reason,
                        values=_reject_values(values),
                    )
                    for line, reason, values in rejects
                ],
                batch_size=2000,
            )
        part.sent.set()  # what follows is PostgreSQL's work
        suppressed = 0
        if part.rows:
            apply = _apply_list if job.target == ImportJob.Target.LIST else _apply_contacts
            suppressed = apply(job, plan)
        now = timezone.now()
        changes: dict[str, Any] = {
            "rows_done": part.done,
            "rows_total": part.total,
            "rows_imported": models.F("rows_imported") + part.rows,
            "rows_rejected": models.F("rows_rejected") + len(rejects),
            "rows_suppressed": models.F("rows_suppressed") + suppressed,
            "progress": part.progress,
            "lease_until": now + LEASE,
        }
        if final:
            changes.update(
                status=ImportJob.Status.SUCCEEDED, finished_at=now, progress=1.0, claim=""
            )
        ImportJob.objects.filter(pk=job.pk).update(**changes)
    return True


# --- Reading results --------------------------------------------------------------------------------


def rejects_rows(*, job: ImportJob) -> Iterator[list[str]]:
    """The rejects file: line, outcome, reason, then the row's original values under its headers."""
    yield ["line", "outcome", "reason", *job.headers]
    queryset = ImportReject.objects.filter(job=job).order_by("line", "id")
    for reject in queryset.values_list("line", "kind", "reason", "values").iterator(
        chunk_size=2000
    ):
        line, kind, reason, values = reject
        yield [str(line), kind, reason, *[str(v) for v in values]]


def jobs_recent(limit: int = 20) -> models.QuerySet[ImportJob]:
    return ImportJob.objects.select_related("list").order_by("-created_at", "-id")[:limit]
