from __future__ import annotations

from consent.models import ConsentSettings, LegalBasis
from consent.selectors import email_eligible_contacts
from consent.services import Evidence, consent_event_record, contact_erase, suppression_add
from contacts.models import Contact
from tests.conftest import Tenant
from tests.consent.conftest import make_contact, purpose


def _record(contact: Contact, status: str, basis: str = LegalBasis.CONSENT) -> None:
    consent_event_record(
        contact_id=contact.pk,
        purpose=purpose(),
        status=status,
        legal_basis=basis,
        evidence=Evidence(channel="test"),
    )


def _eligible() -> set[str]:
    return {c.email for c in email_eligible_contacts() if c.email}


def test_granted_consent_is_eligible(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _record(contact, "granted")
        assert _eligible() == {"a@example.org"}


def test_legitimate_interest_is_eligible_until_withdrawn(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _record(contact, "granted", LegalBasis.LEGITIMATE_INTEREST)
        assert _eligible() == {"a@example.org"}
        _record(contact, "withdrawn", LegalBasis.LEGITIMATE_INTEREST)
        assert _eligible() == set()


def test_pending_double_opt_in_is_not_eligible(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _record(contact, "pending")
        assert _eligible() == set()


def test_without_a_basis_a_contact_is_left_out_when_enforced(tenant: Tenant) -> None:
    make_contact(tenant, email="a@example.org")
    with tenant:
        assert _eligible() == set()


def test_without_enforcement_a_contact_without_a_basis_is_eligible(tenant: Tenant) -> None:
    make_contact(tenant, email="a@example.org")
    with tenant:
        ConsentSettings.objects.create(enforce_email_consent=False)
        assert _eligible() == {"a@example.org"}


def test_without_enforcement_a_withdrawal_still_counts(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        ConsentSettings.objects.create(enforce_email_consent=False)
        _record(contact, "withdrawn")
        assert _eligible() == set()


def test_a_suppressed_address_is_left_out(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        _record(contact, "granted")
        suppression_add(email="a@example.org", reason="bounced", origin="test")
        assert _eligible() == set()


def test_a_contact_without_an_address_is_left_out(tenant: Tenant) -> None:
    contact = make_contact(tenant, email=None, last_name="Post Only")
    with tenant:
        _record(contact, "granted")
        assert email_eligible_contacts().count() == 0


def test_an_erased_address_stays_out_as_a_new_contact(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    with tenant:
        contact_erase(contact=contact, requested_by_id=None, channel="test")
        again = Contact.objects.create(email="a@example.org")
        _record(again, "granted")
        assert _eligible() == set()


def test_the_selector_works_as_a_subquery(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    make_contact(tenant, email="b@example.org")
    with tenant:
        _record(contact, "granted")
        ids = Contact.objects.filter(pk__in=email_eligible_contacts().values("pk"))
        assert [c.email for c in ids] == ["a@example.org"]


def test_another_accounts_contacts_never_appear(tenant: Tenant, outsider: Tenant) -> None:
    other = make_contact(outsider, email="o@example.org")
    with outsider:
        _record(other, "granted")
    with tenant:
        assert _eligible() == set()
