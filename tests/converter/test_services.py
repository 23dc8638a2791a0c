from __future__ import annotations

import pytest
from django.db import connection

from consent.models import ConsentState, Purpose
from contacts.models import Contact, ListAccess, Source, Suppression
from contacts.normalize import clean_value_sql, email_hash, same_value
from converter.models import Conflict, Conversion, ConversionStep
from converter.services import ConversionError
from mailings.models import Workflow, WorkflowList
from tests.conftest import Tenant
from tests.converter.conftest import Driver
from tests.converter.helpers import account_state, make_contact, make_list

JAN = {"email": "jan@example.be", "first_name": "Jan", "last_name": "Peeters", "city": "Gent"}


def test_the_sql_comparison_agrees_with_same_value(tenant: Tenant) -> None:
    pairs = [
        ("Jan", "Jan"),
        (" Jan  Peeters ", "Jan Peeters"),
        ("Jan\u00a0Peeters", "Jan Peeters"),
        ("jan", "Jan"),
        ("Cafe\u0301", "Café"),
        ("", "   "),
        ("a\tb", "a b"),
        ("Zoë", "Zoe"),
    ]
    with connection.cursor() as cursor:
        for a, b in pairs:
            cursor.execute(f"SELECT {clean_value_sql('%s')} = {clean_value_sql('%s')}", [a, b])
            assert cursor.fetchone()[0] == same_value(a, b), (a, b)


def test_analysis_counts_each_kind(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="known@example.be", first_name="Known", city="")
        make_contact(email="same@example.be", first_name="Same")
        make_contact(email="differs@example.be", first_name="Old", last_name="Name")
        news = make_list(
            "News",
            [
                {"email": "new@example.be", "first_name": "New"},
                {"email": "Same@Example.be ", "first_name": " Same "},
                {"email": "known@example.be", "first_name": "", "city": "Gent"},
                {"email": "differs@example.be", "first_name": "New", "last_name": "Name"},
                {"email": "gone@example.be", "status": "unsubscribed"},
                {"email": "not-an-address", "first_name": "Nobody"},
            ],
        )
        conversion = driver.start([news])
        step = driver.step(conversion, 1)
        assert (conversion.status, step.status) == ("review", "review")
        assert step.counts == {
            "entries": 6,
            "new": 2,
            "identical": 1,
            "conflicting_contacts": 2,
            "fill_conflicts": 1,
            "mismatch_conflicts": 1,
            "unsubscribed": 1,
            "invalid": 1,
        }


def test_a_conflict_records_both_values_and_its_kind(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes", city="")
        news = make_list("News", [JAN])
        conversion = driver.start([news])
        rows = set(
            Conflict.objects.filter(step__conversion=conversion).values_list(
                "email", "field", "database_value", "list_value", "kind"
            )
        )
    assert rows == {
        ("jan@example.be", "first_name", "Johannes", "Jan", "mismatch"),
        ("jan@example.be", "last_name", "", "Peeters", "fill"),
        ("jan@example.be", "city", "", "Gent", "fill"),
    }


def test_an_empty_list_value_never_conflicts_or_clears(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Jan", phone="+32 9 123")
        news = make_list("News", [{"email": "jan@example.be", "first_name": "Jan", "phone": ""}])
        conversion = driver.start([news])
        assert driver.step(conversion, 1).counts["identical"] == 1
        driver.resolve(conversion, 1, "list")
        driver.confirm(conversion)
        assert Contact.objects.get(email="jan@example.be").phone == "+32 9 123"


def test_the_published_contacts_stay_untouched_until_the_confirmation(
    tenant: Tenant, driver: Driver
) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes")
        news = make_list("News", [JAN, {"email": "new@example.be"}])
        before = account_state()
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list")
        assert Conversion.objects.get(pk=conversion.pk).status == "confirming"
        after = account_state()
    assert after["contacts"] == before["contacts"]
    assert after["sources"] == before["sources"] == []


def test_lists_merge_in_order_against_the_draft(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        first = make_list("First", [{"email": "jan@example.be", "first_name": "Jan"}])
        second = make_list("Second", [{"email": "jan@example.be", "first_name": "Johannes"}])
        conversion = driver.start([first, second])
        assert driver.step(conversion, 1).counts["new"] == 1
        driver.resolve(conversion, 1, "list")
        counts = driver.step(conversion, 2).counts
        assert (counts["new"], counts["mismatch_conflicts"]) == (0, 1)
        driver.resolve(conversion, 2, "list")
        driver.confirm(conversion)
        jan = Contact.objects.get(email="jan@example.be")
        assert jan.first_name == "Johannes"
        assert sorted(Source.objects.filter(contact=jan).values_list("name", flat=True)) == [
            "First",
            "Second",
        ]


def test_choosing_database_keeps_values_and_drops_the_lists(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes", city="")
        news = make_list("News", [JAN])
        conversion = driver.start([news])
        step = driver.resolve(conversion, 1, "database")
        assert step.dropped_values == 3
        driver.confirm(conversion)
        jan = Contact.objects.get(email="jan@example.be")
        assert (jan.first_name, jan.last_name, jan.city) == ("Johannes", "", "")


def test_choosing_list_replaces_and_fills(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes", city="")
        news = make_list("News", [JAN])
        conversion = driver.start([news])
        step = driver.resolve(conversion, 1, "list")
        assert step.dropped_values == 1
        driver.confirm(conversion)
        jan = Contact.objects.get(email="jan@example.be")
        assert (jan.first_name, jan.last_name, jan.city) == ("Jan", "Peeters", "Gent")


def test_a_field_override_beats_the_lists_choice(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes", city="Brugge")
        news = make_list("News", [JAN])
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list", first_name="database")
        driver.confirm(conversion)
        jan = Contact.objects.get(email="jan@example.be")
        assert (jan.first_name, jan.last_name, jan.city) == ("Johannes", "Peeters", "Gent")


def test_custom_fields_conflict_and_merge_like_fields(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", custom_fields={"member": "gold"})
        news = make_list(
            "News", [{"email": "jan@example.be", "custom_fields": {"member": "silver", "vip": 1}}]
        )
        conversion = driver.start([news])
        assert driver.step(conversion, 1).field_counts == {
            "custom:member": {"fill": 0, "mismatch": 1},
            "custom:vip": {"fill": 1, "mismatch": 0},
        }
        driver.resolve(conversion, 1, "list", **{"custom:member": "database"})
        driver.confirm(conversion)
        assert Contact.objects.get(email="jan@example.be").custom_fields == {
            "member": "gold",
            "vip": 1,
        }


def test_confirming_publishes_sources_segments_and_deletes_unselected_lists(
    tenant: Tenant, driver: Driver
) -> None:
    with tenant:
        news = make_list("News", [JAN])
        events = make_list("Events", [{"email": "ann@example.be"}, JAN])
        old = make_list("Old", [{"email": "old@example.be"}])
        ListAccess.objects.create(list=news, user=tenant.marketer)
        conversion = driver.start([news, events])
        driver.resolve(conversion, 1, "list")
        driver.resolve(conversion, 2, "list")
        conversion = driver.confirm(conversion)
        state = account_state()
    assert conversion.status == "done"
    assert state["lists"] == [(news.pk, "News"), (events.pk, "Events")]
    assert state["sources"] == [
        ("ann@example.be", "Events", events.pk),
        ("jan@example.be", "Events", events.pk),
        ("jan@example.be", "News", news.pk),
    ]
    assert state["segments"] == [
        ("Events", f'{{"source_lists": [{events.pk}]}}'),
        ("News", f'{{"source_lists": [{news.pk}]}}'),
    ]
    assert state["grants"] == []
    assert conversion.report["deleted_lists"] == [{"id": old.pk, "name": "Old", "entries": 1}]


def test_unsubscribed_entries_are_merged_suppressed_and_withdrawn(
    tenant: Tenant, driver: Driver
) -> None:
    with tenant:
        news = make_list("News", [{**JAN, "status": "unsubscribed"}])
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list")
        driver.confirm(conversion)
        jan = Contact.objects.get(email="jan@example.be")
        suppression = Suppression.objects.get()
        state = ConsentState.objects.filter(contact=jan).values_list("status", "purpose__key").get()
    assert (suppression.email, suppression.email_hash, suppression.reason) == (
        "jan@example.be",
        email_hash("jan@example.be"),
        "unsubscribed",
    )
    assert state == ("withdrawn", Purpose.E_MARKETING)


def test_invalid_entries_are_not_merged(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [{"email": "nobody at all", "first_name": "X"}, JAN])
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list")
        driver.confirm(conversion)
        assert list(Contact.objects.values_list("email", flat=True)) == ["jan@example.be"]


def test_starting_pauses_workflows_that_use_lists(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [JAN])
        welcome = Workflow.objects.create(name="Welcome")
        WorkflowList.objects.create(workflow=welcome, list=news)
        Workflow.objects.create(name="Without lists")
        conversion = driver.start([news])
        welcome.refresh_from_db()
    assert welcome.status == "paused"
    assert conversion.paused_workflows == [{"id": welcome.pk, "name": "Welcome"}]


def test_cancelling_leaves_the_account_as_it_was(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        make_contact(email="jan@example.be", first_name="Johannes")
        news = make_list("News", [{**JAN, "status": "unsubscribed"}])
        make_list("Old", [{"email": "old@example.be"}])
        welcome = Workflow.objects.create(name="Welcome")
        WorkflowList.objects.create(workflow=welcome, list=news)
        ListAccess.objects.create(list=news, user=tenant.marketer)
        before = account_state()
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list")
        conversion = driver.cancel(conversion)
        assert conversion.status == "cancelled"
        assert account_state() == before


def test_a_second_conversion_cannot_start_while_one_runs(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [JAN])
        driver.start([news])
        with pytest.raises(ConversionError):
            driver.start([news])


def test_unattended_mode_runs_every_list_with_its_choice(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        first = make_list("First", [{"email": "jan@example.be", "first_name": "Jan"}])
        second = make_list("Second", [{"email": "jan@example.be", "first_name": "Johannes"}])
        third = make_list("Third", [{"email": "jan@example.be", "first_name": "Hans"}])
        conversion = driver.start(
            [first, second, third],
            unattended=True,
            choices={third.pk: "list"},
            default_choice="database",
        )
        assert conversion.status == "confirming"
        driver.confirm(conversion)
        assert Contact.objects.get().first_name == "Hans"


def test_unattended_mode_needs_a_choice_for_every_list(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [JAN])
        with pytest.raises(ConversionError, match="choice"):
            driver.start([news], unattended=True)


def test_a_forgotten_list_becomes_the_next_step(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [JAN])
        forgotten = make_list("Forgotten", [{"email": "ann@example.be"}])
        conversion = driver.start([news])
        driver.resolve(conversion, 1, "list")
        step = driver.add_list(conversion, forgotten)
        step.refresh_from_db()
        assert (step.position, step.status) == (2, "review")
        driver.resolve(conversion, 2, "list")
        driver.confirm(conversion)
        assert sorted(str(e) for e in Contact.objects.values_list("email", flat=True)) == [
            "ann@example.be",
            "jan@example.be",
        ]


def test_a_step_waits_for_a_choice_even_without_conflicts(tenant: Tenant, driver: Driver) -> None:
    with tenant:
        news = make_list("News", [{"email": "new@example.be"}])
        conversion = driver.start([news])
        assert ConversionStep.objects.get(conversion=conversion).status == "review"
