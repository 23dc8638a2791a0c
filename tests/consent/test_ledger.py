from __future__ import annotations

import pytest
from django.db import connection, transaction

from consent.models import (
    ConsentEvent,
    ConsentState,
    LegalBasis,
    SubscriptionState,
    SubscriptionType,
)
from consent.services import Evidence, consent_event_record, consent_events_bulk_record
from tests.conftest import Tenant
from tests.consent.conftest import make_contact, purpose

EVIDENCE = Evidence(ip="192.0.2.7", user_agent="Test/1.0", text="v1", channel="web", source="t")


def _grant(
    contact_id: int, status: str = "granted", basis: str = LegalBasis.CONSENT
) -> ConsentEvent:
    return consent_event_record(
        contact_id=contact_id,
        purpose=purpose(),
        status=status,
        legal_basis=basis,
        evidence=EVIDENCE,
    )


def test_the_database_refuses_to_update_a_ledger_row(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        event = _grant(contact.pk)
        with pytest.raises(Exception, match="cannot be changed"), transaction.atomic():
            ConsentEvent.objects.filter(pk=event.pk).update(status="withdrawn")


def test_the_database_refuses_to_delete_a_ledger_row(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        event = _grant(contact.pk)
        with pytest.raises(Exception, match="cannot be changed"), transaction.atomic():
            ConsentEvent.objects.filter(pk=event.pk).delete()


def test_an_erasure_may_blank_the_evidence_but_nothing_else(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        event = _grant(contact.pk)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.erasure', 'on', true)")
            cursor.execute(
                "UPDATE consent_consentevent SET ip = NULL, user_agent = '' WHERE id = %s",
                [event.pk],
            )
            with pytest.raises(Exception, match="cannot be changed"), transaction.atomic():
                cursor.execute(
                    "UPDATE consent_consentevent SET status = 'withdrawn' WHERE id = %s",
                    [event.pk],
                )
        event.refresh_from_db()
        assert (event.ip, event.user_agent, event.status) == (None, "", "granted")


def test_the_current_state_is_the_newest_event(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _grant(contact.pk)
        last = _grant(contact.pk, status="withdrawn")
        state = ConsentState.objects.get(contact_id=contact.pk, purpose=purpose())
        assert (state.status, state.event_id) == ("withdrawn", last.pk)


def test_bulk_record_writes_one_event_and_state_per_contact(tenant: Tenant) -> None:
    ids = [make_contact(tenant, email=f"p{i}@example.org").pk for i in range(3)]
    with tenant:
        written = consent_events_bulk_record(
            contact_ids=ids,
            purpose_key="e_marketing",
            status="granted",
            legal_basis="consent",
            channel="import",
            source="import",
        )
        states = ConsentState.objects.filter(purpose=purpose(), status="granted").count()
    assert (written, states) == (3, 3)


def test_bulk_record_from_sql_keeps_each_rows_evidence(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        consent_events_bulk_record(
            contacts_sql="SELECT %s::bigint AS contact_id, '198.51.100.4' AS ip,"
            " '2024-01-02T03:04:05Z'::timestamptz AS doi_requested_at,"
            " '2024-01-03T03:04:05Z'::timestamptz AS doi_confirmed_at",
            params=[contact.pk],
            with_evidence=True,
            purpose_key="e_marketing",
            status="granted",
            legal_basis="consent",
            channel="import",
            source="import",
        )
        event = ConsentEvent.objects.get(contact_id=contact.pk)
    assert event.ip == "198.51.100.4"
    assert event.doi_requested_at is not None and event.doi_requested_at.year == 2024
    assert event.doi_confirmed_at is not None and event.doi_confirmed_at.day == 3


def test_bulk_record_when_changed_skips_contacts_already_in_that_state(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _grant(contact.pk)
        written = consent_events_bulk_record(
            contact_ids=[contact.pk],
            purpose_key="e_marketing",
            status="granted",
            legal_basis="consent",
            channel="import",
            source="import",
            when="changed",
        )
    assert written == 0


def test_a_topic_event_moves_the_topic_not_the_purpose(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        topic = SubscriptionType.objects.get(key="newsletter")
        consent_event_record(
            contact_id=contact.pk,
            purpose=purpose(),
            subscription_type=topic,
            status="granted",
            legal_basis="consent",
            evidence=EVIDENCE,
        )
        assert SubscriptionState.objects.get(contact_id=contact.pk).subscribed is True
        assert not ConsentState.objects.filter(contact_id=contact.pk).exists()


def test_one_statement_with_two_events_for_a_contact_keeps_the_newest(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        consent_events_bulk_record(
            contacts_sql="SELECT %s::bigint AS contact_id UNION ALL SELECT %s::bigint",
            params=[contact.pk, contact.pk],
            purpose_key="e_marketing",
            status="granted",
            legal_basis="consent",
            channel="import",
            source="import",
        )
        newest = ConsentEvent.objects.filter(contact_id=contact.pk).order_by("-id").first()
        state = ConsentState.objects.get(contact_id=contact.pk)
    assert newest is not None and state.event_id == newest.pk
