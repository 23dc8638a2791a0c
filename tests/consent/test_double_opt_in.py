from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from consent.models import ConsentEvent, ConsentState, SubscriptionState, SubscriptionType
from contacts.models import Contact
from tests.conftest import Mailbox, Tenant
from tests.consent.conftest import make_contact

UA = "Mozilla/5.0 (DOI test)"


@pytest.fixture(autouse=True)
def _defaults(tenant: Tenant) -> None:
    make_contact(tenant, email="seed@example.org")  # creates the account's defaults


def _client() -> Client:
    return Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="203.0.113.20")


def _sign_up(tenant: Tenant, capture: Any, **extra: Any) -> Any:
    with capture(execute=True):
        return _client().post(
            f"/signup/{tenant.account.slug}/",
            {"email": " Ann@Example.org ", "first_name": "Ann", "consent": "on", **extra},
        )


def _link_path(mailbox: Mailbox) -> str:
    (message,) = mailbox.wait_for(1)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    found = re.search(r"http://localhost:8000(/confirm/\S+/)", part.get_content())
    assert found is not None
    return found.group(1)


def test_the_sign_up_form_is_public(tenant: Tenant) -> None:
    response = _client().get(f"/signup/{tenant.account.slug}/")
    assert response.status_code == 200 and "Acme" in response.text


def test_an_unknown_sign_up_form_is_a_404(tenant: Tenant) -> None:
    assert _client().get("/signup/nobody-here/").status_code == 404


def test_signing_up_records_pending_and_mails_a_confirmation(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    response = _sign_up(tenant, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "ann@example.org"
    with tenant:
        contact = Contact.objects.get(email="ann@example.org")
        event = ConsentEvent.objects.get(contact_id=contact.pk)
        assert (event.status, event.ip, event.user_agent) == ("pending", "203.0.113.20", UA)
        assert event.doi_requested_at is not None


def test_an_invalid_address_is_explained(tenant: Tenant) -> None:
    response = _client().post(
        f"/signup/{tenant.account.slug}/", {"email": "not-an-address", "consent": "on"}
    )
    assert response.status_code == 200 and 'aria-invalid="true"' in response.text


def test_following_the_link_with_get_changes_nothing(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    _sign_up(tenant, django_capture_on_commit_callbacks)
    response = _client().get(_link_path(smtp_server))
    assert response.status_code == 200 and "<form" in response.text
    with tenant:
        assert ConsentState.objects.get(contact__email="ann@example.org").status == "pending"


def test_confirming_with_post_grants_with_timestamps_and_ip(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    _sign_up(tenant, django_capture_on_commit_callbacks)
    _client().post(_link_path(smtp_server))
    with tenant:
        event = ConsentEvent.objects.filter(contact__email="ann@example.org").latest("id")
        assert (event.status, event.legal_basis, event.ip) == ("granted", "consent", "203.0.113.20")
        assert event.doi_requested_at and event.doi_confirmed_at
        assert event.doi_requested_at < event.doi_confirmed_at


def test_confirming_twice_records_one_grant(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    _sign_up(tenant, django_capture_on_commit_callbacks)
    path = _link_path(smtp_server)
    _client().post(path)
    second = _client().post(path)
    assert second.status_code == 200
    with tenant:
        assert ConsentEvent.objects.filter(status="granted", subscription_type=None).count() == 1


def test_topics_chosen_at_sign_up_are_subscribed_on_confirmation(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with tenant:
        events = SubscriptionType.objects.get(key="events").pk
    _sign_up(tenant, django_capture_on_commit_callbacks, topics=[str(events)])
    _client().post(_link_path(smtp_server))
    with tenant:
        state = SubscriptionState.objects.get(contact__email="ann@example.org")
        assert (state.subscription_type_id, state.subscribed) == (events, True)


def test_the_confirmation_mail_is_in_the_visitors_language(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        Client(HTTP_ACCEPT_LANGUAGE="de").post(
            f"/signup/{tenant.account.slug}/", {"email": "uwe@example.org", "consent": "on"}
        )
    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Bitte bestätigen Sie Ihre Anmeldung bei Acme"


def test_the_api_starts_a_double_opt_in(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant.api("marketer").post(
            "/api/v1/signups/",
            {"email": "bob@example.org", "subscription_types": ["newsletter"], "ip": "192.0.2.1"},
            content_type="application/json",
        )
    assert response.status_code == 202
    assert smtp_server.wait_for(1)[0]["To"] == "bob@example.org"


def test_the_api_rejects_an_invalid_address_with_a_message(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/signups/", {"email": "nope"}, content_type="application/json"
    )
    assert response.status_code == 400 and "email" in response.json()["details"]


def test_the_sign_up_form_caps_sign_ups_per_ip_address(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(11):
            last = _client().post(
                f"/signup/{tenant.account.slug}/", {"email": f"v{i}@example.org", "consent": "on"}
            )
    assert last.status_code == 429 and "Too many sign-ups" in last.text
    assert len(smtp_server.wait_for(10)) == 10


def test_an_expired_confirmation_link_is_a_404(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from consent.models import AccessToken

    _sign_up(tenant, django_capture_on_commit_callbacks)
    path = _link_path(smtp_server)
    with tenant:
        AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _client().post(path).status_code == 404
    with tenant:
        assert not ConsentEvent.objects.filter(status="granted").exists()
