from __future__ import annotations

from typing import Any

from accounts.tenancy import tenant_atomic
from contacts.models import Contact, ContactList, ListEntry, Segment, Source
from tests.conftest import Tenant


def contact(tenant: Tenant, **fields: Any) -> Contact:
    sources = fields.pop("sources", [])
    with tenant_atomic(tenant.account):
        created = Contact.objects.create(**fields)
        for source in sources:
            if isinstance(source, ContactList):
                Source.objects.create(contact=created, list=source, name=source.name)
            else:
                Source.objects.create(contact=created, name=source)
    return created


def contact_list(tenant: Tenant, name: str = "Newsletter", entries: Any = ()) -> ContactList:
    with tenant_atomic(tenant.account):
        created = ContactList.objects.create(name=name)
        for entry in entries:
            values = (
                {"email": entry, "email_normalized": entry} if isinstance(entry, str) else entry
            )
            ListEntry.objects.create(list=created, **values)
    return created


def segment(tenant: Tenant, name: str = "Segment", definition: Any = None) -> Segment:
    with tenant_atomic(tenant.account):
        return Segment.objects.create(name=name, definition=definition or {})
