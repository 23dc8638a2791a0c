"""Writes of the consent app: the ledger, baseline, subscriptions, personal links, double opt-in,
data-subject requests. Every change of consent is a new ledger row (the database refuses edits);
current states follow by trigger (consent/migrations/0004)."""

from __future__ import annotations

import calendar
import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.tenancy import account_context, current_account_id, set_db_context
from consent import selectors
from consent.models import (
    AccessToken,
    BaselineRun,
    ConsentEvent,
    ConsentSettings,
    ConsentState,
    DataSubjectRequest,
    LegalBasis,
    Purpose,
    SubscriptionState,
    SubscriptionType,
)
from contacts.models import Contact, ListEntry, Suppression
from contacts.normalize import InvalidEmail, email_hash, normalize_email

DEFAULT_PURPOSES = [
    (Purpose.SALES, "Sales and service", "Contact about orders, contracts and service."),
    (Purpose.E_MARKETING, "E-marketing", "Newsletters and offers by e-mail."),
]

# (key, name, description, translations): four editable defaults.
DEFAULT_SUBSCRIPTION_TYPES: list[tuple[str, str, str, dict[str, dict[str, str]]]] = [
    (
        "newsletter",
        "Newsletter",
        "Our regular newsletter.",
        {
            "nl": {"name": "Nieuwsbrief", "description": "Onze regelmatige nieuwsbrief."},
            "fr": {"name": "Lettre d'information", "description": "Notre lettre régulière."},
            "de": {"name": "Newsletter", "description": "Unser regelmäßiger Newsletter."},
        },
    ),
    (
        "events",
        "Events and invitations",
        "Invitations to events, openings and performances.",
        {
            "nl": {"name": "Evenementen en uitnodigingen", "description": "Uitnodigingen."},
            "fr": {"name": "Événements et invitations", "description": "Invitations."},
            "de": {"name": "Veranstaltungen und Einladungen", "description": "Einladungen."},
        },
    ),
    (
        "offers",
        "Offers and promotions",
        "Special offers and discounts.",
        {
            "nl": {"name": "Aanbiedingen en acties", "description": "Speciale aanbiedingen."},
            "fr": {"name": "Offres et promotions", "description": "Offres spéciales."},
            "de": {"name": "Angebote und Aktionen", "description": "Sonderangebote."},
        },
    ),
    (
        "product_news",
        "Product news",
        "News about our products and services.",
        {
            "nl": {"name": "Productnieuws", "description": "Nieuws over onze producten."},
            "fr": {"name": "Nouveautés produits", "description": "Nos nouveautés."},
            "de": {"name": "Produktneuheiten", "description": "Neues über unsere Produkte."},
        },
    ),
]

PREFERENCE_TOKEN_DAYS = 365
DOUBLE_OPT_IN_TOKEN_DAYS = 30
# Suppressions a person may lift by confirming their own consent again; bounces and complaints
# stay until an admin removes them.
LIFTABLE_SUPPRESSIONS = [Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.ERASED]


@dataclass(frozen=True)
class Evidence:
    """What proves a consent change: where it came from and what was shown."""

    ip: str | None = None
    user_agent: str = ""
    text: str = ""
    channel: str = ""
    source: str = ""
    recorded_by_id: int | None = None


# --- Defaults ---------------------------------------------------------------------------------


def purposes_ensure_defaults() -> list[Purpose]:
    """The account's default purposes (idempotent; names stay as the account edited them)."""
    return [
        Purpose.objects.get_or_create(key=key, defaults={"name": name, "description": description})[
            0
        ]
        for key, name, description in DEFAULT_PURPOSES
    ]


def subscription_types_ensure_defaults() -> list[SubscriptionType]:
    """The four default topics, created once per account; edits and deletions are kept."""
    if SubscriptionType.objects.exists():
        return list(SubscriptionType.objects.order_by("position", "id"))
    return [
        SubscriptionType.objects.create(
            key=key, name=name, description=description, translations=translations, position=i
        )
        for i, (key, name, description, translations) in enumerate(DEFAULT_SUBSCRIPTION_TYPES)
    ]


def consent_defaults_ensure() -> None:
    purposes_ensure_defaults()
    subscription_types_ensure_defaults()


def purpose_get(*, key: str) -> Purpose:
    purposes_ensure_defaults()
    return Purpose.objects.get(key=key)


# --- Settings, purposes, subscription types -----------------------------------------------------


def consent_settings_update(*, enforce_email_consent: bool, signup_text: str = "") -> None:
    ConsentSettings.objects.update_or_create(
        account_id=current_account_id(),
        defaults={
            "enforce_email_consent": enforce_email_consent,
            "signup_text": signup_text,
            "updated_at": timezone.now(),
        },
    )


def purpose_update(*, purpose: Purpose, name: str, description: str) -> Purpose:
    purpose.name = name
    purpose.description = description
    purpose.save(update_fields=["name", "description"])
    return purpose


def subscription_type_create(
    *, key: str, name: str, description: str = "", translations: dict[str, Any] | None = None
) -> SubscriptionType:
    if SubscriptionType.objects.filter(key=key).exists():
        raise ValidationError({"key": f"A subscription type with the key {key!r} exists."})
    position = SubscriptionType.objects.count()
    return SubscriptionType.objects.create(
        key=key,
        name=name,
        description=description,
        translations=translations or {},
        position=position,
    )


def subscription_type_update(
    *, subscription_type: SubscriptionType, name: str, description: str
) -> SubscriptionType:
    subscription_type.name = name
    subscription_type.description = description
    subscription_type.save(update_fields=["name", "description"])
    return subscription_type


# --- The ledger -------------------------------------------------------------------------------


def consent_event_record(
    *,
    contact_id: int,
    purpose: Purpose,
    status: str,
    legal_basis: str,
    evidence: Evidence,
    subscription_type: SubscriptionType | None = None,
    doi_requested_at: datetime | None = None,
    doi_confirmed_at: datetime | None = None,
) -> ConsentEvent:
    """Appends one event; the trigger moves the current state."""
    if status not in ConsentEvent.Status.values:
        raise ValidationError({"status": f"{status!r} is not a consent status."})
    if legal_basis not in LegalBasis.values:
        raise ValidationError({"legal_basis": f"{legal_basis!r} is not a legal basis."})
    return ConsentEvent.objects.create(
        contact_id=contact_id,
        purpose=purpose,
        status=status,
        legal_basis=legal_basis,
        subscription_type=subscription_type,
        channel=evidence.channel,
        source=evidence.source,
        ip=evidence.ip or None,
        user_agent=evidence.user_agent[:1000],
        text=evidence.text,
        recorded_by_id=evidence.recorded_by_id,
        doi_requested_at=doi_requested_at,
        doi_confirmed_at=doi_confirmed_at,
    )


def consent_events_bulk_record(
    *,
    purpose_key: str,
    status: str,
    legal_basis: str,
    channel: str,
    source: str,
    contact_ids: Sequence[int] | None = None,
    contacts_sql: str | None = None,
    params: Sequence[Any] = (),
    with_evidence: bool = False,
    text: str = "",
    text_per_row: bool = False,
    recorded_by_id: int | None = None,
    when: Literal["always", "changed", "no_state"] = "always",
) -> int:
    """Records one event per contact in one `INSERT … SELECT` and returns how many were written.

    Give either `contact_ids`, or `contacts_sql`: a SELECT (with `params`) whose rows have a
    `contact_id` column, and, with `with_evidence=True`, also `ip` (inet or null),
    `doi_requested_at` and `doi_confirmed_at` (timestamptz or null) — e.g. opt-in data carried by
    an import. The SELECT runs under the account's row-level security like everything else.
    With `text_per_row=True` the SELECT also gives each row's `text` (e.g. an imported opt-in's
    own date and kind), used instead of `text`.
    `when="changed"` skips contacts whose state already has this status and basis;
    `when="no_state"` writes only for contacts without any state for the purpose (baselines).
    """
    if (contact_ids is None) == (contacts_sql is None):
        raise ValueError("Give exactly one of contact_ids and contacts_sql.")
    if status not in ConsentEvent.Status.values or legal_basis not in LegalBasis.values:
        raise ValueError(f"Unknown status {status!r} or legal basis {legal_basis!r}.")
    account_id = current_account_id()
    purpose = purpose_get(key=purpose_key)
    if contact_ids is not None:
        contacts_sql = "SELECT unnest(%s::bigint[]) AS contact_id"
        params = [list(contact_ids)]
    evidence = (
        "s.ip::inet, s.doi_requested_at, s.doi_confirmed_at"
        if with_evidence
        else "NULL::inet, NULL::timestamptz, NULL::timestamptz"
    )
    # Scalar subqueries with LIMIT, not NOT EXISTS: PostgreSQL plans an anti-join from
    # statistics that are stale right after a bulk insert in the same transaction, and a
    # nested-loop anti-join over a million contacts is quadratic. A per-row probe of the
    # unique (account, contact, purpose) index is linear whatever the statistics say.
    text_column = "COALESCE(s.text, %s)" if text_per_row else "%s"
    condition = {
        "always": "TRUE",
        "changed": "(SELECT 1 FROM consent_consentstate cs WHERE cs.account_id = %s"
        " AND cs.contact_id = s.contact_id AND cs.purpose_id = %s AND cs.status = %s"
        " AND cs.legal_basis = %s LIMIT 1) IS NULL",
        "no_state": "(SELECT 1 FROM consent_consentstate cs WHERE cs.account_id = %s"
        " AND cs.contact_id = s.contact_id AND cs.purpose_id = %s LIMIT 1) IS NULL",
    }[when]
    condition_params: list[Any] = []
    if when == "changed":
        condition_params = [account_id, purpose.pk, status, legal_basis]
    elif when == "no_state":
        condition_params = [account_id, purpose.pk]
    sql = f"""
        INSERT INTO consent_consentevent (account_id, contact_id, purpose_id, legal_basis, status,
            channel, source, ip, doi_requested_at, doi_confirmed_at, user_agent, text,
            recorded_by_id, recorded_at, subscription_type_id)
        SELECT %s, s.contact_id, %s, %s, %s, %s, %s, {evidence}, '', {text_column}, %s, now(), NULL
          FROM ({contacts_sql}) s
         WHERE s.contact_id IS NOT NULL AND {condition}
         ORDER BY s.contact_id
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                account_id,
                purpose.pk,
                legal_basis,
                status,
                channel,
                source[:200],
                text,
                recorded_by_id,
                *params,
                *condition_params,
            ],
        )
        return cursor.rowcount


# --- GDPR baseline ----------------------------------------------------------------------------

BASELINE_RULES = [
    "sales_service_legitimate_interest",
    "e_marketing_withdrawn_no_mailings",
    "e_marketing_legitimate_interest_mailed",
    "e_marketing_none_never_mailed",
]

# A contact "received a mailing before" when one of its source lists had a sent campaign, or it
# has a mailing in its history.
_MAILED = """
    (EXISTS (SELECT 1 FROM contacts_source src
               JOIN mailings_campaignlist cl ON cl.account_id = src.account_id AND cl.list_id = src.list_id
               JOIN mailings_campaign cp ON cp.id = cl.campaign_id AND cp.status = 'sent'
              WHERE src.account_id = c.account_id AND src.contact_id = c.id)
     OR EXISTS (SELECT 1 FROM contacts_activity act
                 WHERE act.account_id = c.account_id AND act.contact_id = c.id
                   AND act.kind = 'mailing'))
"""
# A per-row index probe rather than NOT EXISTS (see consent_events_bulk_record for why).
_NO_STATE = """(SELECT 1 FROM consent_consentstate cs
                 WHERE cs.account_id = c.account_id AND cs.contact_id = c.id
                   AND cs.purpose_id = %s LIMIT 1) IS NULL"""


def _baseline_queries(
    sales_id: int, marketing_id: int, id_range: tuple[int, int] | None = None
) -> dict[str, tuple[str, list[Any]]]:
    base = "SELECT c.id AS contact_id FROM contacts_contact c WHERE c.account_id = %s AND "
    account_id = current_account_id()
    first: list[Any] = [account_id]
    if id_range is not None:
        base += "c.id > %s AND c.id <= %s AND "
        first += list(id_range)
    return {
        "sales_service_legitimate_interest": (base + _NO_STATE, [*first, sales_id]),
        "e_marketing_withdrawn_no_mailings": (
            base + "c.no_mailings AND " + _NO_STATE,
            [*first, marketing_id],
        ),
        "e_marketing_legitimate_interest_mailed": (
            base + "NOT c.no_mailings AND " + _NO_STATE + " AND " + _MAILED,
            [*first, marketing_id],
        ),
        "e_marketing_none_never_mailed": (
            base + "NOT c.no_mailings AND " + _NO_STATE + " AND NOT " + _MAILED,
            [*first, marketing_id],
        ),
    }


def gdpr_baseline_apply(
    *,
    dry_run: bool,
    recorded_by_id: int | None = None,
    id_range: tuple[int, int] | None = None,
) -> dict[str, int]:
    """DESIGN §4: the counts per rule; unless `dry_run`, also records the events.

    Idempotent: each rule only touches contacts without a state for its purpose, so a second run
    counts zeros (and, like any change made since, never overrides a recorded choice). The
    organisation-level no-mailings flag is left as it is. An advisory lock keeps two runs of one
    account from interleaving. `id_range` (lo, hi] limits it to a chunk of contact ids.
    """
    account_id = current_account_id()
    sales = purpose_get(key=Purpose.SALES)
    marketing = purpose_get(key=Purpose.E_MARKETING)
    queries = _baseline_queries(sales.pk, marketing.pk, id_range)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('gdpr-baseline'), %s)", [account_id])
    counts: dict[str, int] = {}
    if dry_run:
        with connection.cursor() as cursor:
            for rule in BASELINE_RULES:
                sql, params = queries[rule]
                cursor.execute(f"SELECT count(*) FROM ({sql}) q", params)
                counts[rule] = cursor.fetchone()[0]
        return counts
    plan = {
        "sales_service_legitimate_interest": (Purpose.SALES, ConsentEvent.Status.GRANTED),
        "e_marketing_withdrawn_no_mailings": (Purpose.E_MARKETING, ConsentEvent.Status.WITHDRAWN),
        "e_marketing_legitimate_interest_mailed": (
            Purpose.E_MARKETING,
            ConsentEvent.Status.GRANTED,
        ),
    }
    for rule in BASELINE_RULES:
        sql, params = queries[rule]
        if rule not in plan:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM ({sql}) q", params)
                counts[rule] = cursor.fetchone()[0]
            continue
        purpose_key, status = plan[rule]
        counts[rule] = consent_events_bulk_record(
            contacts_sql=sql,
            params=params,
            purpose_key=purpose_key,
            status=status,
            legal_basis=LegalBasis.LEGITIMATE_INTEREST,
            channel="baseline",
            source="GDPR baseline",
            text=f"GDPR baseline rule: {rule}",
            recorded_by_id=recorded_by_id,
        )
    return counts


BASELINE_CHUNK = 50_000
# Up to this many contacts the API applies the baseline within the request; above, it starts a
# background run (a request must end well within the web server's timeout).
BASELINE_SYNC_LIMIT = 100_000
# A run whose worker has not reported for this long is taken over by the next delivery.
BASELINE_STALE = timedelta(minutes=2)


def baseline_run_start(*, created_by_id: int | None) -> BaselineRun:
    """Starts a background run, or returns the one already under way (never two at once)."""
    active = BaselineRun.objects.filter(
        status__in=[BaselineRun.Status.QUEUED, BaselineRun.Status.RUNNING]
    ).first()
    if active is not None:
        if active.status == BaselineRun.Status.RUNNING and (
            active.heartbeat_at is None or active.heartbeat_at < timezone.now() - BASELINE_STALE
        ):
            _baseline_enqueue(run_id=active.pk)  # its worker is gone: the next one takes over
        return active
    bounds = Contact.objects.aggregate(lo=models.Min("id"), hi=models.Max("id"))
    start = (bounds["lo"] or 1) - 1
    run = BaselineRun.objects.create(
        created_by_id=created_by_id,
        first_contact_id=start,
        last_contact_id=start,
        max_contact_id=bounds["hi"] or 0,
    )
    _baseline_enqueue(run_id=run.pk)
    return run


def _baseline_enqueue(*, run_id: int) -> None:
    account_id = current_account_id()

    def enqueue() -> None:
        from consent.tasks import baseline_run_execute

        baseline_run_execute.delay(account_id=account_id, run_id=run_id)

    transaction.on_commit(enqueue)


def baseline_run_claim(*, run_id: int) -> bool:
    """Compare-and-swap: queued → running, or take over a running run gone silent."""
    now = timezone.now()
    return bool(
        BaselineRun.objects.filter(pk=run_id)
        .filter(
            models.Q(status=BaselineRun.Status.QUEUED)
            | models.Q(status=BaselineRun.Status.RUNNING, heartbeat_at__lt=now - BASELINE_STALE)
        )
        .update(status=BaselineRun.Status.RUNNING, heartbeat_at=now)
    )


def baseline_run_step(*, run_id: int) -> bool:
    """Applies the next chunk and moves the checkpoint; False when the run is finished."""
    run = BaselineRun.objects.select_for_update().get(pk=run_id)
    if run.status != BaselineRun.Status.RUNNING:
        return False
    if run.last_contact_id >= run.max_contact_id:
        run.status = BaselineRun.Status.SUCCEEDED
        run.progress = 1.0
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "progress", "finished_at"])
        return False
    hi = min(run.last_contact_id + BASELINE_CHUNK, run.max_contact_id)
    counts = gdpr_baseline_apply(
        dry_run=False, recorded_by_id=run.created_by_id, id_range=(run.last_contact_id, hi)
    )
    run.counts = {rule: run.counts.get(rule, 0) + counts[rule] for rule in BASELINE_RULES}
    run.last_contact_id = hi
    span = run.max_contact_id - run.first_contact_id
    run.progress = (hi - run.first_contact_id) / span if span else 1.0
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["counts", "last_contact_id", "progress", "heartbeat_at"])
    return True


# --- Suppressions -----------------------------------------------------------------------------


def suppression_add(*, email: str, reason: str, origin: str) -> None:
    """Suppresses an address (idempotent; an existing reason is kept, except that an erasure
    always removes the clear address)."""
    digest = email_hash(email)
    keep_email: str | None = None if reason == Suppression.Reason.ERASED else email
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_suppression (account_id, email, email_hash, reason, origin, created_at)
            VALUES (%s, %s, %s, %s, %s, now())
            ON CONFLICT (account_id, email_hash) DO UPDATE
               SET email = CASE WHEN EXCLUDED.reason = 'erased' THEN NULL
                                ELSE contacts_suppression.email END,
                   reason = CASE WHEN EXCLUDED.reason = 'erased' THEN 'erased'
                                 ELSE contacts_suppression.reason END
            """,
            [current_account_id(), keep_email, digest, reason, origin[:200]],
        )


def suppression_lift_for_reconsent(*, email: str) -> int:
    deleted, _ = Suppression.objects.filter(
        email_hash=email_hash(email), reason__in=LIFTABLE_SUPPRESSIONS
    ).delete()
    return deleted


# --- Personal links ---------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def access_token_issue(
    *, contact_id: int, kind: str, days: int | None = None, payload: dict[str, Any] | None = None
) -> str:
    """A new personal link token (shown once; only its hash is stored)."""
    account = Account.objects.get(pk=current_account_id())
    token = f"{account.slug}.{secrets.token_urlsafe(32)}"
    if days is None:
        days = (
            PREFERENCE_TOKEN_DAYS
            if kind == AccessToken.Kind.PREFERENCES
            else DOUBLE_OPT_IN_TOKEN_DAYS
        )
    AccessToken.objects.create(
        contact_id=contact_id,
        kind=kind,
        token_hash=_token_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
        payload=payload or {},
    )
    return token


def access_tokens_revoke(*, contact_id: int) -> int:
    return AccessToken.objects.filter(contact_id=contact_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def access_token_find(*, token: str, kind: str) -> AccessToken | None:
    """Resolves a public link's token and opens the row-level-security context of its account.

    None for anything malformed, unknown, of another kind, expired or revoked: callers answer the
    same plain 404 for all of them. The account comes from the token's own prefix, so a token can
    only ever match a row of the account it names. Use through `public_token_scope`.
    """
    slug, dot, secret = token.partition(".")
    if not dot or not slug or len(secret) < 40 or len(token) > 200:
        return None
    # One round trip finds the account and opens its row-level-security context.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, set_config('app.account_id', id::text, true)"
            " FROM accounts_account WHERE slug = %s",
            [slug],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    account_id = row[0]
    found = (
        AccessToken.objects.unscoped()
        .select_related("contact", "account")
        .filter(
            account_id=account_id,
            token_hash=_token_hash(token),
            kind=kind,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if found is None:
        set_db_context(account_id=None)
    return found


@contextmanager
def public_token_scope(*, token: str, kind: str) -> Iterator[AccessToken | None]:
    """`with public_token_scope(token=…, kind=…) as access:` — inside, both tenancy walls know
    the token's account (when the token is valid; `access` is None otherwise)."""
    access = access_token_find(token=token, kind=kind)
    with account_context(access.account_id if access else None):
        yield access


def preference_url(token: str) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("preferences", args=[token])


def unsubscribe_url(token: str) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("one_click_unsubscribe", args=[token])


def list_unsubscribe_headers(*, token: str) -> dict[str, str]:
    """RFC 8058 headers for a marketing e-mail to the token's contact (the message must also be
    DKIM-signed over them by the sending server)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(token)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def preference_link_create(*, contact_id: int) -> str:
    return preference_url(
        access_token_issue(contact_id=contact_id, kind=AccessToken.Kind.PREFERENCES)
    )


# --- Preference centre ------------------------------------------------------------------------


def _e_marketing_live(state: ConsentState | None) -> bool:
    return state is not None and state.status == ConsentEvent.Status.GRANTED


def preferences_update(
    *,
    contact: Contact,
    subscribed_type_ids: set[int],
    email_marketing: bool,
    evidence: Evidence,
) -> int:
    """Applies the preference form; returns the number of events recorded (0 when unchanged).

    Topics and e-marketing consent move independently: unticking every topic is not a
    withdrawal of e-marketing consent.
    """
    marketing = purpose_get(key=Purpose.E_MARKETING)
    states = {
        s.subscription_type_id: s.subscribed
        for s in SubscriptionState.objects.filter(contact_id=contact.pk)
    }
    changed = 0
    for topic in SubscriptionType.objects.order_by("position", "id"):
        wanted = topic.pk in subscribed_type_ids
        if states.get(topic.pk, False) == wanted:
            continue
        consent_event_record(
            contact_id=contact.pk,
            purpose=marketing,
            subscription_type=topic,
            status=ConsentEvent.Status.GRANTED if wanted else ConsentEvent.Status.WITHDRAWN,
            legal_basis=LegalBasis.CONSENT,
            evidence=evidence,
        )
        changed += 1
    state = ConsentState.objects.filter(contact_id=contact.pk, purpose=marketing).first()
    if email_marketing != _e_marketing_live(state):
        consent_event_record(
            contact_id=contact.pk,
            purpose=marketing,
            status=ConsentEvent.Status.GRANTED
            if email_marketing
            else ConsentEvent.Status.WITHDRAWN,
            legal_basis=LegalBasis.CONSENT
            if email_marketing or state is None
            else state.legal_basis,
            evidence=evidence,
        )
        changed += 1
        if contact.email:
            if email_marketing:
                suppression_lift_for_reconsent(email=contact.email)
            else:
                suppression_add(
                    email=contact.email,
                    reason=Suppression.Reason.UNSUBSCRIBED,
                    origin=evidence.source,
                )
    return changed


def unsubscribe_all(*, contact: Contact, evidence: Evidence) -> int:
    """Withdraws e-marketing and every topic and suppresses the address. Idempotent: only what
    is not withdrawn yet gets an event, but a contact without any state gets one too, as proof
    of the request."""
    changed = preferences_update(
        contact=contact, subscribed_type_ids=set(), email_marketing=False, evidence=evidence
    )
    marketing = purpose_get(key=Purpose.E_MARKETING)
    if not ConsentState.objects.filter(contact_id=contact.pk, purpose=marketing).exists():
        consent_event_record(
            contact_id=contact.pk,
            purpose=marketing,
            status=ConsentEvent.Status.WITHDRAWN,
            legal_basis=LegalBasis.CONSENT,
            evidence=evidence,
        )
        changed += 1
    if contact.email:
        suppression_add(
            email=contact.email, reason=Suppression.Reason.UNSUBSCRIBED, origin=evidence.source
        )
    return changed


# --- Double opt-in ----------------------------------------------------------------------------


def signup_start(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
    subscription_type_ids: Sequence[int] = (),
    evidence: Evidence,
) -> Contact | None:
    """Starts a double opt-in: a pending event now, the confirmation e-mail after commit.

    Returns None (and sends nothing) for an address that bounced or complained; callers answer
    the same as for any other address, so the form reveals nothing about who is known.
    """
    try:
        normalized = normalize_email(email)
    except InvalidEmail as error:
        raise ValidationError({"email": str(error)}) from None
    if Suppression.objects.filter(
        email_hash=email_hash(normalized),
        reason__in=[Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINT],
    ).exists():
        return None
    contact = Contact.objects.filter(email=normalized).first()
    if contact is None:
        contact = Contact.objects.create(
            email=normalized,
            first_name=first_name.strip()[:150],
            last_name=last_name.strip()[:150],
            language=language if language in {"en", "nl", "fr", "de"} else "",
        )
    topics = list(
        SubscriptionType.objects.filter(pk__in=list(subscription_type_ids)).values_list(
            "pk", flat=True
        )
    )
    marketing = purpose_get(key=Purpose.E_MARKETING)
    requested_at = timezone.now()
    state = ConsentState.objects.filter(contact_id=contact.pk, purpose=marketing).first()
    if state is None or state.status != ConsentEvent.Status.GRANTED:
        consent_event_record(
            contact_id=contact.pk,
            purpose=marketing,
            status=ConsentEvent.Status.PENDING,
            legal_basis=LegalBasis.CONSENT,
            evidence=evidence,
            doi_requested_at=requested_at,
        )
    account_id = current_account_id()
    contact_id = contact.pk
    payload = {
        "topics": topics,
        "requested_at": requested_at.isoformat(),
        "text": evidence.text,
        "source": evidence.source,
    }

    def send() -> None:
        from consent.tasks import doi_confirmation_send

        doi_confirmation_send.delay(account_id=account_id, contact_id=contact_id, payload=payload)

    transaction.on_commit(send)
    return contact


def signup_confirm(*, token: AccessToken, evidence: Evidence) -> bool:
    """Confirms a double opt-in; True the first time, False when it was already confirmed.

    The compare-and-swap on `used_at` makes a second confirmation (a double click, two tabs)
    record nothing.
    """
    now = timezone.now()
    claimed = AccessToken.objects.filter(pk=token.pk, used_at__isnull=True).update(
        used_at=now, ip=evidence.ip or None, user_agent=evidence.user_agent[:1000]
    )
    if not claimed:
        return False
    contact = token.contact
    marketing = purpose_get(key=Purpose.E_MARKETING)
    requested_raw = token.payload.get("requested_at")
    requested_at = datetime.fromisoformat(requested_raw) if requested_raw else token.created_at
    evidence = Evidence(
        ip=evidence.ip,
        user_agent=evidence.user_agent,
        text=str(token.payload.get("text", "")),
        channel="web",
        source=str(token.payload.get("source") or "double opt-in"),
    )
    consent_event_record(
        contact_id=contact.pk,
        purpose=marketing,
        status=ConsentEvent.Status.GRANTED,
        legal_basis=LegalBasis.CONSENT,
        evidence=evidence,
        doi_requested_at=requested_at,
        doi_confirmed_at=now,
    )
    for topic in SubscriptionType.objects.filter(pk__in=token.payload.get("topics", [])):
        consent_event_record(
            contact_id=contact.pk,
            purpose=marketing,
            subscription_type=topic,
            status=ConsentEvent.Status.GRANTED,
            legal_basis=LegalBasis.CONSENT,
            evidence=evidence,
            doi_requested_at=requested_at,
            doi_confirmed_at=now,
        )
    if contact.email:
        suppression_lift_for_reconsent(email=contact.email)
    return True


# --- Data-subject requests --------------------------------------------------------------------


def _one_month_later(moment: datetime) -> datetime:
    """GDPR Art. 12(3): one month, the same day of the next month (or its last day)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def data_subject_request_log(
    *, kind: str, contact_id: int, requested_by_id: int | None, channel: str, done: bool
) -> DataSubjectRequest:
    now = timezone.now()
    return DataSubjectRequest.objects.create(
        kind=kind,
        contact_id_ref=contact_id,
        requested_at=now,
        due_at=_one_month_later(now),
        status=DataSubjectRequest.Status.DONE if done else DataSubjectRequest.Status.OPEN,
        completed_at=now if done else None,
        requested_by_id=requested_by_id,
        channel=channel,
    )


def data_subject_request_complete(*, request: DataSubjectRequest) -> bool:
    """Marks an open request done (compare-and-swap: a second click changes nothing)."""
    return bool(
        DataSubjectRequest.objects.filter(
            pk=request.pk, status=DataSubjectRequest.Status.OPEN
        ).update(status=DataSubjectRequest.Status.DONE, completed_at=timezone.now())
    )


def contact_export(
    *, contact: Contact, requested_by_id: int | None, channel: str
) -> tuple[bytes, DataSubjectRequest]:
    """Everything about a contact as a zip (JSON and CSV); the request is logged as done."""
    request = data_subject_request_log(
        kind=DataSubjectRequest.Kind.EXPORT,
        contact_id=contact.pk,
        requested_by_id=requested_by_id,
        channel=channel,
        done=True,
    )
    return selectors.export_zip(selectors.contact_export_data(contact=contact)), request


def contact_erase(
    *, contact: Contact, requested_by_id: int | None, channel: str
) -> DataSubjectRequest:
    """GDPR Art. 17: removes the contact's personal data from every table.

    The ledger keeps its rows (proof of what was consented) but loses the evidence that
    identifies a person (IP, user agent) — the one change the ledger trigger allows, with
    `app.erasure` on for this transaction only — and records the erasure as events. The address
    stays suppressed only as a hash, so a later import or sign-up cannot bring it back silently.
    """
    request = data_subject_request_log(
        kind=DataSubjectRequest.Kind.ERASURE,
        contact_id=contact.pk,
        requested_by_id=requested_by_id,
        channel=channel,
        done=False,
    )
    evidence = Evidence(
        channel="erasure",
        source=f"Erasure request #{request.pk}",
        text="Personal data erased on request (GDPR Art. 17)",
        recorded_by_id=requested_by_id,
    )
    for state in ConsentState.objects.filter(contact_id=contact.pk).select_related("purpose"):
        consent_event_record(
            contact_id=contact.pk,
            purpose=state.purpose,
            status=ConsentEvent.Status.WITHDRAWN,
            legal_basis=state.legal_basis,
            evidence=evidence,
        )
    # The ledger of contacts merged into this one stays keyed to their old ids: same person.
    person_ids = [contact.pk, *selectors.merged_contact_ids(contact_id=contact.pk)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.erasure', 'on', true)")
        cursor.execute(
            "UPDATE consent_consentevent SET ip = NULL, user_agent = ''"
            " WHERE account_id = %s AND contact_id = ANY(%s)"
            " AND (ip IS NOT NULL OR user_agent <> '')",
            [current_account_id(), person_ids],
        )
        cursor.execute("SELECT set_config('app.erasure', 'off', true)")
    if contact.email:
        suppression_add(
            email=contact.email, reason=Suppression.Reason.ERASED, origin=evidence.source
        )
        ListEntry.objects.filter(email_normalized=contact.email).delete()
        # Rejected import rows keep the file's cells; drop those that carry the address.
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM contacts_importreject r WHERE r.account_id = %s AND EXISTS"
                " (SELECT 1 FROM jsonb_array_elements_text(CASE jsonb_typeof(r.values)"
                " WHEN 'array' THEN r.values ELSE '[]'::jsonb END) v"
                " WHERE lower(btrim(v)) = %s)",
                [current_account_id(), contact.email],
            )
    # Everything hanging off the contact (sources, activities, states, links, …) cascades.
    contact.delete()
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        status=DataSubjectRequest.Status.DONE, completed_at=timezone.now()
    )
    request.refresh_from_db()
    return request
