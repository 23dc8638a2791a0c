from __future__ import annotations

from typing import Any

from accounts.tenancy import tenant_atomic
from consent.models import AccessToken, Purpose
from consent.services import access_token_issue, consent_defaults_ensure
from contacts.models import Contact
from tests.conftest import Tenant


def make_contact(tenant: Tenant, **fields: Any) -> Contact:
    with tenant_atomic(tenant.account):
        consent_defaults_ensure()
        return Contact.objects.create(**fields)


def make_token(tenant: Tenant, contact: Contact, kind: str = AccessToken.Kind.PREFERENCES) -> str:
    with tenant_atomic(tenant.account):
        return access_token_issue(contact_id=contact.pk, kind=kind)


def purpose(key: str = Purpose.E_MARKETING) -> Purpose:
    return Purpose.objects.get(key=key)
