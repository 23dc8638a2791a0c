"""Thin Celery entry points: the work and its bookkeeping live in converter.services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from accounts.tenancy import tenant_atomic
from converter import services
from converter.models import Conversion

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=5,
)
def conversion_run(conversion_id: int, account_id: int) -> None:
    """Runs a conversion's work until it waits for its admin or ends. Safe to deliver twice: only
    the job holding the lease works, and each unit of work commits with its own progress."""
    token = services.conversion_claim(conversion_id=conversion_id, account_id=account_id)
    if token is None:
        return
    try:
        services.conversion_work(conversion_id=conversion_id, account_id=account_id, token=token)
    except (OperationalError, InterfaceError):
        services.conversion_release(conversion_id=conversion_id, account_id=account_id, token=token)
        raise  # retried; the work goes on from its last committed unit
    except Exception as error:
        logger.exception("conversion %s failed", conversion_id)
        with tenant_atomic(account_id):
            services.conversion_fail(conversion_id=conversion_id, error=str(error)[:2000])


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=3)
def conversion_drafts_delete(conversion_id: int, account_id: int) -> None:
    with tenant_atomic(account_id):
        conversion = Conversion.objects.filter(pk=conversion_id).first()
        if conversion is not None:
            services.drafts_delete(conversion=conversion)
