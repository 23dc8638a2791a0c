"""A conversion interrupted anywhere ends exactly like an uninterrupted one."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from contacts.models import ContactList
from converter import services
from converter.models import Conversion
from tests.conftest import Tenant
from tests.converter.helpers import account_state, make_contact, make_list


class SimulatedCrash(Exception):
    """The worker dies inside a unit of work, before it commits."""


def _lists() -> list[ContactList]:
    make_contact(email="jan@example.be", first_name="Johannes", city="")
    make_contact(email="els@example.be", first_name="Els", phone="+32 9 1")
    make_list("Old", [{"email": "old@example.be"}])
    return [
        make_list(
            "News",
            [
                {"email": "jan@example.be", "first_name": "Jan", "city": "Gent"},
                {"email": "ann@example.be", "first_name": "Ann", "status": "unsubscribed"},
                {"email": "bad address", "first_name": "Bad"},
                {"email": "els@example.be", "first_name": "Elisabeth", "phone": ""},
                {"email": "bob@example.be", "last_name": "Bakker"},
            ],
        ),
        make_list(
            "Events",
            [
                {"email": "ann@example.be", "first_name": "Anna", "city": "Namur"},
                {"email": "jan@example.be", "first_name": "Jan", "status": "unsubscribed"},
                {"email": "eva@example.be", "first_name": "Eva"},
                {"email": "bob@example.be", "last_name": "de Bakker", "city": "Liège"},
            ],
        ),
        make_list(
            "Members",
            [
                {"email": "eva@example.be", "first_name": "Eva", "custom_fields": {"no": 7}},
                {"email": "zoe@example.be", "first_name": "Zoë"},
            ],
        ),
    ]


def _convert(
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    *,
    crash_at: int | None = None,
    units_per_job: int | None = None,
) -> tuple[dict[str, Any], int]:
    """Runs a whole unattended conversion, in a savepoint that is rolled back afterwards.
    Returns the account's state at the end and the number of checkpoints passed."""
    passed = 0

    def checkpoint(name: str) -> None:
        nonlocal passed
        passed += 1
        if passed == crash_at:
            raise SimulatedCrash(name)

    monkeypatch.setattr(services, "checkpoint", checkpoint)
    monkeypatch.setattr(services, "_enqueue", lambda conversion: None)
    with tenant, transaction.atomic():
        lists = _lists()
        conversion = services.conversion_start(
            lists=lists,
            label="admin",
            started_by=tenant.admin,
            unattended=True,
            default_choice="list",
            choices={lists[1].pk: "database"},
        )
        account_id = tenant.account.pk
        for _ in range(200):
            conversion.refresh_from_db()
            if conversion.status == "done":
                break
            if conversion.status == "confirming" and conversion.confirm_requested_at is None:
                services.conversion_confirm(conversion=conversion)
                continue
            token = services.conversion_claim(conversion_id=conversion.pk, account_id=account_id)
            assert token is not None
            with contextlib.suppress(SimulatedCrash):
                services.conversion_work(
                    conversion_id=conversion.pk,
                    account_id=account_id,
                    token=token,
                    max_units=units_per_job,
                )
            conversion.refresh_from_db()
            if conversion.has_work:  # the job died or stopped: its lease runs out, then resume
                Conversion.objects.filter(pk=conversion.pk).update(
                    lease_expires_at=timezone.now() - timedelta(seconds=1)
                )
                services.conversion_resume(conversion=conversion)
        state = account_state(by_name=True)
        transaction.set_rollback(True)
    return state, passed


@pytest.fixture
def uninterrupted(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], int]:
    return _convert(tenant, monkeypatch)


def test_the_reference_run_merges_everything(
    uninterrupted: tuple[dict[str, Any], int],
) -> None:
    state, checkpoints = uninterrupted
    assert [c[0] for c in state["contacts"]] == [
        "ann@example.be",
        "bob@example.be",
        "els@example.be",
        "eva@example.be",
        "jan@example.be",
        "zoe@example.be",
    ]
    assert [s[0] for s in state["suppressions"]] == ["ann@example.be", "jan@example.be"]
    assert len(state["events"]) == 2
    assert checkpoints > 10


def test_stopping_after_every_unit_ends_like_an_uninterrupted_run(
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: tuple[dict[str, Any], int],
) -> None:
    monkeypatch.setattr(services, "CHUNK_SIZE", 2)
    reference, _ = _convert(tenant, monkeypatch)
    state, _ = _convert(tenant, monkeypatch, units_per_job=1)
    assert state == reference


def test_a_crash_at_any_checkpoint_ends_like_an_uninterrupted_run(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "CHUNK_SIZE", 2)
    reference, checkpoints = _convert(tenant, monkeypatch)
    for crash_at in range(1, checkpoints + 1):
        state, _ = _convert(tenant, monkeypatch, crash_at=crash_at)
        assert state == reference, f"crash at checkpoint {crash_at}"
