from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tenancy import TenantManager


class Account(models.Model):
    """A tenant: one organisation's whole database. Not itself row-level secured."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class TenantModel(models.Model):
    """Base of every tenant-owned table: scoped manager here, row-level security from `migrate`.

    `rls_extra_condition` widens the policy for the rare table a user must see across accounts
    (their own memberships, to list the accounts they can switch to).
    """

    # No single-column index: every tenant table's constraints and indexes start with account_id
    # (DESIGN §1), so one of those serves the account's rows; another index would only slow writes.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)

    objects = TenantManager()
    rls_extra_condition: ClassVar[str] = ""

    class Meta:
        abstract = True


class Membership(TenantModel):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MARKETER = "marketer", "Marketer"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MARKETER)
    created_at = models.DateTimeField(default=timezone.now)

    rls_extra_condition = "user_id = NULLIF(current_setting('app.user_id', true), '')::bigint"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["user"], name="membership_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account_id} ({self.role})"


ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.MARKETER: 1, Membership.Role.ADMIN: 2}


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK[Membership.Role(role)] >= ROLE_RANK[Membership.Role(minimum)]


class ApiKey(TenantModel):
    """An account API key. Only a SHA-256 of the key is stored; the key is shown once.

    Keys look like `crm_<account id>_<43 random characters>`: the account id lets the
    authentication set the row-level-security context before it looks the hash up.
    """

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    key_hash = models.CharField(max_length=64)
    prefix = models.CharField(max_length=24)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key_hash"], name="apikey_unique_hash")
        ]

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate(account_id: int) -> str:
        return f"crm_{account_id}_{secrets.token_urlsafe(32)}"


class OutboxMessage(models.Model):
    """Mail kept locally when no SMTP host is configured (development and demos)."""

    to = models.TextField()
    subject = models.CharField(max_length=500)
    message = models.TextField(help_text="The whole RFC 5322 message")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
