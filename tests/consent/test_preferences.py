from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from consent.models import (
    AccessToken,
    ConsentEvent,
    ConsentState,
    SubscriptionState,
    SubscriptionType,
)
from consent.services import access_tokens_revoke, list_unsubscribe_headers
from contacts.models import Suppression
from contacts.normalize import email_hash
from tests.conftest import Tenant
from tests.consent.conftest import make_contact, make_token, purpose

UA = "Mozilla/5.0 (Preference test)"


def _client() -> Client:
    return Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="203.0.113.9")


def _topic_id(tenant: Tenant, key: str) -> int:
    with tenant:
        return SubscriptionType.objects.get(key=key).pk


def test_the_page_shows_the_contacts_topics_in_their_language(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="els@example.org", language="nl")
    response = _client().get(f"/p/{make_token(tenant, contact)}/")
    assert response.status_code == 200
    assert "Uw e-mailvoorkeuren" in response.text and "Nieuwsbrief" in response.text


def test_the_page_speaks_french_and_german_too(tenant: Tenant) -> None:
    jean = make_contact(tenant, email="jean@example.org", language="fr")
    hans = make_contact(tenant, email="hans@example.org", language="de")
    assert "Vos préférences e-mail" in _client().get(f"/p/{make_token(tenant, jean)}/").text
    assert "Ihre E-Mail-Einstellungen" in _client().get(f"/p/{make_token(tenant, hans)}/").text


def test_get_changes_nothing(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    _client().get(f"/p/{make_token(tenant, contact)}/")
    with tenant:
        assert not ConsentEvent.objects.filter(contact_id=contact.pk).exists()


def test_ticking_a_topic_records_an_event_with_ip_and_user_agent(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    newsletter = _topic_id(tenant, "newsletter")
    response = _client().post(f"/p/{make_token(tenant, contact)}/", {"topics": [newsletter]})
    assert response.status_code == 200
    with tenant:
        event = ConsentEvent.objects.get(contact_id=contact.pk, subscription_type_id=newsletter)
        assert (event.status, event.ip, event.user_agent) == ("granted", "203.0.113.9", UA)
        assert SubscriptionState.objects.get(contact_id=contact.pk).subscribed


def test_unticking_every_topic_is_not_an_opt_out(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    newsletter = _topic_id(tenant, "newsletter")
    _client().post(f"/p/{token}/", {"topics": [newsletter], "email_marketing": "on"})
    _client().post(f"/p/{token}/", {"email_marketing": "on"})
    with tenant:
        state = ConsentState.objects.get(contact_id=contact.pk, purpose=purpose())
        assert state.status == "granted"
        assert not SubscriptionState.objects.get(contact_id=contact.pk).subscribed
        assert not Suppression.objects.exists()


def test_unticking_e_marketing_withdraws_it(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    _client().post(f"/p/{token}/", {"email_marketing": "on"})
    _client().post(f"/p/{token}/", {})
    with tenant:
        state = ConsentState.objects.get(contact_id=contact.pk, purpose=purpose())
        assert state.status == "withdrawn"


def test_unsubscribe_from_everything_withdraws_and_suppresses(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    newsletter = _topic_id(tenant, "newsletter")
    _client().post(f"/p/{token}/", {"topics": [newsletter], "email_marketing": "on"})
    _client().post(f"/p/{token}/", {"action": "unsubscribe_all"})
    with tenant:
        assert ConsentState.objects.get(contact_id=contact.pk).status == "withdrawn"
        assert not SubscriptionState.objects.get(contact_id=contact.pk).subscribed
        assert Suppression.objects.get(email_hash=email_hash("a@example.org")).reason == (
            "unsubscribed"
        )


def test_a_tampered_token_gets_a_plain_404(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = _client().get(f"/p/{tampered}/")
    assert response.status_code == 404
    assert "a@example.org" not in response.text and "Acme" not in response.text


def test_a_revoked_token_gets_a_404(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    with tenant:
        access_tokens_revoke(contact_id=contact.pk)
    assert _client().get(f"/p/{token}/").status_code == 404


def test_an_expired_token_gets_a_404(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    with tenant:
        AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _client().get(f"/p/{token}/").status_code == 404


def test_a_token_under_another_accounts_name_reveals_nothing(
    tenant: Tenant, outsider: Tenant
) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    secret = token.partition(".")[2]
    response = _client().get(f"/p/{outsider.account.slug}.{secret}/")
    assert response.status_code == 404
    assert "a@example.org" not in response.text


def test_a_double_opt_in_token_does_not_open_the_preference_centre(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact, kind=AccessToken.Kind.DOUBLE_OPT_IN)
    assert _client().get(f"/p/{token}/").status_code == 404


def test_one_click_post_without_cookies_unsubscribes(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/p/{token}/unsubscribe/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    with tenant:
        event = ConsentEvent.objects.get(contact_id=contact.pk)
        assert (event.status, event.source) == ("withdrawn", "one-click unsubscribe")
        assert Suppression.objects.filter(email_hash=email_hash("a@example.org")).exists()


def test_one_click_get_changes_nothing(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    response = _client().get(f"/p/{make_token(tenant, contact)}/unsubscribe/")
    assert response.status_code == 200
    with tenant:
        assert not ConsentEvent.objects.exists() and not Suppression.objects.exists()


def test_one_click_with_a_bad_token_is_a_404(tenant: Tenant) -> None:
    assert (
        _client()
        .post("/p/acme.nonsense-token-that-is-long-enough-to-look-real/unsubscribe/")
        .status_code
        == 404
    )


def test_list_unsubscribe_headers_point_at_the_one_click_endpoint(tenant: Tenant) -> None:
    headers = list_unsubscribe_headers(token="acme.secret")
    assert headers == {
        "List-Unsubscribe": "<http://localhost:8000/p/acme.secret/unsubscribe/>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_the_api_returns_a_working_preference_link(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    response = tenant.api("marketer").get(f"/api/v1/contacts/{contact.pk}/preference-link/")
    assert response.status_code == 200
    path = response.json()["url"].removeprefix("http://localhost:8000")
    assert _client().get(path).status_code == 200


def test_the_api_preference_link_of_another_accounts_contact_is_404(
    tenant: Tenant, outsider: Tenant
) -> None:
    contact = make_contact(outsider, email="a@example.org")
    response = tenant.api("marketer").get(f"/api/v1/contacts/{contact.pk}/preference-link/")
    assert response.status_code == 404


def test_a_second_one_click_records_nothing_new(tenant: Tenant) -> None:
    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    Client().post(f"/p/{token}/unsubscribe/")
    Client().post(f"/p/{token}/unsubscribe/")
    with tenant:
        assert ConsentEvent.objects.filter(contact_id=contact.pk).count() == 1


def test_an_account_without_topics_still_shows_its_e_marketing_consent(tenant: Tenant) -> None:
    from consent.selectors import preference_page

    contact = make_contact(tenant, email="a@example.org")
    token = make_token(tenant, contact)
    _client().post(f"/p/{token}/", {"email_marketing": "on"})
    with tenant:
        SubscriptionType.objects.all().delete()
        page = preference_page(contact_id=contact.pk, language="en")
    assert (page.topics, page.email_marketing) == ([], True)
