from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD, Mailbox, Tenant, link_in, make_tenant


def sign_in(client: Client, email: str, password: str) -> int:
    return client.post("/login/", {"username": email, "password": password}).status_code


def test_signing_in_leads_to_the_dashboard_of_ones_account(tenant: Tenant) -> None:
    client = Client()
    response = client.post(
        "/login/", {"username": "marketer@acme.test", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "<h1>Acme</h1>" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_message(tenant: Tenant) -> None:
    response = Client().post("/login/", {"username": "marketer@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_pages_require_signing_in(db: None) -> None:
    response = Client().get("/contacts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/contacts/")


def test_sign_in_is_throttled_after_repeated_failures_even_with_the_right_password(
    tenant: Tenant, settings: object
) -> None:
    client = Client()
    for _ in range(5):
        assert sign_in(client, "viewer@acme.test", "wrong") == 200
    response = client.post("/login/", {"username": "viewer@acme.test", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    # Another address from the same place is not punished for it.
    assert sign_in(client, "marketer@acme.test", PASSWORD) == 302


def test_signing_out_ends_the_session(tenant: Tenant) -> None:
    client = tenant.client("marketer")
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(
    tenant: Tenant, smtp_server: Mailbox
) -> None:
    client = Client()
    client.post("/password-reset/", {"email": "viewer@acme.test"})
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "viewer@acme.test"
    link = link_in(r"http://testserver(/password-reset/\S+/)", message.get_content())
    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    done = client.post(
        set_url,
        {"new_password1": "a new long passphrase 42", "new_password2": "a new long passphrase 42"},
    )
    assert done.status_code == 302
    assert sign_in(Client(), "viewer@acme.test", "a new long passphrase 42") == 302
    assert sign_in(Client(), "viewer@acme.test", PASSWORD) == 200


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    db: None, smtp_server: Mailbox
) -> None:
    response = Client().post("/password-reset/", {"email": "nobody@nowhere.test"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert smtp_server.wait_for(1, timeout=0.5) == []


def test_a_user_in_two_accounts_switches_between_them(tenant: Tenant, outsider: Tenant) -> None:
    from accounts.services import membership_add

    with outsider:
        membership_add(account=outsider.account, email="marketer@acme.test", role="viewer")
    client = tenant.client("marketer")
    page = client.get("/").content.decode()
    assert "<h1>Acme</h1>" in page and 'name="account_id"' in page
    client.post("/account/switch/", {"account_id": outsider.account.pk})
    assert "<h1>Other</h1>" in client.get("/").content.decode()


@pytest.mark.parametrize(
    "path", ["/", "/contacts/", "/lists/", "/consent/", "/mailings/", "/settings/"]
)
def test_a_user_without_any_account_gets_404_not_someone_elses_data(db: None, path: str) -> None:
    from accounts.services import user_get_or_create

    user, _ = user_get_or_create(email="loner@nowhere.test", password=PASSWORD)
    client = Client()
    client.force_login(user)
    make_tenant("acme")
    assert client.get(path).status_code == 404
