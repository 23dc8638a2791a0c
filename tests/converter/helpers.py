"""Building lists and reading back the account's state, for the converter's tests."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from contacts.models import Contact, ContactList, ListEntry
from contacts.normalize import normalize_email_or_none


def make_list(name: str, entries: list[dict[str, Any]]) -> ContactList:
    """A list with entries; each entry dict holds `email` plus any person field or `status`."""
    contact_list = ContactList.objects.create(name=name)
    ListEntry.objects.bulk_create(
        [
            ListEntry(
                list=contact_list,
                email_normalized=normalize_email_or_none(entry.get("email", "")),
                **entry,
            )
            for entry in entries
        ]
    )
    return contact_list


def make_contact(**fields: Any) -> Contact:
    return Contact.objects.create(**fields)


def account_state(*, by_name: bool = False) -> dict[str, Any]:
    """Everything a conversion may change, in a comparable form. `by_name` names lists instead of
    giving their ids, to compare runs over lists created anew."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email, first_name, last_name, city, phone, company_name, custom_fields::text"
            " FROM contacts_contact ORDER BY email"
        )
        contacts = cursor.fetchall()
        cursor.execute(
            "SELECT c.email, s.name, s.list_id FROM contacts_source s"
            " JOIN contacts_contact c ON c.id = s.contact_id ORDER BY 1, 2"
        )
        sources = cursor.fetchall()
        cursor.execute(
            "SELECT email, email_hash, reason, origin FROM contacts_suppression ORDER BY email"
        )
        suppressions = cursor.fetchall()
        cursor.execute(
            "SELECT c.email, p.key, e.status, e.legal_basis, e.source, e.text"
            " FROM consent_consentevent e JOIN contacts_contact c ON c.id = e.contact_id"
            " JOIN consent_purpose p ON p.id = e.purpose_id ORDER BY 1, 5"
        )
        events = cursor.fetchall()
        cursor.execute("SELECT id, name FROM contacts_contactlist ORDER BY id")
        lists = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM contacts_listentry")
        entries = cursor.fetchone()[0]
        cursor.execute("SELECT name, definition::text FROM contacts_segment ORDER BY name")
        segments = cursor.fetchall()
        cursor.execute("SELECT list_id, user_id FROM contacts_listaccess ORDER BY 1, 2")
        grants = cursor.fetchall()
        cursor.execute("SELECT name, status, paused_reason FROM mailings_workflow ORDER BY name")
        workflows = cursor.fetchall()
    if by_name:
        names = dict(lists)
        sources = [(email, name, names.get(list_id)) for email, name, list_id in sources]
        segments = [
            (name, [names.get(i) for i in json.loads(d)["source_lists"]]) for name, d in segments
        ]
        grants = [(names.get(list_id), user) for list_id, user in grants]
        lists = [(name,) for _, name in lists]
    return {
        "contacts": contacts,
        "sources": sources,
        "suppressions": suppressions,
        "events": events,
        "lists": lists,
        "entries": entries,
        "segments": segments,
        "grants": grants,
        "workflows": workflows,
    }
