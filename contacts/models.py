from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account, TenantModel


class Language(models.TextChoices):
    EN = "en", "English"
    NL = "nl", "Nederlands"
    FR = "fr", "Français"
    DE = "de", "Deutsch"


class MailingMethod(models.TextChoices):
    EMAIL = "email", "E-mail"
    POST = "post", "Post"
    BOTH = "both", "E-mail and post"
    NONE = "none", "None"


# The standard person fields shared by a Contact and a ListEntry, compared field by field when
# lists are merged (see contacts.normalize.same_value).
PERSON_FIELDS = [
    "salutation",
    "title",
    "first_name",
    "last_name",
    "company_name",
    "letter_salutation",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "language",
]


class PersonFields(TenantModel):
    salutation = models.CharField(max_length=50, blank=True, default="")
    title = models.CharField(max_length=100, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    company_name = models.CharField(max_length=200, blank=True, default="")
    letter_salutation = models.CharField(max_length=300, blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    street = models.CharField(max_length=200, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    language = models.CharField(max_length=2, choices=Language.choices, blank=True, default="")
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class Organization(TenantModel):
    name = models.CharField(max_length=200)
    street = models.CharField(max_length=200, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    no_mailings = models.BooleanField(
        default=False, help_text="Leave this organisation's contacts out of every mailing run"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "name"], name="organization_name")]

    def __str__(self) -> str:
        return self.name


class Contact(PersonFields):
    email = models.CharField(
        max_length=254, null=True, blank=True, help_text="Normalised; unique in the account"
    )
    mailing_method = models.CharField(
        max_length=5, choices=MailingMethod.choices, default=MailingMethod.EMAIL
    )
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    no_mailings = models.BooleanField(
        default=False, help_text="Legacy flag: this person asked for no mailings"
    )
    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_unique_email")
        ]
        indexes = [models.Index(fields=["account", "id"], name="contact_account_id")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.company_name or f"Contact {self.pk}"


class CustomField(TenantModel):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes/no"

    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="customfield_unique_key")
        ]

    def __str__(self) -> str:
        return self.label


class ContactList(TenantModel):
    """A legacy mailing list or an uploaded spreadsheet, with its own copy of each person."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "name"], name="contactlist_name")]

    def __str__(self) -> str:
        return self.name


class ListAccess(TenantModel):
    """A user granted access to one list (reset when the converter merges the lists)."""

    list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="access_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "list", "user"], name="listaccess_unique")
        ]


class ListEntry(PersonFields):
    class Status(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    class OptIn(models.TextChoices):
        NONE = "none", "None"
        SINGLE = "single", "Single opt-in"
        DOUBLE_PENDING = "double_pending", "Double opt-in pending"
        DOUBLE_CONFIRMED = "double_confirmed", "Double opt-in confirmed"

    # Imports write entries a million at a time, and a foreign-key constraint checks each row at
    # commit: two checks cost about as much as the insert itself. One statement-level trigger
    # (migration 0005) keeps both references instead: every entry's list exists and belongs to
    # the entry's account, and a list with entries cannot be deleted. No list_id index either:
    # the (account, list, …) indexes below serve it.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    email = models.CharField(max_length=254, blank=True, default="", help_text="As the list has it")
    email_normalized = models.CharField(
        max_length=254, null=True, blank=True, help_text="Null when invalid"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBSCRIBED)
    optin = models.CharField(max_length=16, choices=OptIn.choices, default=OptIn.NONE)
    optin_at = models.DateTimeField(null=True, blank=True)
    optin_confirmed_at = models.DateTimeField(null=True, blank=True)
    optin_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "list", "email_normalized"], name="listentry_unique_email"
            )
        ]
        # Status rides along for the lists page's counts (index-only scans), so that an import
        # maintains three indexes per entry rather than four.
        indexes = [
            models.Index(
                fields=["account", "list", "id"], include=["status"], name="listentry_list_id"
            )
        ]


class Source(TenantModel):
    """Where a contact came from: a list (kept by name after the list is gone) or an import."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="sources")
    list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact", "name"], name="source_unique_name"
            )
        ]
        indexes = [models.Index(fields=["account", "list"], name="source_list")]


class Segment(TenantModel):
    """A saved filter over contacts; `definition` holds its criteria (see contacts.selectors)."""

    name = models.CharField(max_length=200)
    definition = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "name"], name="segment_name")]

    def __str__(self) -> str:
        return self.name


class Suppression(TenantModel):
    """The global blacklist. `email` is null once only the hash is kept (after an erasure)."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINT = "complaint", "Complaint"
        MANUAL = "manual", "Manual"
        ERASED = "erased", "Erased"

    email = models.CharField(max_length=254, null=True, blank=True)
    email_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    origin = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "email_hash"], name="suppression_unique_hash"
            )
        ]


class Activity(TenantModel):
    class Kind(models.TextChoices):
        EMAIL_OPEN = "email_open", "E-mail opened"
        EMAIL_CLICK = "email_click", "E-mail link clicked"
        PURCHASE = "purchase", "Purchase"
        LOGIN = "login", "Login"
        CART = "cart", "Cart"
        SUPPORT = "support", "Support"
        FORM = "form", "Form"
        MAILING = "mailing", "Received a mailing"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["account", "contact", "-occurred_at"], name="activity_contact_time"
            )
        ]


class DuplicateScan(TenantModel):
    """A background search for possible duplicates; its progress is polled by the page and the API."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    contacts_total = models.PositiveIntegerField(default=0)
    contacts_scanned = models.PositiveIntegerField(default=0)
    pairs_compared = models.PositiveBigIntegerField(default=0)
    suggestions_found = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-id"], name="duplicatescan_recent")]


class DuplicateSuggestion(TenantModel):
    """Two contacts that are probably one person; `contact_a` has the lower id."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed"

    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    scan = models.ForeignKey(
        DuplicateScan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact_a", "contact_b"], name="duplicate_unique_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(contact_a__lt=models.F("contact_b")), name="duplicate_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status", "-score"], name="duplicate_open_score"),
            models.Index(fields=["account", "contact_b"], name="duplicate_contact_b"),
        ]


class ContactMerge(TenantModel):
    """The record of two contacts merged into one: which contact was removed, which values were
    taken from it, and what moved over. The consent ledger stays keyed to `merged_contact_id`
    (it is append-only), so this row is how its history is found from the kept contact."""

    kept_contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_email = models.CharField(max_length=254, null=True, blank=True)
    fields_taken = models.JSONField(
        default=dict, blank=True, help_text="field → the value taken from the merged contact"
    )
    moved = models.JSONField(default=dict, blank=True, help_text="counts of what moved over")
    score = models.FloatField(null=True, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["account", "kept_contact"], name="contactmerge_kept"),
            models.Index(fields=["account", "merged_contact_id"], name="contactmerge_merged"),
        ]


# --- Imports (contacts/imports.py) ---------------------------------------------------------------


def _empty_list() -> list[str]:
    return []


def _import_upload_path(instance: ImportJob, filename: str) -> str:
    import uuid

    return f"imports/{instance.account_id}/{uuid.uuid4().hex}/{filename}"


class ImportJob(TenantModel):
    """One uploaded file imported into a list or into the contact database.

    `draft` waits for the mapping (the browser flow); then `queued` → `running` → `succeeded` or
    `failed`. Each chunk commits on its own with `rows_done` as the checkpoint, so a job whose
    worker died (its lease ran out) resumes where it stopped instead of starting over.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for the column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Target(models.TextChoices):
        LIST = "list", "A list"
        CONTACTS = "contacts", "The contact database"

    target = models.CharField(max_length=8, choices=Target.choices)
    list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.CASCADE, related_name="imports"
    )
    name = models.CharField(max_length=200, help_text="Also the source name of imported contacts")
    upload = models.FileField(upload_to=_import_upload_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=4)
    encoding = models.CharField(max_length=20, blank=True, default="")
    delimiter = models.CharField(max_length=1, blank=True, default="")
    headers = models.JSONField(default=_empty_list)
    mapping = models.JSONField(default=dict, help_text="Header → target field; absent = skipped")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.DRAFT)
    progress = models.FloatField(default=0.0)
    rows_done = models.BigIntegerField(default=0, help_text="Data rows read: the checkpoint")
    rows_total = models.BigIntegerField(default=0)
    rows_imported = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    rows_suppressed = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    claim = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"], name="importjob_recent")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ImportReject(TenantModel):
    """A row of an import that was rejected (or imported with a change the user must know of)."""

    class Kind(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        SUPPRESSED = "suppressed", "Suppressed: not subscribed"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejects")
    line = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REJECTED)
    reason = models.TextField()
    values = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["account", "job", "line"], name="importreject_job_line")]


class SavedMapping(TenantModel):
    """A column mapping kept for the next file with the same headers."""

    name = models.CharField(max_length=100)
    mapping = models.JSONField(default=dict, help_text="Header → target field")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="savedmapping_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
