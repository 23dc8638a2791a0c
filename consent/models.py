from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import TenantModel
from contacts.models import Contact


class LegalBasis(models.TextChoices):
    """GDPR Art. 6(1)."""

    CONSENT = "consent", "Consent"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    VITAL_INTEREST = "vital_interest", "Vital interest"
    PUBLIC_TASK = "public_task", "Public task"


class Purpose(TenantModel):
    SALES = "sales_service"
    E_MARKETING = "e_marketing"

    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="purpose_unique_key")
        ]

    def __str__(self) -> str:
        return self.name


class ConsentEvent(TenantModel):
    """One append-only row of the consent ledger. The database refuses UPDATE and DELETE (trigger
    `consent_event_append_only`), except the scrubbing of evidence during an erasure."""

    class Status(models.TextChoices):
        GRANTED = "granted", "Granted"
        WITHDRAWN = "withdrawn", "Withdrawn"
        PENDING = "pending", "Pending"

    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    channel = models.CharField(
        max_length=30, blank=True, default="", help_text="web, email, import, api, admin, …"
    )
    source = models.CharField(
        max_length=200, blank=True, default="", help_text="What recorded it: a list, a form, …"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True, default="")
    text = models.TextField(
        blank=True, default="", help_text="The exact text shown, or its version"
    )
    doi_requested_at = models.DateTimeField(null=True, blank=True)
    doi_confirmed_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["account", "contact", "purpose", "-id"], name="consent_event_contact"
            )
        ]


class ConsentState(TenantModel):
    """The current state per contact and purpose: the latest ledger event, kept by a trigger."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices)
    status = models.CharField(max_length=10, choices=ConsentEvent.Status.choices)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact", "purpose"], name="consent_state_unique"
            )
        ]
        indexes = [
            models.Index(fields=["account", "purpose", "status"], name="consent_state_purpose")
        ]
