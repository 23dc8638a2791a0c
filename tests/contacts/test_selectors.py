"""Segment definitions, evaluated in SQL by contacts.selectors.segment_contacts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.tenancy import tenant_atomic
from contacts.models import Contact, Organization, Segment
from contacts.selectors import definition_contacts, segment_contacts
from tests.conftest import Tenant
from tests.contacts.factories import contact, contact_list


def _emails(tenant: Tenant, definition: Any) -> set[str | None]:
    with tenant_atomic(tenant.account):
        return set(definition_contacts(definition).values_list("email", flat=True))


def test_source_lists_selects_contacts_from_those_lists(tenant: Tenant) -> None:
    members, fair = contact_list(tenant, "Members"), contact_list(tenant, "Fair")
    contact(tenant, email="m@example.org", sources=[members])
    contact(tenant, email="f@example.org", sources=[fair])
    contact(tenant, email="n@example.org")
    with tenant_atomic(tenant.account):
        seg = Segment.objects.create(name="Members", definition={"source_lists": [members.pk]})
        assert list(segment_contacts(seg).values_list("email", flat=True)) == ["m@example.org"]


def test_source_names_and_list_entries(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members", ["e@example.org"])
    contact(tenant, email="s@example.org", sources=["Fair 2025"])
    contact(tenant, email="e@example.org")
    assert _emails(tenant, {"source_names": ["Fair 2025"]}) == {"s@example.org"}
    assert _emails(tenant, {"lists": [members.pk]}) == {"e@example.org"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "city", "op": "equals", "value": "GENT"}, {"a@example.org"}),
        ({"field": "city", "op": "contains", "value": "rug"}, {"b@example.org"}),
        ({"field": "city", "op": "starts_with", "value": "g"}, {"a@example.org"}),
        ({"field": "city", "op": "empty"}, {"c@example.org"}),
        ({"field": "city", "op": "not_empty"}, {"a@example.org", "b@example.org"}),
        ({"field": "email", "op": "equals", "value": " A@Example.org"}, {"a@example.org"}),
    ],
)
def test_field_rules(tenant: Tenant, rule: dict[str, Any], expected: set[str]) -> None:
    contact(tenant, email="a@example.org", city="Gent")
    contact(tenant, email="b@example.org", city="Brugge")
    contact(tenant, email="c@example.org")
    assert _emails(tenant, {"fields": [rule]}) == expected


def test_custom_field_rules(tenant: Tenant) -> None:
    contact(tenant, email="a@example.org", custom_fields={"member_no": 42, "region": "Oost"})
    contact(tenant, email="b@example.org", custom_fields={"region": "West"})
    assert _emails(
        tenant, {"fields": [{"field": "custom.member_no", "op": "equals", "value": 42}]}
    ) == {"a@example.org"}
    assert _emails(tenant, {"fields": [{"field": "custom.member_no", "op": "empty"}]}) == {
        "b@example.org"
    }
    assert _emails(
        tenant, {"fields": [{"field": "custom.region", "op": "contains", "value": "es"}]}
    ) == {"b@example.org"}


def test_organization_language_method_and_email_criteria(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        quiet = Organization.objects.create(name="Quiet BV", no_mailings=True)
    contact(tenant, email="a@example.org", organization=quiet, language="nl", mailing_method="post")
    contact(tenant, email="b@example.org", language="fr", mailing_method="both")
    contact(tenant, email=None, first_name="Postonly", language="nl")
    assert _emails(tenant, {"organizations": [quiet.pk]}) == {"a@example.org"}
    assert _emails(tenant, {"organization_no_mailings": False}) == {"b@example.org", None}
    assert _emails(tenant, {"languages": ["nl"], "has_email": True}) == {"a@example.org"}
    assert _emails(tenant, {"mailing_methods": ["post", "both"]}) == {
        "a@example.org",
        "b@example.org",
    }
    assert _emails(tenant, {"has_email": False}) == {None}


def test_activity_criteria(tenant: Tenant) -> None:
    contact(tenant, email="old@example.org", last_activity_at="2024-01-10T12:00:00Z")
    contact(tenant, email="new@example.org", last_activity_at="2026-03-01T12:00:00Z")
    contact(tenant, email="never@example.org")
    assert _emails(tenant, {"last_activity_before": "2025-01-01"}) == {"old@example.org"}
    assert _emails(tenant, {"last_activity_after": "2025-01-01T00:00:00+00:00"}) == {
        "new@example.org"
    }
    assert _emails(tenant, {"no_activity": True}) == {"never@example.org"}


def test_criteria_combine_with_and(tenant: Tenant) -> None:
    contact(tenant, email="a@example.org", language="nl", city="Gent")
    contact(tenant, email="b@example.org", language="nl", city="Brugge")
    definition = {
        "languages": ["nl"],
        "fields": [{"field": "city", "op": "equals", "value": "Gent"}],
    }
    assert _emails(tenant, definition) == {"a@example.org"}


def test_an_empty_definition_matches_everyone(tenant: Tenant) -> None:
    contact(tenant, email="a@example.org")
    contact(tenant, email=None)
    assert _emails(tenant, {}) == {"a@example.org", None}


@pytest.mark.parametrize(
    "definition",
    [
        {"colour": ["red"]},
        {"source_lists": "3"},
        {"languages": ["xx"]},
        {"fields": [{"field": "password", "op": "equals", "value": "x"}]},
        {"fields": [{"field": "city", "op": "like", "value": "x"}]},
        {"last_activity_after": "yesterday"},
        {"has_email": "yes"},
        ["not", "an", "object"],
    ],
)
def test_malformed_definitions_raise_a_validation_error(tenant: Tenant, definition: Any) -> None:
    with tenant_atomic(tenant.account), pytest.raises(ValidationError):
        definition_contacts(definition)


def test_a_segment_never_reaches_another_account(tenant: Tenant, outsider: Tenant) -> None:
    theirs = contact_list(outsider, "Theirs")
    contact(outsider, email="x@example.org", sources=[theirs])
    assert _emails(tenant, {"source_lists": [theirs.pk]}) == set()
    with tenant_atomic(tenant.account):
        assert Contact.objects.count() == 0
