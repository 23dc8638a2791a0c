"""A real Celery worker killed in the middle of a conversion: resume, same result."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_atomic
from converter import services
from converter.models import Conversion, ConversionStep
from tests.conftest import Tenant, committed
from tests.converter.helpers import account_state, make_contact, make_list

pytestmark = committed


def _fill(tenant: Tenant) -> list[Any]:
    with tenant_atomic(tenant.account):
        make_contact(email="p1@example.be", first_name="Old", city="")
        return [
            make_list(
                f"List {n}",
                [
                    {
                        "email": f"p{(i * 7 + n * 500) % 3000}@example.be",
                        "first_name": f"Name {n}" if i % 7 == 0 else "Name",
                        "city": f"City {i % 5}",
                        "status": "unsubscribed" if i % 50 == 0 else "subscribed",
                    }
                    for i in range(1500)
                ],
            )
            for n in range(3)
        ]


def _start(tenant: Tenant, lists: list[Any]) -> Conversion:
    with tenant_atomic(tenant.account):
        return services.conversion_start(
            lists=lists, label="admin", unattended=True, default_choice="list"
        )


def _wait(tenant: Tenant, conversion: Conversion, until: Any, timeout: float = 60) -> Conversion:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tenant_atomic(tenant.account):
            conversion = Conversion.objects.get(pk=conversion.pk)
            steps = list(ConversionStep.objects.filter(conversion=conversion))
        if until(conversion, steps):
            return conversion
        time.sleep(0.05)
    raise AssertionError(f"conversion {conversion.pk} did not get there: {conversion.status}")


def _reference(outsider: Tenant, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The same conversion, uninterrupted, in this process."""
    monkeypatch.setattr(services, "_enqueue", lambda conversion: None)
    lists = _fill(outsider)
    conversion = _start(outsider, lists)
    for _ in range(3):
        token = services.conversion_claim(
            conversion_id=conversion.pk, account_id=outsider.account.pk
        )
        assert token is not None
        services.conversion_work(
            conversion_id=conversion.pk, account_id=outsider.account.pk, token=token
        )
        with tenant_atomic(outsider.account):
            conversion = Conversion.objects.get(pk=conversion.pk)
            if conversion.status == "done":
                return account_state(by_name=True)
            services.conversion_confirm(conversion=conversion)
    raise AssertionError("the reference run did not finish")


def test_a_killed_worker_loses_nothing(
    tenant: Tenant,
    outsider: Tenant,
    celery_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVERTER_CHUNK_SIZE", "50")
    monkeypatch.setattr(services, "CHUNK_SIZE", 50)
    lists = _fill(tenant)
    worker = celery_worker()
    conversion = _start(tenant, lists)
    _wait(tenant, conversion, lambda c, steps: any(s.status == "merging" for s in steps))
    worker.kill()
    with tenant_atomic(tenant.account):
        stopped = Conversion.objects.get(pk=conversion.pk)
        assert stopped.has_work  # killed in the middle, not after the end
        # The dead job's lease runs out (here: at once), and the admin resumes.
        Conversion.objects.filter(pk=conversion.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        services.conversion_resume(conversion=Conversion.objects.get(pk=conversion.pk))
    celery_worker()
    conversion = _wait(tenant, conversion, lambda c, steps: c.status == "confirming")
    with tenant_atomic(tenant.account):
        services.conversion_confirm(conversion=conversion)
    _wait(tenant, conversion, lambda c, steps: c.status == "done")
    with tenant_atomic(tenant.account):
        state = account_state(by_name=True)
    monkeypatch.undo()
    with tenant_atomic(outsider.account):
        pass
    assert state == _reference(outsider, monkeypatch)
