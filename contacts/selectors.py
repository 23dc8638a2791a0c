from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contacts.models import (
    PERSON_FIELDS,
    Activity,
    Contact,
    ContactList,
    ContactMerge,
    DuplicateScan,
    DuplicateSuggestion,
    Language,
    ListEntry,
    MailingMethod,
    Segment,
    Source,
    Suppression,
)
from contacts.normalize import InvalidEmail, email_hash, normalize_email

# Identical to the expression of the trigram index `contact_search_trgm` (migration 0002), so a
# `LIKE '%term%'` on it is answered from the index. CASE rather than COALESCE: under row-level
# security PostgreSQL only uses an index for a condition it knows to be leakproof, and it treats
# COALESCE as possibly leaky (migration 0002 marks lower, || and LIKE leakproof).
CONTACT_SEARCH_SQL = (
    "lower(contacts_contact.first_name || ' ' || contacts_contact.last_name || ' ' || "
    "(CASE WHEN contacts_contact.email IS NULL THEN '' ELSE contacts_contact.email END) || ' ' || "
    "contacts_contact.company_name)"
)
# Counting a million rows on every page view is what makes such tables slow; past this many the
# page says "more than".
COUNT_CAP = 10_000


def _count_subquery(queryset: QuerySet[Any]) -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.order_by().values("list_id").annotate(n=Count("*")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def lists_with_counts() -> QuerySet[ContactList, ContactList]:
    """Lists with their entry counts and the date of the last campaign sent to them.

    Each figure is its own correlated subquery (an index-only scan of listentry_list_id), so
    entries are never joined with campaigns: that join multiplies rows before counting."""
    from mailings.models import Campaign

    entries = ListEntry.objects.filter(list_id=OuterRef("pk"))
    return ContactList.objects.annotate(
        entry_count=_count_subquery(entries),
        subscribed_count=_count_subquery(entries.filter(status=ListEntry.Status.SUBSCRIBED)),
        unsubscribed_count=_count_subquery(entries.filter(status=ListEntry.Status.UNSUBSCRIBED)),
        last_campaign_sent_at=Subquery(
            Campaign.objects.filter(lists=OuterRef("pk"), sent_at__isnull=False)
            .order_by("-sent_at")
            .values("sent_at")[:1]
        ),
    ).order_by("name", "id")


def dashboard_counts() -> dict[str, int]:
    return {
        "contacts": Contact.objects.count(),
        "lists": ContactList.objects.count(),
        "suppressions": Suppression.objects.count(),
    }


# --- Contacts -------------------------------------------------------------------------------------


def contact_search(queryset: QuerySet[Contact], term: str) -> QuerySet[Contact]:
    """Contacts whose name, e-mail or company contains `term` (case-insensitive)."""
    words = term.lower().split()
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # The SQL is a constant; the term is a parameter.
        condition = RawSQL(  # noqa: S611
            f"{CONTACT_SEARCH_SQL} LIKE %s", [f"%{escaped}%"], output_field=BooleanField()
        )
        queryset = queryset.filter(condition)
    return queryset


def contacts_filtered(
    *,
    search: str = "",
    source: str = "",
    list_id: int | None = None,
    segment: Segment | None = None,
) -> QuerySet[Contact]:
    """The contacts table: newest first, filtered. `source` is a list id or a source name."""
    queryset = segment_contacts(segment) if segment is not None else Contact.objects.all()
    if search.strip():
        queryset = contact_search(queryset, search)
    if source:
        if source.isdigit():
            queryset = queryset.filter(
                Exists(Source.objects.filter(contact_id=OuterRef("pk"), list_id=int(source)))
            )
        else:
            queryset = queryset.filter(
                Exists(Source.objects.filter(contact_id=OuterRef("pk"), name=source))
            )
    if list_id is not None:
        queryset = queryset.filter(
            Exists(ListEntry.objects.filter(list_id=list_id, email_normalized=OuterRef("email")))
        )
    return queryset.order_by("-id")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_after: int | None


def keyset_page(
    queryset: QuerySet[Any], *, after: int | None, size: int = 50, selective: bool = False
) -> Page:
    """One page of a queryset ordered by `-id`, starting below `after`: no OFFSET, so page 10,000
    costs what page 1 costs.

    `selective`: the filter (a text search) is best answered from its own index. Ordering by an
    expression keeps the planner from walking the id index backwards in the hope of meeting 50
    matches early, which for a rare term reads the whole account."""
    if after is not None:
        queryset = queryset.filter(id__lt=after)
    ordering = (F("id") + 0).desc() if selective else F("id").desc()
    items = list(queryset.order_by(ordering)[: size + 1])
    more = len(items) > size
    items = items[:size]
    return Page(items=items, next_after=items[-1].pk if more and items else None)


def capped_count(queryset: QuerySet[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact): counts at most `cap` + 1 rows."""
    n = queryset.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n <= cap


def contact_get(contact_id: int) -> Contact:
    """The contact of the current account (DoesNotExist for another account's id)."""
    return Contact.objects.select_related("organization").get(pk=contact_id)


@dataclass(frozen=True)
class ContactDetail:
    contact: Contact
    sources: list[Source]
    list_entries: list[ListEntry]
    suppression: Suppression | None
    activities: list[Activity]
    merges: list[ContactMerge]


def contact_detail(contact: Contact, *, activity_limit: int = 50) -> ContactDetail:
    entries: list[ListEntry] = []
    suppression = None
    if contact.email:
        entries = list(
            ListEntry.objects.filter(email_normalized=contact.email)
            .select_related("list")
            .order_by("list__name")
        )
        suppression = Suppression.objects.filter(email_hash=email_hash(contact.email)).first()
    return ContactDetail(
        contact=contact,
        sources=list(Source.objects.filter(contact=contact).order_by("created_at", "id")),
        list_entries=entries,
        suppression=suppression,
        activities=list(
            Activity.objects.filter(contact=contact).order_by("-occurred_at", "-id")[
                :activity_limit
            ]
        ),
        merges=list(ContactMerge.objects.filter(kept_contact=contact).order_by("-merged_at")),
    )


def contact_ids_merged_into(contact: Contact) -> list[int]:
    """Ids of contacts merged into this one (their consent ledger rows keep the old id)."""
    return list(
        ContactMerge.objects.filter(kept_contact=contact).values_list(
            "merged_contact_id", flat=True
        )
    )


def list_entries(contact_list: ContactList) -> QuerySet[ListEntry]:
    return ListEntry.objects.filter(list=contact_list).order_by("-id")


def suppression_find(email: str) -> Suppression | None:
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        return None
    return Suppression.objects.filter(email_hash=email_hash(normalized)).first()


# --- Segments -------------------------------------------------------------------------------------
#
# A segment's definition is a JSON object; every key narrows the set (AND). Keys:
#   source_lists: [list id, …]            a Source from one of these lists
#   source_names: [name, …]               a Source with one of these names
#   lists: [list id, …]                   an entry (same e-mail) in one of these lists
#   fields: [{"field", "op", "value"}]    op: equals, contains, starts_with, empty, not_empty
#                                         field: a standard field or "custom.<key>"
#   organizations: [id, …]                organization_no_mailings: bool
#   has_email: bool
#   languages: ["nl", …]                  mailing_methods: ["post", …]
#   last_activity_after / last_activity_before: ISO date or datetime; no_activity: bool
# Other apps add criteria to SEGMENT_CRITERIA (e.g. consent and subscription states).

SegmentCriterion = Callable[[QuerySet[Contact], Any], QuerySet[Contact]]
FIELD_OPS = ("equals", "contains", "starts_with", "empty", "not_empty")
TEXT_FIELDS = [*PERSON_FIELDS, "email"]


def _ids(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValidationError({key: "Give a list of ids."})
    return value


def _strings(value: Any, key: str, allowed: list[str] | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({key: "Give a list of texts."})
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValidationError({key: f"Unknown value(s): {', '.join(unknown)}."})
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError({key: "Give true or false."})
    return value


def _moment(value: Any, key: str) -> dt.datetime | dt.date:
    if isinstance(value, str):
        try:
            day = parse_date(value)
            if day is not None:
                return day
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is not None:
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    raise ValidationError({key: "Give a date (YYYY-MM-DD) or an ISO date and time."})


def _source_lists(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    ids = _ids(value, "source_lists")
    return qs.filter(Exists(Source.objects.filter(contact_id=OuterRef("pk"), list_id__in=ids)))


def _source_names(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    names = _strings(value, "source_names")
    return qs.filter(Exists(Source.objects.filter(contact_id=OuterRef("pk"), name__in=names)))


def _lists(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    ids = _ids(value, "lists")
    return qs.filter(
        Exists(ListEntry.objects.filter(list_id__in=ids, email_normalized=OuterRef("email")))
    )


def _field_condition(rule: Any) -> Q:
    if not isinstance(rule, dict):
        raise ValidationError({"fields": "Each field rule is an object with field, op and value."})
    field, op, value = rule.get("field"), rule.get("op", "equals"), rule.get("value", "")
    if op not in FIELD_OPS:
        raise ValidationError({"fields": f"Unknown operator {op!r}; use one of {FIELD_OPS}."})
    if not isinstance(field, str):
        raise ValidationError({"fields": "Each field rule names a field."})
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        if not key:
            raise ValidationError({"fields": "Name the custom field after 'custom.'."})
        lookup = f"custom_fields__{key}"
        if op == "empty":
            return Q(**{f"{lookup}__isnull": True}) | Q(**{lookup: ""})
        if op == "not_empty":
            return Q(**{f"{lookup}__isnull": False}) & ~Q(**{lookup: ""})
        if op == "equals":
            return Q(**{lookup: value})
        lookup = f"{lookup}__icontains" if op == "contains" else f"{lookup}__istartswith"
        return Q(**{lookup: str(value)})
    if field not in TEXT_FIELDS:
        raise ValidationError({"fields": f"Unknown field {field!r}."})
    if op == "empty":
        return Q(**{f"{field}__isnull": True}) | Q(**{field: ""})
    if op == "not_empty":
        return Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})
    if not isinstance(value, str | int | float):
        raise ValidationError({"fields": f"Give a text value for {field!r}."})
    if field == "email" and op == "equals":
        try:
            return Q(email=normalize_email(str(value)))
        except InvalidEmail as exc:
            raise ValidationError({"fields": str(exc)}) from None
    suffix = {"equals": "iexact", "contains": "icontains", "starts_with": "istartswith"}[op]
    return Q(**{f"{field}__{suffix}": str(value)})


def _fields(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    if not isinstance(value, list):
        raise ValidationError({"fields": "Give a list of field rules."})
    for rule in value:
        qs = qs.filter(_field_condition(rule))
    return qs


def _organizations(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    return qs.filter(organization_id__in=_ids(value, "organizations"))


def _organization_no_mailings(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    if _bool(value, "organization_no_mailings"):
        return qs.filter(organization__no_mailings=True)
    return qs.filter(Q(organization__isnull=True) | Q(organization__no_mailings=False))


def _has_email(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    return qs.filter(email__isnull=not _bool(value, "has_email"))


def _languages(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    return qs.filter(language__in=_strings(value, "languages", list(Language.values)))


def _mailing_methods(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    return qs.filter(
        mailing_method__in=_strings(value, "mailing_methods", list(MailingMethod.values))
    )


def _activity_after(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    moment = _moment(value, "last_activity_after")
    if isinstance(moment, dt.datetime):
        return qs.filter(last_activity_at__gte=moment)
    return qs.filter(last_activity_at__date__gte=moment)


def _activity_before(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    moment = _moment(value, "last_activity_before")
    if isinstance(moment, dt.datetime):
        return qs.filter(last_activity_at__lt=moment)
    return qs.filter(last_activity_at__date__lt=moment)


def _no_activity(qs: QuerySet[Contact], value: Any) -> QuerySet[Contact]:
    return qs.filter(last_activity_at__isnull=_bool(value, "no_activity"))


SEGMENT_CRITERIA: dict[str, SegmentCriterion] = {
    "source_lists": _source_lists,
    "source_names": _source_names,
    "lists": _lists,
    "fields": _fields,
    "organizations": _organizations,
    "organization_no_mailings": _organization_no_mailings,
    "has_email": _has_email,
    "languages": _languages,
    "mailing_methods": _mailing_methods,
    "last_activity_after": _activity_after,
    "last_activity_before": _activity_before,
    "no_activity": _no_activity,
}


def definition_contacts(definition: Any) -> QuerySet[Contact]:
    """The contacts matching a (saved or unsaved) segment definition; raises ValidationError
    naming the key when the definition is malformed. An empty definition matches everyone."""
    if not isinstance(definition, dict):
        raise ValidationError("A segment definition is a JSON object.")
    unknown = sorted(set(definition) - set(SEGMENT_CRITERIA))
    if unknown:
        raise ValidationError(
            {
                key: f"Unknown criterion; use one of {', '.join(SEGMENT_CRITERIA)}."
                for key in unknown
            }
        )
    queryset = Contact.objects.all()
    for key, value in definition.items():
        queryset = SEGMENT_CRITERIA[key](queryset, value)
    return queryset


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    """The contacts of a segment, as one SQL query."""
    return definition_contacts(segment.definition)


def segments_all() -> QuerySet[Segment]:
    return Segment.objects.order_by("name", "id")


# --- Duplicates -----------------------------------------------------------------------------------


def duplicate_suggestions_open() -> QuerySet[DuplicateSuggestion]:
    return (
        DuplicateSuggestion.objects.filter(status=DuplicateSuggestion.Status.OPEN)
        .select_related("contact_a", "contact_b")
        .order_by("-score", "id")
    )


def duplicate_scan_latest() -> DuplicateScan | None:
    return DuplicateScan.objects.order_by("-id").first()


def duplicate_scan_active() -> DuplicateScan | None:
    return (
        DuplicateScan.objects.filter(
            status__in=[DuplicateScan.Status.QUEUED, DuplicateScan.Status.RUNNING]
        )
        .order_by("-id")
        .first()
    )


MERGE_FIELDS = [*TEXT_FIELDS, "mailing_method", "organization", "no_mailings"]


def merge_choices(suggestion: DuplicateSuggestion) -> list[dict[str, Any]]:
    """Per field, both contacts' values, for the field-by-field choice (differing fields first)."""
    a, b = suggestion.contact_a, suggestion.contact_b
    rows = []
    for field in MERGE_FIELDS:
        va, vb = getattr(a, field), getattr(b, field)
        label = "E-mail" if field == "email" else field.replace("_", " ").capitalize()
        rows.append(
            {"field": field, "label": label, "a": va, "b": vb, "differs": (va or "") != (vb or "")}
        )
    return sorted(rows, key=lambda r: not r["differs"])
