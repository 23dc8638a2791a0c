"""Reads of the consent app. `email_eligible_contacts` is the one definition of who may receive
marketing e-mail; mailing runs and newsletter syncs call it."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import CharField, Count, Exists, Func, OuterRef, Q, QuerySet, Subquery
from django.forms.models import model_to_dict

from accounts.tenancy import current_account_id
from consent.models import (
    ConsentEvent,
    ConsentSettings,
    ConsentState,
    DataSubjectRequest,
    LegalBasis,
    Purpose,
    SubscriptionState,
    SubscriptionType,
)
from contacts.exports import neutralize
from contacts.models import Activity, Contact, ContactMerge, ListEntry, Source, Suppression
from contacts.normalize import EMAIL_HASH_SQL, email_hash


class EmailHash(Func):
    """`contacts.normalize.email_hash` in SQL, for matching suppressions set-based."""

    template = EMAIL_HASH_SQL.format("%(expressions)s")
    output_field = CharField()


def consent_settings_get() -> ConsentSettings:
    """The account's settings; the defaults (enforcement on) when never saved."""
    return ConsentSettings.objects.first() or ConsentSettings(enforce_email_consent=True)


def email_eligible_contacts(*, enforce: bool | None = None) -> QuerySet[Contact]:
    """Contacts that may receive marketing e-mail: an address, not suppressed, and — when the
    account enforces consent (the default) — a live e-marketing basis (granted, or legitimate
    interest not withdrawn). An explicit withdrawal always excludes, enforced or not.

    Channel rules (mailing method, organisations' no-mailings flag) belong to the mailing run.
    """
    if enforce is None:
        enforce = consent_settings_get().enforce_email_consent
    suppressed = Suppression.objects.filter(email_hash=EmailHash(OuterRef("email")))
    marketing = ConsentState.objects.filter(
        contact_id=OuterRef("pk"), purpose__key=Purpose.E_MARKETING
    )
    live = marketing.filter(
        Q(status=ConsentEvent.Status.GRANTED)
        | (Q(legal_basis=LegalBasis.LEGITIMATE_INTEREST) & ~Q(status=ConsentEvent.Status.WITHDRAWN))
    )
    contacts = (
        Contact.objects.filter(email__isnull=False).exclude(email="").exclude(Exists(suppressed))
    )
    if enforce:
        return contacts.filter(Exists(live))
    return contacts.exclude(Exists(marketing.filter(status=ConsentEvent.Status.WITHDRAWN)))


@dataclass(frozen=True)
class PreferencePage:
    topics: list[dict[str, Any]]
    email_marketing: bool


def preference_page(*, contact_id: int, language: str) -> PreferencePage:
    """What the preference centre shows, in one round trip (the page is the hottest public
    path: every e-mail links to it). Topic names in `language` when translated."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.id, COALESCE(NULLIF(t.translations -> %s ->> 'name', ''), t.name),
                   COALESCE(NULLIF(t.translations -> %s ->> 'description', ''), t.description),
                   COALESCE(ss.subscribed, false), live.granted
              FROM (SELECT EXISTS (
                        SELECT 1 FROM consent_consentstate cs
                          JOIN consent_purpose p ON p.id = cs.purpose_id
                         WHERE cs.account_id = %s AND cs.contact_id = %s
                           AND p.key = %s AND cs.status = 'granted') AS granted) live
              LEFT JOIN consent_subscriptiontype t ON t.account_id = %s
              LEFT JOIN consent_subscriptionstate ss
                     ON ss.account_id = t.account_id AND ss.subscription_type_id = t.id
                    AND ss.contact_id = %s
             ORDER BY t.position, t.id
            """,
            [
                language,
                language,
                current_account_id(),
                contact_id,
                Purpose.E_MARKETING,
                current_account_id(),
                contact_id,
            ],
        )
        rows = cursor.fetchall()
    topics = [
        {"id": topic_id, "name": name, "description": description, "subscribed": subscribed}
        for topic_id, name, description, subscribed, _ in rows
        if topic_id is not None
    ]
    return PreferencePage(topics=topics, email_marketing=bool(rows and rows[0][4]))


@dataclass(frozen=True)
class PurposeState:
    purpose: Purpose
    state: ConsentState | None

    @property
    def live(self) -> bool:
        return self.state is not None and self.state.status == ConsentEvent.Status.GRANTED


def contact_purpose_states(*, contact_id: int) -> list[PurposeState]:
    states = {s.purpose_id: s for s in ConsentState.objects.filter(contact_id=contact_id)}
    return [PurposeState(purpose=p, state=states.get(p.pk)) for p in Purpose.objects.order_by("id")]


@dataclass(frozen=True)
class TopicState:
    topic: SubscriptionType
    subscribed: bool


def contact_subscriptions(*, contact_id: int) -> list[TopicState]:
    """Every topic of the account with the contact's state (one query)."""
    state = SubscriptionState.objects.filter(
        contact_id=contact_id, subscription_type_id=OuterRef("pk")
    ).values("subscribed")[:1]
    topics = SubscriptionType.objects.annotate(state=Subquery(state)).order_by("position", "id")
    return [TopicState(topic=t, subscribed=bool(t.state)) for t in topics]


def contact_e_marketing_live(*, contact_id: int) -> bool:
    """Whether the contact's e-marketing consent is granted now (one query)."""
    return ConsentState.objects.filter(
        contact_id=contact_id,
        purpose__key=Purpose.E_MARKETING,
        status=ConsentEvent.Status.GRANTED,
    ).exists()


def merged_contact_ids(*, contact_id: int) -> list[int]:
    """Ids of contacts merged into this one (their ledger rows keep the old id)."""
    return list(
        ContactMerge.objects.filter(kept_contact_id=contact_id).values_list(
            "merged_contact_id", flat=True
        )
    )


def contact_timeline(*, contact_id: int) -> QuerySet[ConsentEvent]:
    """The contact's ledger, newest first (the contact page's timeline), including the events
    of contacts merged into it."""
    ids = [contact_id, *merged_contact_ids(contact_id=contact_id)]
    return (
        ConsentEvent.objects.filter(contact_id__in=ids)
        .select_related("purpose", "subscription_type", "recorded_by")
        .order_by("-id")
    )


def consent_overview() -> list[dict[str, Any]]:
    """Per purpose: how many contacts are granted, withdrawn, pending."""
    counts: dict[int, dict[str, int]] = {}
    for row in ConsentState.objects.values("purpose_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["purpose_id"], {})[row["status"]] = row["n"]
    return [
        {"purpose": p, **{s: counts.get(p.pk, {}).get(s, 0) for s in ConsentEvent.Status.values}}
        for p in Purpose.objects.order_by("id")
    ]


def data_subject_requests() -> QuerySet[DataSubjectRequest]:
    return DataSubjectRequest.objects.select_related("requested_by").order_by("-requested_at")


# --- Data-subject export ----------------------------------------------------------------------

_CONTACT_EXCLUDE = ["account"]


def _rows(queryset: QuerySet[Any], exclude: list[str]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in model_to_dict(obj).items() if k not in exclude}
        | {"id": obj.pk}
        | ({"created_at": obj.created_at} if hasattr(obj, "created_at") else {})
        for obj in queryset
    ]


def contact_export_data(*, contact: Contact) -> dict[str, list[dict[str, Any]]]:
    """Everything the account holds about one contact, section by section."""
    contact_row = {k: v for k, v in model_to_dict(contact).items() if k not in _CONTACT_EXCLUDE} | {
        "id": contact.pk,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }
    events = [
        {
            "id": e.pk,
            "recorded_at": e.recorded_at,
            "purpose": e.purpose.name,
            "subscription_type": e.subscription_type.name if e.subscription_type else "",
            "legal_basis": e.legal_basis,
            "status": e.status,
            "channel": e.channel,
            "source": e.source,
            "ip": e.ip,
            "user_agent": e.user_agent,
            "text": e.text,
            "doi_requested_at": e.doi_requested_at,
            "doi_confirmed_at": e.doi_confirmed_at,
        }
        for e in contact_timeline(contact_id=contact.pk).order_by("id")
    ]
    suppressions: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    if contact.email:
        suppressions = _rows(
            Suppression.objects.filter(email_hash=email_hash(contact.email)), ["account"]
        )
        entries = [
            row | {"list_name": name}
            for row, name in zip(
                _rows(
                    ListEntry.objects.filter(email_normalized=contact.email).order_by("id"),
                    ["account"],
                ),
                ListEntry.objects.filter(email_normalized=contact.email)
                .order_by("id")
                .values_list("list__name", flat=True),
                strict=True,
            )
        ]
    return {
        "contact": [contact_row],
        "sources": _rows(Source.objects.filter(contact_id=contact.pk).order_by("id"), ["account"]),
        "list_entries": entries,
        "activities": _rows(
            Activity.objects.filter(contact_id=contact.pk).order_by("occurred_at"), ["account"]
        ),
        "consent_events": events,
        "subscriptions": [
            {"subscription_type": t.topic.name, "subscribed": t.subscribed}
            for t in contact_subscriptions(contact_id=contact.pk)
        ],
        "suppressions": suppressions,
        "requests": _rows(
            DataSubjectRequest.objects.filter(contact_id_ref=contact.pk).order_by("id"),
            ["account", "requested_by"],
        ),
    }


def _cell(value: Any) -> str:
    """A CSV cell that no spreadsheet runs as a formula (DESIGN §2)."""
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str, ensure_ascii=False)
    return neutralize(value)


def export_zip(data: dict[str, list[dict[str, Any]]]) -> bytes:
    """`data.json` with every section, plus one CSV per section."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, default=str, ensure_ascii=False, indent=2))
        for section, rows in data.items():
            out = io.StringIO()
            columns: list[str] = []
            for row in rows:
                columns += [k for k in row if k not in columns]
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
            archive.writestr(f"{section}.csv", out.getvalue())
    return buffer.getvalue()
