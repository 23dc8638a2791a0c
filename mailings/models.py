from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import TenantModel
from contacts.models import ContactList, Segment


class Campaign(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    lists = models.ManyToManyField(
        ContactList, through="CampaignList", related_name="campaigns", blank=True
    )
    segments = models.ManyToManyField(
        Segment, through="CampaignSegment", related_name="campaigns", blank=True
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "status"], name="campaign_status")]

    def __str__(self) -> str:
        return self.name


class CampaignList(TenantModel):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE)
    list = models.ForeignKey(ContactList, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "campaign", "list"], name="campaignlist_unique"
            )
        ]


class CampaignSegment(TenantModel):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "campaign", "segment"], name="campaignsegment_unique"
            )
        ]


class Workflow(TenantModel):
    """An automation that mails the people of some lists and/or segments."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.CharField(max_length=300, blank=True, default="")
    lists = models.ManyToManyField(
        ContactList, through="WorkflowList", related_name="workflows", blank=True
    )
    segments = models.ManyToManyField(
        Segment, through="WorkflowSegment", related_name="workflows", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "name"], name="workflow_name")]

    def __str__(self) -> str:
        return self.name


class WorkflowList(TenantModel):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE)
    list = models.ForeignKey(ContactList, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "workflow", "list"], name="workflowlist_unique"
            )
        ]


class WorkflowSegment(TenantModel):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "workflow", "segment"], name="workflowsegment_unique"
            )
        ]
