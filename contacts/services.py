from __future__ import annotations

from contacts.models import ContactList


def list_create(*, name: str, description: str = "") -> ContactList:
    return ContactList.objects.create(name=name, description=description)


def list_delete(*, contact_list: ContactList) -> None:
    contact_list.delete()
