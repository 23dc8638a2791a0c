from __future__ import annotations

from consent.models import ConsentEvent, ConsentSettings, Purpose, SubscriptionType
from tests.conftest import Tenant
from tests.consent.conftest import make_contact


def test_the_consent_section_shows_purposes_topics_and_settings(tenant: Tenant) -> None:
    page = tenant.client("viewer").get("/consent/")
    assert page.status_code == 200
    for text in ("Sales and service", "E-marketing", "Newsletter", "enforcement is <strong>on"):
        assert text in page.text


def test_the_consent_section_needs_a_sign_in(tenant: Tenant) -> None:
    from django.test import Client

    assert Client().get("/consent/").status_code == 302


def test_an_admin_turns_enforcement_off(tenant: Tenant) -> None:
    tenant.client("admin").post("/consent/settings/", {"signup_text": ""})
    with tenant:
        assert ConsentSettings.objects.get().enforce_email_consent is False


def test_a_marketer_cannot_change_the_settings(tenant: Tenant) -> None:
    response = tenant.client("marketer").post("/consent/settings/", {"signup_text": ""})
    assert response.status_code == 404


def test_an_admin_renames_a_purpose(tenant: Tenant) -> None:
    make_contact(tenant, email="a@example.org")
    with tenant:
        marketing = Purpose.objects.get(key="e_marketing")
    tenant.client("admin").post(
        f"/consent/purposes/{marketing.pk}/", {"name": "Newsletters", "description": ""}
    )
    with tenant:
        assert Purpose.objects.get(pk=marketing.pk).name == "Newsletters"


def test_another_accounts_purpose_is_404(tenant: Tenant, outsider: Tenant) -> None:
    make_contact(outsider, email="a@example.org")
    with outsider:
        theirs = Purpose.objects.get(key="e_marketing")
    assert tenant.client("admin").get(f"/consent/purposes/{theirs.pk}/").status_code == 404


def test_a_marketer_adds_a_subscription_type(tenant: Tenant) -> None:
    tenant.client("marketer").post(
        "/consent/subscription-types/", {"key": "webinars", "name": "Webinars"}
    )
    with tenant:
        assert SubscriptionType.objects.filter(key="webinars").exists()


def test_a_marketer_renames_a_subscription_type(tenant: Tenant) -> None:
    make_contact(tenant, email="a@example.org")
    with tenant:
        topic = SubscriptionType.objects.get(key="newsletter")
    tenant.client("marketer").post(
        f"/consent/subscription-types/{topic.pk}/", {"name": "Monthly letter", "description": ""}
    )
    with tenant:
        topic.refresh_from_db()
    assert (topic.key, topic.name) == ("newsletter", "Monthly letter")


def test_another_accounts_subscription_type_is_404(tenant: Tenant, outsider: Tenant) -> None:
    make_contact(outsider, email="a@example.org")
    with outsider:
        theirs = SubscriptionType.objects.get(key="newsletter")
    page = tenant.client("admin").get(f"/consent/subscription-types/{theirs.pk}/")
    assert page.status_code == 404


def test_the_contact_page_shows_the_ledger_as_a_timeline(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    client = tenant.client("marketer")
    client.post(
        f"/consent/contacts/{contact.pk}/",
        {
            "purpose": _purpose_id(tenant),
            "status": "granted",
            "legal_basis": "consent",
            "channel": "phone",
            "source": "Call with Ann",
        },
    )
    page = client.get(f"/consent/contacts/{contact.pk}/")
    assert (
        page.status_code == 200
        and "Call with Ann" in page.text
        and "marketer@acme.test" in page.text
    )


def _purpose_id(tenant: Tenant) -> int:
    with tenant:
        return Purpose.objects.get(key="e_marketing").pk


def test_a_recorded_event_keeps_who_recorded_it(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    tenant.client("marketer").post(
        f"/consent/contacts/{contact.pk}/",
        {"purpose": _purpose_id(tenant), "status": "withdrawn", "legal_basis": "consent"},
    )
    with tenant:
        event = ConsentEvent.objects.get()
    assert (event.status, event.recorded_by_id) == ("withdrawn", tenant.marketer.pk)


def test_a_viewer_cannot_record_events(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    response = tenant.client("viewer").post(
        f"/consent/contacts/{contact.pk}/",
        {"purpose": _purpose_id(tenant), "status": "granted", "legal_basis": "consent"},
    )
    assert response.status_code == 404


def test_the_contact_page_creates_a_preference_link(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    page = tenant.client("marketer").post(f"/consent/contacts/{contact.pk}/", {"action": "link"})
    assert "http://localhost:8000/p/acme." in page.text


def test_another_accounts_contact_page_is_404(tenant: Tenant, outsider: Tenant) -> None:
    contact = make_contact(outsider, email="a@example.org")
    assert tenant.client("admin").get(f"/consent/contacts/{contact.pk}/").status_code == 404
    response = tenant.client("admin").post(f"/consent/contacts/{contact.pk}/", {"action": "link"})
    assert response.status_code == 404


def test_the_contact_page_of_the_contacts_section_shows_the_consent_timeline(
    tenant: Tenant,
) -> None:
    contact = make_contact(tenant, email="a@example.org")
    tenant.client("marketer").post(
        f"/consent/contacts/{contact.pk}/",
        {
            "purpose": _purpose_id(tenant),
            "status": "granted",
            "legal_basis": "consent",
            "source": "Paper form",
        },
    )
    page = tenant.client("viewer").get(f"/contacts/{contact.pk}/")
    assert page.status_code == 200
    assert "Consent history" in page.text and "Paper form" in page.text
