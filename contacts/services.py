from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.tenancy import current_account_id
from contacts.models import (
    Activity,
    Contact,
    ContactList,
    ContactMerge,
    CustomField,
    DuplicateScan,
    DuplicateSuggestion,
    ListEntry,
    Segment,
    Source,
    Suppression,
)
from contacts.normalize import InvalidEmail, email_hash, normalize_email
from contacts.selectors import MERGE_FIELDS, TEXT_FIELDS, definition_contacts


def list_create(*, name: str, description: str = "") -> ContactList:
    return ContactList.objects.create(name=name, description=description)


def list_delete(*, contact_list: ContactList) -> None:
    contact_list.delete()


# --- Contacts -------------------------------------------------------------------------------------

EDITABLE_FIELDS = [
    *[f for f in TEXT_FIELDS if f != "email"],
    "email",
    "mailing_method",
    "organization",
    "no_mailings",
]


def custom_fields_clean(values: Any) -> dict[str, Any]:
    """Custom values checked against the account's typed definitions; ValidationError names the
    field. A null value removes the field."""
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "Give an object of field key → value."})
    definitions = {d.key: d for d in CustomField.objects.filter(key__in=list(values))}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise ValidationError({"custom_fields": f"There is no custom field {key!r}."})
        if value is None or value == "":
            cleaned[key] = None
            continue
        kind = definition.type
        if kind == CustomField.Type.NUMBER:
            if isinstance(value, bool):
                raise ValidationError({"custom_fields": f"{key}: give a number."})
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValidationError({"custom_fields": f"{key}: give a number."}) from None
            cleaned[key] = int(number) if number.is_integer() else number
        elif kind == CustomField.Type.DATE:
            try:
                cleaned[key] = dt.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise ValidationError(
                    {"custom_fields": f"{key}: give a date as YYYY-MM-DD."}
                ) from None
        elif kind == CustomField.Type.BOOLEAN:
            if not isinstance(value, bool):
                raise ValidationError({"custom_fields": f"{key}: give true or false."})
            cleaned[key] = value
        else:
            cleaned[key] = str(value)
    return cleaned


def _email_or_none(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_email(raw)
    except InvalidEmail as exc:
        raise ValidationError({"email": str(exc)}) from None


def _check_email_free(email: str | None, *, exclude_id: int | None = None) -> None:
    if email is None:
        return
    taken = Contact.objects.filter(email=email)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    other = taken.values_list("pk", flat=True).first()
    if other is not None:
        raise ValidationError({"email": f"Contact #{other} already has this e-mail address."})


def contact_create(
    *,
    fields: dict[str, Any],
    custom_fields: dict[str, Any] | None = None,
    sources: Sequence[dict[str, Any]] = (),
) -> Contact:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    values = dict(fields)
    values["email"] = _email_or_none(values.get("email"))
    _check_email_free(values["email"])
    cleaned = {k: v for k, v in custom_fields_clean(custom_fields or {}).items() if v is not None}
    contact = Contact.objects.create(**values, custom_fields=cleaned)
    for source in sources:
        source_list = source.get("list")
        name = source.get("name") or (source_list.name if source_list else "")
        if not name:
            raise ValidationError({"sources": "Each source names a list or has a name."})
        Source.objects.get_or_create(contact=contact, name=name, defaults={"list": source_list})
    return contact


def contact_update(
    *, contact: Contact, fields: dict[str, Any], custom_fields: dict[str, Any] | None = None
) -> Contact:
    """Rectification: changes the given fields only; the e-mail is normalised and stays unique."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    values = dict(fields)
    if "email" in values:
        values["email"] = _email_or_none(values["email"])
        _check_email_free(values["email"], exclude_id=contact.pk)
    for key, value in values.items():
        setattr(contact, key, value)
    if custom_fields:
        merged = {**contact.custom_fields, **custom_fields_clean(custom_fields)}
        contact.custom_fields = {k: v for k, v in merged.items() if v is not None}
    contact.updated_at = timezone.now()
    contact.save()
    return contact


def contact_delete(*, contact: Contact) -> None:
    contact.delete()


# --- Suppressions ---------------------------------------------------------------------------------


def suppression_add(
    *, email: str, reason: str = Suppression.Reason.MANUAL, origin: str = ""
) -> tuple[Suppression, bool]:
    """(suppression, created). An address already suppressed keeps its first reason."""
    try:
        normalized = normalize_email(email)
    except InvalidEmail as exc:
        raise ValidationError({"email": str(exc)}) from None
    if reason not in Suppression.Reason.values or reason == Suppression.Reason.ERASED:
        raise ValidationError({"reason": "Choose unsubscribed, bounced, complaint or manual."})
    return Suppression.objects.get_or_create(
        email_hash=email_hash(normalized),
        defaults={"email": normalized, "reason": reason, "origin": origin},
    )


def suppression_remove(*, suppression: Suppression) -> None:
    """Only manual entries can be lifted: an unsubscribe, bounce, complaint or erasure must hold."""
    if suppression.reason != Suppression.Reason.MANUAL:
        raise ValidationError(
            f"This address is suppressed because of: {suppression.get_reason_display().lower()}. "
            "Only manual entries can be removed."
        )
    suppression.delete()


# --- Activities -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityInput:
    kind: str
    occurred_at: dt.datetime
    contact_id: int | None = None
    email: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    rejected: list[dict[str, Any]]


def activities_ingest(*, activities: Sequence[ActivityInput]) -> IngestResult:
    """Stores a batch: contacts are resolved in one query, the rows inserted in one statement and
    `last_activity_at` moved forward in one UPDATE … FROM for the whole batch."""
    emails = {}
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(activities):
        if item.contact_id is None and item.email:
            try:
                emails[index] = normalize_email(item.email)
            except InvalidEmail as exc:
                rejected.append({"index": index, "message": str(exc)})
    by_email = dict(
        Contact.objects.filter(email__in=set(emails.values())).values_list("email", "pk")
    )
    wanted_ids = {a.contact_id for a in activities if a.contact_id is not None}
    known_ids = set(Contact.objects.filter(pk__in=wanted_ids).values_list("pk", flat=True))
    rows: list[Activity] = []
    rejected_indexes = {r["index"] for r in rejected}
    for index, item in enumerate(activities):
        if index in rejected_indexes:
            continue
        contact_id = (
            item.contact_id if item.contact_id is not None else by_email.get(emails.get(index, ""))
        )
        if contact_id is None or (item.contact_id is not None and contact_id not in known_ids):
            rejected.append({"index": index, "message": "No such contact."})
            continue
        rows.append(
            Activity(
                contact_id=contact_id,
                kind=item.kind,
                occurred_at=item.occurred_at,
                data=item.data or {},
            )
        )
    Activity.objects.bulk_create(rows, batch_size=5000)
    if rows:
        latest: dict[int, dt.datetime] = {}
        for row in rows:
            if row.contact_id not in latest or latest[row.contact_id] < row.occurred_at:
                latest[row.contact_id] = row.occurred_at
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE contacts_contact c SET last_activity_at = v.at
                  FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at)
                 WHERE c.id = v.id AND c.account_id = %s
                   AND (c.last_activity_at IS NULL OR c.last_activity_at < v.at)
                """,
                [list(latest), list(latest.values()), current_account_id()],
            )
    return IngestResult(accepted=len(rows), rejected=sorted(rejected, key=lambda r: r["index"]))


# --- Segments -------------------------------------------------------------------------------------


def segment_save(
    *, name: str, definition: dict[str, Any], segment: Segment | None = None
) -> Segment:
    definition_contacts(definition)  # raises ValidationError naming a malformed criterion
    if not name.strip():
        raise ValidationError({"name": "Give the segment a name."})
    if segment is None:
        return Segment.objects.create(name=name.strip(), definition=definition)
    segment.name = name.strip()
    segment.definition = definition
    segment.save(update_fields=["name", "definition"])
    return segment


def segment_delete(*, segment: Segment) -> None:
    segment.delete()


# --- Duplicates -----------------------------------------------------------------------------------

SCAN_STALE_AFTER = dt.timedelta(minutes=10)


def duplicate_scan_start(*, user_id: int | None = None) -> tuple[DuplicateScan, bool]:
    """(scan, started). A scan already queued or running is returned instead of a second one,
    unless its worker stopped reporting: then it is marked failed and a new scan starts."""
    from contacts.tasks_duplicates import duplicate_scan_run

    now = timezone.now()
    active = (
        DuplicateScan.objects.select_for_update()
        .filter(status__in=[DuplicateScan.Status.QUEUED, DuplicateScan.Status.RUNNING])
        .order_by("-id")
        .first()
    )
    if active is not None:
        last_sign = active.heartbeat_at or active.created_at
        if now - last_sign < SCAN_STALE_AFTER:
            return active, False
        DuplicateScan.objects.filter(pk=active.pk, status=active.status).update(
            status=DuplicateScan.Status.FAILED,
            error="The scan stopped reporting (its worker was lost). A new scan replaced it.",
            finished_at=now,
        )
    scan = DuplicateScan.objects.create(created_by_id=user_id)
    account_id = current_account_id()
    transaction.on_commit(lambda: duplicate_scan_run.delay(account_id, scan.pk))
    return scan, True


def duplicate_dismiss(*, suggestion: DuplicateSuggestion, user_id: int | None = None) -> None:
    DuplicateSuggestion.objects.filter(pk=suggestion.pk).update(
        status=DuplicateSuggestion.Status.DISMISSED,
        decided_at=timezone.now(),
        decided_by_id=user_id,
    )


def _consent_copy(*, keep: Contact, other: Contact, user_id: int | None) -> int:
    """Carries the other contact's consent over to the kept one through new ledger events.

    The ledger is append-only, so the other contact's rows stay keyed to its old id (the
    ContactMerge row links them). For each purpose (and subscription topic), when the other
    contact's latest event is more recent than the kept contact's, that statement is the
    person's latest will: it is re-recorded for the kept contact with its evidence and a source
    naming the merge. Returns the number of events written."""
    from consent.models import ConsentEvent

    has_topics = any(f.name == "subscription_type" for f in ConsentEvent._meta.get_fields())
    key_fields = ["purpose_id", "subscription_type_id"] if has_topics else ["purpose_id"]

    def latest(contact_id: int) -> dict[tuple[Any, ...], Any]:
        result: dict[tuple[Any, ...], Any] = {}
        for event in ConsentEvent.objects.filter(contact_id=contact_id).order_by("id"):
            result[tuple(getattr(event, f) for f in key_fields)] = event
        return result

    mine, theirs = latest(keep.pk), latest(other.pk)
    copies = []
    for key, event in theirs.items():
        current = mine.get(key)
        if current is not None and current.recorded_at >= event.recorded_at:
            continue
        values = {
            f.attname: getattr(event, f.attname)
            for f in ConsentEvent._meta.concrete_fields
            if f.attname not in ("id", "account_id", "contact_id", "recorded_by_id", "recorded_at")
        }
        values["source"] = f"merge of contact #{other.pk} (event #{event.pk})"[:200]
        values["channel"] = "merge"
        copies.append(
            ConsentEvent(
                **values,
                contact_id=keep.pk,
                recorded_by_id=user_id,
                recorded_at=max(timezone.now(), event.recorded_at),
            )
        )
    ConsentEvent.objects.bulk_create(copies)
    return len(copies)


# Rows whose move the merge handles itself, or that must not move (a personal link belongs to
# the address it was sent to; states are re-derived from the ledger events copied over).
_MERGE_HANDLED = {
    "contacts.source",
    "contacts.activity",
    "contacts.duplicatesuggestion",
    "contacts.contactmerge",
    "consent.consentstate",
    "consent.subscriptionstate",
    "consent.accesstoken",
}


def _repoint_other_relations(*, keep: Contact, other: Contact) -> dict[str, int]:
    """History kept by other apps (rows that point at a contact) moves to the kept contact. A row
    that would break a unique constraint there stays and goes with the other contact."""
    from django.db import IntegrityError

    moved: dict[str, int] = {}
    for relation in Contact._meta.related_objects:
        model = relation.related_model
        label = model._meta.label_lower
        if label in _MERGE_HANDLED or not relation.one_to_many or relation.field.model is Contact:
            continue
        field = relation.field.name
        try:
            with transaction.atomic():
                count = model._default_manager.filter(**{field: other}).update(**{field: keep})
        except IntegrityError:
            continue
        if count:
            moved[label] = count
    return moved


def duplicate_merge(
    *,
    suggestion: DuplicateSuggestion,
    keep_id: int,
    fields: dict[str, int] | None = None,
    user_id: int | None = None,
) -> ContactMerge:
    """Merges the suggestion's two contacts into `keep_id`.

    `fields` picks, per field, the contact whose value wins; a field not named keeps the kept
    contact's value, or takes the other's when the kept one is empty (nothing is lost without a
    choice). The other contact's sources, activities, consent (as new ledger events) and list
    entries (re-addressed to the kept e-mail) move over; then it is deleted and the merge is
    recorded."""
    pair = {suggestion.contact_a_id, suggestion.contact_b_id}
    if keep_id not in pair:
        raise ValidationError({"keep": "Keep one of the two contacts of this suggestion."})
    if suggestion.status != DuplicateSuggestion.Status.OPEN:
        raise ValidationError("This suggestion was dismissed.")
    other_id = (pair - {keep_id}).pop()
    contacts = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=pair)}
    if len(contacts) != 2:
        raise ValidationError("One of the two contacts no longer exists.")
    keep, other = contacts[keep_id], contacts[other_id]
    fields = fields or {}
    unknown = sorted(f for f in fields if f not in MERGE_FIELDS)
    if unknown:
        raise ValidationError({"fields": f"Unknown field(s): {', '.join(unknown)}."})
    if any(c not in pair for c in fields.values()):
        raise ValidationError({"fields": "Each field takes the value of one of the two contacts."})

    original_email = keep.email
    taken: dict[str, Any] = {}
    for field in MERGE_FIELDS:
        attname = "organization_id" if field == "organization" else field
        mine, theirs = getattr(keep, attname), getattr(other, attname)
        choice = fields.get(field)
        take_other = choice == other_id or (choice is None and mine in ("", None) and theirs)
        if take_other and mine != theirs:
            setattr(keep, attname, theirs)
            taken[field] = theirs
    keep.custom_fields = {**other.custom_fields, **keep.custom_fields}
    old_emails = {e for e in (original_email, other.email) if e} - {keep.email}

    merged_email = other.email
    moved: dict[str, int] = {}
    # The other contact goes first: its e-mail may be the one the kept contact takes.
    other_snapshot_sources = list(Source.objects.filter(contact=other).values("name", "list_id"))
    moved["activities"] = Activity.objects.filter(contact=other).update(contact=keep)
    moved["consent_events"] = _consent_copy(keep=keep, other=other, user_id=user_id)
    ContactMerge.objects.filter(kept_contact=other).update(kept_contact=keep)
    moved.update(_repoint_other_relations(keep=keep, other=other))
    keep.last_activity_at = max(
        (t for t in (keep.last_activity_at, other.last_activity_at) if t), default=None
    )
    other.delete()
    keep.updated_at = timezone.now()
    keep.save()
    existing = set(Source.objects.filter(contact=keep).values_list("name", flat=True))
    Source.objects.bulk_create(
        Source(contact=keep, name=s["name"], list_id=s["list_id"])
        for s in other_snapshot_sources
        if s["name"] not in existing
    )
    moved["sources"] = len([s for s in other_snapshot_sources if s["name"] not in existing])
    moved["list_entries"] = 0
    if keep.email:
        for old in old_emails:
            moved["list_entries"] += (
                ListEntry.objects.filter(email_normalized=old)
                .exclude(
                    list_id__in=ListEntry.objects.filter(email_normalized=keep.email).values(
                        "list_id"
                    )
                )
                .update(email=keep.email, email_normalized=keep.email, updated_at=timezone.now())
            )
    return ContactMerge.objects.create(
        kept_contact=keep,
        merged_contact_id=other_id,
        merged_email=merged_email,
        fields_taken={k: str(v) for k, v in taken.items()},
        moved=moved,
        score=suggestion.score,
        merged_by_id=user_id,
    )
