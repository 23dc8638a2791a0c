"""The duplicate scan's Celery task: claims the scan (compare-and-swap), runs it, records the end."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_atomic
from contacts.duplicates import scan_execute
from contacts.models import DuplicateScan
from contacts.services import SCAN_STALE_AFTER

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def duplicate_scan_run(account_id: int, scan_id: int) -> None:
    now = timezone.now()
    with tenant_atomic(account_id):
        # A queued scan, or one whose worker died (the broker re-delivers the task): a running
        # scan that still reports belongs to another worker and is left alone.
        claimed = (
            DuplicateScan.objects.filter(pk=scan_id, status=DuplicateScan.Status.QUEUED).update(
                status=DuplicateScan.Status.RUNNING, started_at=now, heartbeat_at=now
            )
        ) or (
            DuplicateScan.objects.filter(
                pk=scan_id,
                status=DuplicateScan.Status.RUNNING,
                heartbeat_at__lt=now - SCAN_STALE_AFTER,
            ).update(heartbeat_at=now)
        )
    if not claimed:
        return
    try:
        scan_execute(account_id=account_id, scan_id=scan_id)
    except Exception as exc:
        logger.exception("duplicate scan %s failed", scan_id)
        with tenant_atomic(account_id):
            DuplicateScan.objects.filter(pk=scan_id, status=DuplicateScan.Status.RUNNING).update(
                status=DuplicateScan.Status.FAILED,
                error=f"The scan failed: {exc.__class__.__name__}. Start it again.",
                finished_at=timezone.now(),
            )
        return
    with tenant_atomic(account_id):
        DuplicateScan.objects.filter(pk=scan_id, status=DuplicateScan.Status.RUNNING).update(
            status=DuplicateScan.Status.SUCCEEDED, progress=1.0, finished_at=timezone.now()
        )
