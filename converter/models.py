"""The converter's rows: a conversion, its steps (one per list), and its draft database.

The draft database lives in its own table keyed by conversion (`DraftContact`), filled from the
published contacts when the conversion starts and merged into list by list; each list's analysed
entries (`StagedEntry`) say which draft contacts get the list as a source and which addresses it
unsubscribes. Nothing the account uses is written before the final confirmation, so a cancel only
deletes the draft rows, and a confirmation publishes them in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, TenantModel
from contacts.models import ContactList


class Choice(models.TextChoices):
    LIST = "list", "List values win"
    DATABASE = "database", "Database values stay"


def _empty_dict() -> dict[str, object]:
    return {}


def _empty_list() -> list[object]:
    return []


class Conversion(TenantModel):
    class Status(models.TextChoices):
        ANALYZING = "analyzing", "Analysing"
        REVIEW = "review", "Waiting for a choice"
        MERGING = "merging", "Merging"
        CONFIRMING = "confirming", "Waiting for the final confirmation"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.ANALYZING, Status.REVIEW, Status.MERGING, Status.CONFIRMING)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ANALYZING)
    unattended = models.BooleanField(default=False)
    default_choice = models.CharField(max_length=8, choices=Choice.choices, blank=True, default="")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by_key_id = models.BigIntegerField(
        null=True, blank=True, help_text="The API key that started it (unattended mode)"
    )
    started_by_label = models.CharField(max_length=254)
    # The lists that existed at the start: those not merged are deleted at the confirmation.
    lists_at_start = models.JSONField(default=_empty_list)
    paused_workflows = models.JSONField(
        default=_empty_list, help_text="[{id, name}] of the workflows this conversion paused"
    )
    prepared = models.BooleanField(
        default=False, help_text="The draft holds a copy of the published contacts"
    )
    confirm_requested_at = models.DateTimeField(null=True, blank=True)
    # The lease: who runs the work now, and until when the account counts as locked. A running job
    # renews it every chunk; a dead worker lets it run out, after which the admin may resume.
    job_token = models.CharField(max_length=32, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    report = models.JSONField(default=_empty_dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["analyzing", "review", "merging", "confirming"]),
                name="conversion_one_active",
            )
        ]
        indexes = [models.Index(fields=["account", "-id"], name="conversion_recent")]

    def __str__(self) -> str:
        return f"Conversion {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def lease_alive(self) -> bool:
        return self.lease_expires_at is not None and self.lease_expires_at > timezone.now()

    @property
    def has_work(self) -> bool:
        """A job should be running (as opposed to waiting for the admin)."""
        return self.status in (self.Status.ANALYZING, self.Status.MERGING) or (
            self.status == self.Status.CONFIRMING and self.confirm_requested_at is not None
        )

    @property
    def stalled(self) -> bool:
        """Work is due but no job has shown a sign of life within its lease."""
        return self.has_work and not self.lease_alive


class ConversionStep(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        ANALYZING = "analyzing", "Analysing"
        REVIEW = "review", "Waiting for a choice"
        MERGING = "merging", "Merging"
        MERGED = "merged", "Merged"

    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    list_name = models.CharField(max_length=200)
    source_name = models.CharField(max_length=200, help_text="The source its contacts get")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    choice = models.CharField(max_length=8, choices=Choice.choices, blank=True, default="")
    field_overrides = models.JSONField(default=_empty_dict, blank=True)
    counts = models.JSONField(default=_empty_dict, blank=True)
    field_counts = models.JSONField(
        default=_empty_dict, blank=True, help_text="field → {fill, mismatch}"
    )
    dropped_values = models.PositiveIntegerField(null=True, blank=True)
    entries_total = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="Last entry id done in the current phase")
    done = models.PositiveIntegerField(default=0, help_text="Entries done in the current phase")
    analyzed_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "conversion", "position"], name="conversionstep_position"
            ),
            models.UniqueConstraint(
                fields=["account", "conversion", "list"], name="conversionstep_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.list_name}"

    @property
    def progress(self) -> float:
        if self.status == self.Status.MERGED or self.status == self.Status.REVIEW:
            return 1.0
        if not self.entries_total:
            return 0.0
        return min(1.0, self.done / self.entries_total)


def _plain_key(to: type[models.Model] | str) -> models.ForeignKey[Any, Any]:
    """A reference without a database constraint or an index of its own, for the draft and staging
    tables: they are written a million rows at a time, and a constraint check per row (and one
    more index each) would cost more than the merge itself. Their composite keys, which start with
    the account, serve the lookups; deletions cascade in the converter's services."""
    return models.ForeignKey(
        to, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )


class _Staging(TenantModel):
    account = _plain_key(Account)

    class Meta:
        abstract = True


class _PersonColumns(_Staging):
    salutation = models.TextField(default="")
    title = models.TextField(default="")
    first_name = models.TextField(default="")
    last_name = models.TextField(default="")
    company_name = models.TextField(default="")
    letter_salutation = models.TextField(default="")
    phone = models.TextField(default="")
    street = models.TextField(default="")
    postal_code = models.TextField(default="")
    city = models.TextField(default="")
    country = models.TextField(default="")
    language = models.TextField(default="")
    custom_fields = models.JSONField(default=_empty_dict)

    class Meta:
        abstract = True


class DraftContact(_PersonColumns):
    """A contact of the draft database. `contact_id` is the published contact it copies (None for
    a contact new in this conversion); `dirty` marks those a merge changed."""

    conversion = _plain_key(Conversion)
    contact_id = models.BigIntegerField(null=True, blank=True)
    email = models.TextField()
    dirty = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "conversion", "email"], name="draftcontact_email"
            )
        ]


class StagedEntry(_PersonColumns):
    """A list entry as analysed against the draft: its kind and the fields that conflict. Once its
    step is merged, every entry with a valid address stands for the list as a source of the draft
    contact with its `email`, and an `unsubscribed` one for a suppression and a withdrawn event."""

    class Kind(models.TextChoices):
        NEW = "new", "New"
        IDENTICAL = "identical", "Identical"
        CONFLICT = "conflict", "Conflicting"
        INVALID = "invalid", "Invalid e-mail"

    step = _plain_key(ConversionStep)
    entry_id = models.BigIntegerField()
    raw_email = models.TextField()
    email = models.TextField(null=True)
    status = models.TextField()
    draft_contact_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=9, choices=Kind.choices)
    conflict_fields = ArrayField(models.TextField(), default=_empty_list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "step", "entry_id"], name="stagedentry_unique"
            )
        ]
        indexes = [
            models.Index(fields=["account", "step", "kind"], name="stagedentry_kind"),
            # The merge updates each conflicting draft contact from its entry, found by this.
            models.Index(
                fields=["account", "step", "draft_contact_id"],
                condition=Q(kind="conflict"),
                name="stagedentry_conflict_draft",
            ),
            # The publication reads each list's unsubscribed entries (a few in a hundred).
            models.Index(
                fields=["account", "step"],
                condition=Q(status="unsubscribed") & ~Q(kind="invalid"),
                name="stagedentry_unsubscribed",
            ),
        ]


class Conflict(_Staging):
    """One field of one entry that differs from the draft: `fill` (database empty) or `mismatch`."""

    class Kind(models.TextChoices):
        FILL = "fill", "Fill"
        MISMATCH = "mismatch", "Mismatch"

    step = _plain_key(ConversionStep)
    entry_id = models.BigIntegerField()
    email = models.TextField()
    field = models.CharField(max_length=80)
    database_value = models.TextField()
    list_value = models.TextField()
    kind = models.CharField(max_length=8, choices=Kind.choices)

    class Meta:
        indexes = [
            models.Index(fields=["account", "step", "id"], name="conflict_step"),
            models.Index(fields=["account", "step", "email"], name="conflict_step_email"),
        ]
