from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Account, ApiKey, Membership
from accounts.tenancy import tenant_atomic
from contacts.models import ContactList, ListEntry
from mailings.models import Campaign, Workflow


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_account_makes_an_admin_who_can_sign_in(db: None) -> None:
    run(
        "create_account",
        "acme",
        "--name",
        "Acme BV",
        "--admin-email",
        "Boss@Acme.test",
        "--admin-password",
        "s3cret-enough-pw",
    )
    account = Account.objects.get(slug="acme")
    with tenant_atomic(account):
        assert Membership.objects.get().role == "admin"
    response = Client().post(
        "/login/", {"username": "boss@acme.test", "password": "s3cret-enough-pw"}, follow=True
    )
    assert "<h1>Acme BV</h1>" in response.content.decode()


def test_create_account_refuses_a_slug_in_use(db: None) -> None:
    run(
        "create_account",
        "acme",
        "--name",
        "A",
        "--admin-email",
        "a@a.test",
        "--admin-password",
        "pw-long-enough",
    )
    with pytest.raises(CommandError, match="exists already"):
        run(
            "create_account",
            "acme",
            "--name",
            "B",
            "--admin-email",
            "b@b.test",
            "--admin-password",
            "pw-long-enough",
        )


def test_create_api_key_prints_a_working_key_once_and_stores_only_its_hash(db: None) -> None:
    run(
        "create_account",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@a.test",
        "--admin-password",
        "pw-long-enough",
    )
    key = run("create_api_key", "acme", "--role", "marketer").strip()
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/account/")
    assert response.json() == {
        "id": Account.objects.get().pk,
        "slug": "acme",
        "name": "Acme",
        "role": "marketer",
    }
    with tenant_atomic(Account.objects.get()):
        stored = ApiKey.objects.get()
    assert key not in (stored.key_hash, stored.prefix) and stored.key_hash == ApiKey.hash(key)


def test_seed_demo_builds_overlapping_lists_and_is_idempotent(db: None) -> None:
    run("seed_demo")
    run("seed_demo")
    account = Account.objects.get(slug="demo")
    with tenant_atomic(account):
        assert ContactList.objects.count() == 6
        entries = ListEntry.objects.count()
        distinct = (
            ListEntry.objects.exclude(email_normalized=None)
            .values("email_normalized")
            .distinct()
            .count()
        )
        assert entries > 3000 and distinct < entries  # people appear on several lists
        assert ListEntry.objects.filter(status="unsubscribed").exists()
        assert ListEntry.objects.filter(email_normalized=None).exists()  # legacy invalid addresses
        assert set(ListEntry.objects.values_list("language", flat=True).distinct()) == {
            "nl",
            "fr",
            "de",
        }
        assert Workflow.objects.filter(lists__isnull=False).distinct().count() == 2
        assert Campaign.objects.filter(status="scheduled", lists__isnull=False).exists()
        assert set(Membership.objects.values_list("role", flat=True)) == {"admin", "marketer"}
