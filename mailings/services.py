from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from mailings.models import Campaign, Workflow, WorkflowList


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """A scheduled campaign stops being scheduled; a sent one cannot be cancelled."""
    if campaign.status != Campaign.Status.SCHEDULED:
        raise ValidationError(f"“{campaign.name}” is not scheduled, so it cannot be cancelled.")
    updated = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SCHEDULED).update(
        status=Campaign.Status.CANCELLED
    )
    if not updated:
        raise ValidationError(f"“{campaign.name}” is not scheduled any more.")
    campaign.status = Campaign.Status.CANCELLED
    return campaign


def workflows_pause_using_lists(*, reason: str) -> list[dict[str, Any]]:
    """Pauses every active workflow that uses any list; returns [{id, name}] of those paused."""
    uses_list = Exists(WorkflowList.objects.filter(workflow=OuterRef("pk")))
    workflows: list[dict[str, Any]] = [
        {"id": w.pk, "name": w.name}
        for w in Workflow.objects.filter(uses_list, status=Workflow.Status.ACTIVE).order_by("id")
    ]
    Workflow.objects.filter(pk__in=[w["id"] for w in workflows]).update(
        status=Workflow.Status.PAUSED, paused_reason=reason
    )
    return workflows


def workflows_resume(*, workflow_ids: list[int], reason: str) -> int:
    """Resumes the given workflows if they are still paused for `reason` (not paused since by
    someone else for another reason)."""
    return Workflow.objects.filter(
        pk__in=workflow_ids, status=Workflow.Status.PAUSED, paused_reason=reason
    ).update(status=Workflow.Status.ACTIVE, paused_reason="")
