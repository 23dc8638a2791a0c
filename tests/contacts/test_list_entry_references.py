"""A list entry's references hold like foreign keys, though they are checked once per statement."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tenancy import tenant_atomic
from contacts.models import ContactList, ListEntry
from tests.conftest import Tenant
from tests.contacts.factories import contact_list

INSERT_ENTRY = (
    "INSERT INTO contacts_listentry (account_id, list_id, salutation, title, first_name, "
    "last_name, company_name, letter_salutation, phone, street, postal_code, city, country, "
    "language, custom_fields, email, email_normalized, status, optin, created_at, updated_at) "
    "VALUES (%s, %s, '', '', '', '', '', '', '', '', '', '', '', '', '{}', 'a@example.org', "
    "'a@example.org', 'subscribed', 'none', now(), now())"
)


def test_an_entry_of_a_list_that_does_not_exist_is_refused(tenant: Tenant) -> None:
    newsletter = contact_list(tenant)
    with (
        tenant,
        pytest.raises(IntegrityError, match="not a list of its account"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERT_ENTRY, [tenant.account.pk, newsletter.pk + 1000])


def test_an_entry_in_another_accounts_list_is_refused(tenant: Tenant, outsider: Tenant) -> None:
    theirs = contact_list(outsider, "Their list")
    with (
        tenant,
        pytest.raises(IntegrityError, match="not a list of its account"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERT_ENTRY, [tenant.account.pk, theirs.pk])


def test_moving_entries_to_a_missing_list_is_refused(tenant: Tenant) -> None:
    newsletter = contact_list(tenant, entries=["a@example.org", "b@example.org"])
    with (
        tenant,
        pytest.raises(IntegrityError, match="not a list of its account"),
        transaction.atomic(),
    ):
        ListEntry.objects.filter(list=newsletter).update(list_id=newsletter.pk + 1000)


def test_a_list_with_entries_cannot_be_deleted_behind_the_entries_back(tenant: Tenant) -> None:
    newsletter = contact_list(tenant, entries=["a@example.org"])
    with (
        tenant,
        pytest.raises(IntegrityError, match="still has entries"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM contacts_contactlist WHERE id = %s", [newsletter.pk])


def test_deleting_a_list_deletes_its_entries_and_renaming_keeps_them(tenant: Tenant) -> None:
    kept = contact_list(tenant, "Kept", entries=["a@example.org"])
    gone = contact_list(tenant, "Gone", entries=["b@example.org", "c@example.org"])
    with tenant_atomic(tenant.account):
        ContactList.objects.filter(pk=kept.pk).update(name="Kept and renamed")
        gone.delete()
        assert list(ListEntry.objects.values_list("list__name", "email")) == [
            ("Kept and renamed", "a@example.org")
        ]
