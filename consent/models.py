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
    subscription_type = models.ForeignKey(
        "SubscriptionType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Set when the event is about one topic, not the purpose as a whole",
    )

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


class ConsentSettings(TenantModel):
    """Per-account consent settings (one row; absent means the defaults)."""

    enforce_email_consent = models.BooleanField(
        default=True,
        help_text="E-mail mailing runs and syncs leave out contacts without a live e-marketing basis",
    )
    signup_text = models.TextField(
        blank=True,
        default="",
        help_text="The consent text shown on the public sign-up form (its version is recorded)",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account"], name="consentsettings_unique_account")
        ]


class SubscriptionType(TenantModel):
    """A topic a contact can subscribe to (newsletter, events, …). Names may be translated."""

    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    translations = models.JSONField(
        default=dict, blank=True, help_text='{"nl": {"name": …, "description": …}, …}'
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="subscriptiontype_unique_key")
        ]

    def __str__(self) -> str:
        return self.name

    def name_in(self, language: str) -> str:
        return str(self.translations.get(language, {}).get("name") or self.name)

    def description_in(self, language: str) -> str:
        return str(self.translations.get(language, {}).get("description") or self.description)


class SubscriptionState(TenantModel):
    """A contact's current state for one subscription type, kept by the ledger trigger from
    events that carry a subscription type (granted = subscribed)."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="subscription_states"
    )
    subscription_type = models.ForeignKey(
        SubscriptionType, on_delete=models.CASCADE, related_name="+"
    )
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    subscribed = models.BooleanField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact", "subscription_type"],
                name="subscriptionstate_unique",
            )
        ]


class AccessToken(TenantModel):
    """A personal link's token. Only its SHA-256 is stored; revoking or expiry ends the link.

    Links look like `<account slug>.<43 random characters>` (256 bits): the slug lets a public
    page set the row-level-security context before it looks the hash up, and a token of one
    account can never match a row of another.
    """

    class Kind(models.TextChoices):
        PREFERENCES = "preferences", "Preference centre"
        DOUBLE_OPT_IN = "double_opt_in", "Double opt-in confirmation"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="Who used it (confirmations)"
    )
    user_agent = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True, help_text="e.g. the topics of a sign-up")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "token_hash"], name="accesstoken_unique")
        ]
        indexes = [models.Index(fields=["account", "contact"], name="accesstoken_contact")]


class DataSubjectRequest(TenantModel):
    """A GDPR request (Art. 15/16/17) and its deadline. Keeps no personal data: after an erasure
    only the former contact id and the outcome remain."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Access (export)"
        RECTIFICATION = "rectification", "Rectification"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    kind = models.CharField(max_length=15, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    contact_id_ref = models.BigIntegerField(help_text="The contact's id (kept after an erasure)")
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(max_length=20, blank=True, default="", help_text="web or api")
    note = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["account", "-requested_at"], name="dsr_requested"),
            models.Index(fields=["account", "contact_id_ref"], name="dsr_contact"),
        ]


class BaselineRun(TenantModel):
    """A run of the GDPR baseline in the background, chunk by chunk of contact ids; its progress
    is polled by the page. Re-running a chunk records nothing twice (rules skip contacts that
    already have a state), so a crashed run resumes from `last_contact_id`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    counts = models.JSONField(default=dict, blank=True)
    first_contact_id = models.BigIntegerField(default=0, help_text="Starts after this id")
    last_contact_id = models.BigIntegerField(default=0, help_text="Checkpoint: done up to here")
    max_contact_id = models.BigIntegerField(default=0)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-id"], name="baselinerun_recent")]
