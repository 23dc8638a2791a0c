"""The converter's reads."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import PERSON_FIELDS, ContactList, ListEntry
from converter.models import Choice, Conflict, Conversion, ConversionStep, StagedEntry
from mailings.selectors import last_campaign_sent_at

CUSTOM_PREFIX = "custom:"


def lists_for_selection() -> QuerySet[ContactList]:
    """Every list with its entry count and the date a campaign was last sent to it."""
    entries = (
        ListEntry.objects.filter(list=OuterRef("pk"))
        .order_by()
        .values("list")
        .annotate(n=Count("id"))
        .values("n")
    )
    return ContactList.objects.annotate(
        entry_count=Coalesce(Subquery(entries), 0),
        last_campaign_sent_at=last_campaign_sent_at(),
    ).order_by("name", "id")


def conversion_active() -> Conversion | None:
    return Conversion.objects.filter(status__in=Conversion.ACTIVE).first()


def conversion_lock() -> Conversion | None:
    """The conversion that locks the account in context now (its lease has not run out)."""
    return Conversion.objects.filter(
        status__in=Conversion.ACTIVE, lease_expires_at__gt=timezone.now()
    ).first()


def conversions_recent() -> QuerySet[Conversion]:
    return Conversion.objects.order_by("-id")


def conversion_steps(conversion: Conversion) -> list[ConversionStep]:
    return list(ConversionStep.objects.filter(conversion=conversion).order_by("position"))


def step_current(conversion: Conversion) -> ConversionStep | None:
    return (
        ConversionStep.objects.filter(conversion=conversion)
        .exclude(status=ConversionStep.Status.MERGED)
        .order_by("position")
        .first()
    )


def conversion_progress(conversion: Conversion, steps: list[ConversionStep]) -> float:
    """0..1 over every step: analysis is the first half of a step, the merge the second."""
    if conversion.status == Conversion.Status.DONE:
        return 1.0
    if not steps:
        return 0.0
    total = 0.0
    for step in steps:
        if step.status == ConversionStep.Status.MERGED:
            total += 1.0
        elif step.status in (ConversionStep.Status.REVIEW,):
            total += 0.5
        elif step.status == ConversionStep.Status.MERGING:
            total += 0.5 + 0.5 * step.progress
        elif step.status == ConversionStep.Status.ANALYZING:
            total += 0.5 * step.progress
    return round(total / len(steps), 4)


def conversion_data(conversion: Conversion) -> dict[str, Any]:
    """The API shape (DESIGN §8)."""
    steps = conversion_steps(conversion)
    return {
        "id": conversion.pk,
        "status": conversion.status,
        "progress": conversion_progress(conversion, steps),
        "unattended": conversion.unattended,
        "default_choice": conversion.default_choice or None,
        "started_by": conversion.started_by_label,
        "created_at": conversion.created_at.isoformat(),
        "finished_at": conversion.finished_at.isoformat() if conversion.finished_at else None,
        "stalled": conversion.stalled,
        "error": conversion.error,
        "paused_workflows": conversion.paused_workflows,
        "steps": [
            {
                "position": step.position,
                "list": step.list_id,
                "list_name": step.list_name,
                "status": step.status,
                "progress": step.progress,
                "counts": step.counts or None,
                "choice": step.choice or None,
                "field_overrides": step.field_overrides,
                "dropped_values": step.dropped_values,
            }
            for step in steps
        ],
        "report": conversion.report or None,
    }


def conflict_fields_of_step(step: ConversionStep) -> list[str]:
    return list(step.field_counts.keys())


def field_label(field: str) -> str:
    if field.startswith(CUSTOM_PREFIX):
        return field[len(CUSTOM_PREFIX) :] + " (custom)"
    return field.replace("_", " ").capitalize()


def dropped_values(step: ConversionStep, *, choice: str, field_overrides: dict[str, str]) -> int:
    """How many values the choice throws away: the database's value of a mismatch the list
    wins, and the list's value of any conflict the database wins."""
    dropped = 0
    for field, kinds in step.field_counts.items():
        if field_overrides.get(field, choice) == Choice.LIST:
            dropped += kinds.get("mismatch", 0)
        else:
            dropped += kinds.get("fill", 0) + kinds.get("mismatch", 0)
    return dropped


def step_conflicts(
    step: ConversionStep, *, search: str = "", field: str = "", kind: str = ""
) -> QuerySet[Conflict]:
    conflicts = Conflict.objects.filter(step=step)
    if search:
        conflicts = conflicts.filter(
            Q(email__icontains=search.strip().lower())
            | Q(database_value__icontains=search.strip())
            | Q(list_value__icontains=search.strip())
        )
    if field:
        conflicts = conflicts.filter(field=field)
    if kind:
        conflicts = conflicts.filter(kind=kind)
    return conflicts.order_by("id")


def step_invalid_entries(step: ConversionStep) -> QuerySet[StagedEntry]:
    return StagedEntry.objects.filter(step=step, kind=StagedEntry.Kind.INVALID).order_by("entry_id")


def person_fields() -> list[str]:
    return list(PERSON_FIELDS)


def lock_refusal_for_user(*, user_id: int) -> str | None:
    """Why this user may not sign in now: every account they belong to is locked by a conversion
    someone else runs. None when they may."""
    from accounts.selectors import memberships_of_user
    from accounts.tenancy import account_context, set_db_context
    from converter.middleware import lock_message

    set_db_context(account_id=None, user_id=user_id)
    try:
        memberships = list(memberships_of_user(user_id=user_id))
        refusals = []
        for membership in memberships:
            with account_context(membership.account_id):
                set_db_context(account_id=membership.account_id, user_id=user_id)
                lock = conversion_lock()
            if lock is None or lock.started_by_id == user_id:
                return None
            refusals.append(f"{membership.account.name}: {lock_message(lock)}")
    finally:
        set_db_context(account_id=None, user_id=None)
    return " ".join(refusals) or None
