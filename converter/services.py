"""The converter's writes (DESIGN §3).

The work runs as *units*: each unit is one transaction that locks the conversion row, checks that
its job still holds the lease, does one set-based piece of work (copy the contacts into the draft,
analyse or merge one chunk of a list, publish) and records its progress. A crash anywhere rolls
back at most one unit; resuming continues from the recorded progress, so an interrupted
conversion ends exactly like an uninterrupted one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.tenancy import tenant_atomic
from consent.models import ConsentEvent, LegalBasis, Purpose
from consent.services import consent_events_bulk_record
from contacts.models import (
    PERSON_FIELDS,
    Contact,
    ContactList,
    ListAccess,
    ListEntry,
    Segment,
    Source,
    Suppression,
)
from contacts.normalize import EMAIL_HASH_SQL, clean_value_sql
from converter.models import (
    Choice,
    Conflict,
    Conversion,
    ConversionStep,
    DraftContact,
    StagedEntry,
)
from mailings.services import workflows_pause_using_lists, workflows_resume

# Entries per unit of work (each unit is one transaction with its progress).
CHUNK_SIZE = int(os.environ.get("CONVERTER_CHUNK_SIZE", "25000"))
# A running job renews its lease every unit; a dead one lets it run out after this long.
JOB_LEASE = timedelta(minutes=2)
# A job that was just enqueued has this long to start before the page offers to resume.
QUEUE_LEASE = timedelta(minutes=10)
# While the conversion waits for its admin, each of their visits renews the lock for this long.
WAIT_LEASE = timedelta(hours=12)

CUSTOM_PREFIX = "custom:"
Status = Conversion.Status
StepStatus = ConversionStep.Status


class ConversionError(ValidationError):
    pass


def pause_reason(conversion: Conversion) -> str:
    return f"Paused by conversion {conversion.pk}: it uses lists, which become segments."


# --- Starting, choosing, confirming, cancelling ---------------------------------------------------


def conversion_start(
    *,
    lists: list[ContactList],
    started_by: Any | None = None,
    api_key_id: int | None = None,
    label: str,
    unattended: bool = False,
    choices: dict[int, str] | None = None,
    default_choice: str = "",
) -> Conversion:
    """Locks the account, pauses workflows that use lists and queues the first list's analysis."""
    choices = choices or {}
    if not lists:
        raise ConversionError("Select at least one list to merge.")
    if len({cl.pk for cl in lists}) != len(lists):
        raise ConversionError("A list can be merged only once.")
    if default_choice and default_choice not in Choice.values:
        raise ConversionError(f"“{default_choice}” is not a choice: use list or database.")
    for list_id, choice in choices.items():
        if choice not in Choice.values:
            raise ConversionError(f"“{choice}” is not a choice for list {list_id}.")
        if list_id not in {cl.pk for cl in lists}:
            raise ConversionError(f"List {list_id} has a choice but is not in the list order.")
    if unattended and not default_choice and any(cl.pk not in choices for cl in lists):
        raise ConversionError("Unattended mode needs a choice for every list or a default choice.")
    if Conversion.objects.filter(status__in=Conversion.ACTIVE).exists():
        raise ConversionError("A conversion is already running in this account.")

    from converter.selectors import lists_for_selection

    at_start = [
        {"id": cl.pk, "name": cl.name, "entries": cl.entry_count}  # type: ignore[attr-defined]
        for cl in lists_for_selection().order_by("id")
    ]
    conversion = Conversion.objects.create(
        status=Status.ANALYZING,
        unattended=unattended,
        default_choice=default_choice,
        started_by=started_by,
        started_by_key_id=api_key_id,
        started_by_label=label,
        lists_at_start=at_start,
        lease_expires_at=timezone.now() + QUEUE_LEASE,
    )
    for position, contact_list in enumerate(lists, start=1):
        _step_add(conversion, contact_list, position, choice=choices.get(contact_list.pk, ""))
    conversion.paused_workflows = workflows_pause_using_lists(reason=pause_reason(conversion))
    conversion.save(update_fields=["paused_workflows"])
    _enqueue(conversion)
    return conversion


def _step_add(
    conversion: Conversion, contact_list: ContactList, position: int, *, choice: str = ""
) -> ConversionStep:
    taken = set(
        ConversionStep.objects.filter(conversion=conversion).values_list("source_name", flat=True)
    )
    source_name = contact_list.name
    if source_name in taken:  # two lists with one name must stay two sources (and segments)
        source_name = f"{contact_list.name} (list {contact_list.pk})"
    return ConversionStep.objects.create(
        conversion=conversion,
        position=position,
        list=contact_list,
        list_name=contact_list.name,
        source_name=source_name,
        choice=choice,
    )


def _locked(conversion: Conversion) -> Conversion:
    return Conversion.objects.select_for_update().get(pk=conversion.pk)


def conversion_list_add(*, conversion: Conversion, contact_list: ContactList) -> ConversionStep:
    """A forgotten list becomes the next step; a conversion waiting to be confirmed goes on."""
    conversion = _locked(conversion)
    if not conversion.is_active or conversion.confirm_requested_at is not None:
        raise ConversionError("Lists can be added only before the conversion is confirmed.")
    steps = ConversionStep.objects.filter(conversion=conversion)
    if steps.filter(list=contact_list).exists():
        raise ConversionError(f"“{contact_list.name}” is already part of this conversion.")
    last = steps.aggregate(last=models.Max("position"))["last"] or 0
    step = _step_add(conversion, contact_list, last + 1)
    if conversion.status == Status.CONFIRMING:
        Conversion.objects.filter(pk=conversion.pk).update(
            status=Status.ANALYZING, lease_expires_at=timezone.now() + QUEUE_LEASE
        )
        _enqueue(conversion)
    return step


def step_resolve(
    *, step: ConversionStep, choice: str, field_overrides: dict[str, str] | None = None
) -> ConversionStep:
    """The admin's choice for a reviewed list (list or database, per-field overrides); merges it."""
    from converter.selectors import conflict_fields_of_step, dropped_values

    field_overrides = field_overrides or {}
    if choice not in Choice.values:
        raise ConversionError("Choose “list” or “database”.")
    known = set(PERSON_FIELDS) | set(conflict_fields_of_step(step))
    for field, value in field_overrides.items():
        if field not in known:
            raise ConversionError(f"“{field}” is not a field of this list.")
        if value not in Choice.values:
            raise ConversionError(f"“{value}” is not a choice for {field}.")
    conversion = _locked(step.conversion)
    step = ConversionStep.objects.select_for_update().get(pk=step.pk)
    if conversion.status != Status.REVIEW or step.status != StepStatus.REVIEW:
        raise ConversionError("This list is not waiting for a choice.")
    overrides = {f: v for f, v in field_overrides.items() if v != choice}
    step.choice = choice
    step.field_overrides = overrides
    step.dropped_values = dropped_values(step, choice=choice, field_overrides=overrides)
    step.status = StepStatus.MERGING
    step.cursor = 0
    step.done = 0
    step.save()
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Status.MERGING, lease_expires_at=timezone.now() + QUEUE_LEASE
    )
    _enqueue(conversion)
    return step


def conversion_confirm(*, conversion: Conversion) -> Conversion:
    conversion = _locked(conversion)
    if conversion.status != Status.CONFIRMING:
        raise ConversionError("Every list must be merged before the conversion can be confirmed.")
    if conversion.confirm_requested_at is None:
        conversion.confirm_requested_at = timezone.now()
        conversion.lease_expires_at = timezone.now() + QUEUE_LEASE
        conversion.save(update_fields=["confirm_requested_at", "lease_expires_at"])
        _enqueue(conversion)
    return conversion


def conversion_cancel(*, conversion: Conversion) -> Conversion:
    """Leaves the account as it was: the draft goes, paused workflows resume, the lock ends."""
    conversion = _locked(conversion)
    if not conversion.is_active:
        raise ConversionError("This conversion has already ended.")
    if conversion.confirm_requested_at is not None and conversion.lease_alive:
        raise ConversionError("The conversion is being confirmed; it can no longer be cancelled.")
    _end(conversion, Status.CANCELLED)
    return conversion


def _end(conversion: Conversion, status: str, error: str = "") -> None:
    workflows_resume(
        workflow_ids=[int(w["id"]) for w in conversion.paused_workflows],
        reason=pause_reason(conversion),
    )
    conversion.status = status
    conversion.error = error
    conversion.job_token = ""
    conversion.lease_expires_at = None
    conversion.finished_at = timezone.now()
    conversion.save()
    conversion_id, account_id = conversion.pk, conversion.account_id
    transaction.on_commit(lambda: _drafts_delete_later(conversion_id, account_id))


def conversion_resume(*, conversion: Conversion) -> Conversion:
    """Restarts work whose job stopped (a dead worker); the work continues where it stopped."""
    conversion = _locked(conversion)
    if not conversion.stalled:
        raise ConversionError("This conversion is not stopped; there is nothing to resume.")
    # The dead job's token goes: should it still be alive after all, its next unit stops.
    conversion.job_token = ""
    conversion.lease_expires_at = timezone.now() + QUEUE_LEASE
    conversion.save(update_fields=["job_token", "lease_expires_at"])
    _enqueue(conversion)
    return conversion


def conversion_touch(*, conversion: Conversion) -> None:
    """The admin is still there: keep the account locked while it waits for them."""
    if conversion.is_active and not conversion.has_work:
        Conversion.objects.filter(pk=conversion.pk, status__in=Conversion.ACTIVE).update(
            lease_expires_at=timezone.now() + WAIT_LEASE
        )


def conversion_fail(*, conversion_id: int, error: str) -> None:
    conversion = Conversion.objects.select_for_update().filter(pk=conversion_id).first()
    if conversion is not None and conversion.is_active:
        _end(conversion, Status.FAILED, error=error)


def _enqueue(conversion: Conversion) -> None:
    from converter.tasks import conversion_run

    conversion_id, account_id = conversion.pk, conversion.account_id
    transaction.on_commit(lambda: conversion_run.delay(conversion_id, account_id))


def _drafts_delete_later(conversion_id: int, account_id: int) -> None:
    from converter.tasks import conversion_drafts_delete

    conversion_drafts_delete.delay(conversion_id, account_id)


def drafts_delete(*, conversion: Conversion) -> None:
    """Frees the draft of an ended conversion. Invalid entries (downloadable) and conflicts
    (what each choice dropped) stay with the report."""
    if conversion.is_active:
        return
    DraftContact.objects.filter(conversion=conversion).delete()
    staged = StagedEntry.objects.filter(step__conversion=conversion)
    if conversion.status == Status.DONE:
        staged.exclude(kind=StagedEntry.Kind.INVALID).delete()
    else:
        staged.delete()
        Conflict.objects.filter(step__conversion=conversion).delete()


def campaign_cancel_scheduled(*, campaign_id: int) -> Any:
    from mailings.models import Campaign
    from mailings.services import campaign_cancel

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise Campaign.DoesNotExist
    return campaign_cancel(campaign=campaign)


# --- The work -------------------------------------------------------------------------------------


def checkpoint(name: str) -> None:
    """Called at the end of each unit, inside its transaction. Tests replace it to crash there."""


def conversion_claim(*, conversion_id: int, account_id: int) -> str | None:
    """Takes the lease for a new job, unless a live job holds it. Returns the job's token."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with tenant_atomic(account_id):
        conversion = Conversion.objects.select_for_update().filter(pk=conversion_id).first()
        if conversion is None or not conversion.has_work:
            return None
        if conversion.job_token and conversion.lease_alive:
            return None
        conversion.job_token = token
        conversion.lease_expires_at = now + JOB_LEASE
        conversion.save(update_fields=["job_token", "lease_expires_at"])
    return token


def conversion_release(*, conversion_id: int, account_id: int, token: str) -> None:
    """A job that stops on a passing error gives the lease back, so its retry can take it."""
    with tenant_atomic(account_id):
        Conversion.objects.filter(pk=conversion_id, job_token=token).update(job_token="")


def conversion_work(
    *, conversion_id: int, account_id: int, token: str, max_units: int | None = None
) -> bool:
    """Runs units until the conversion waits for the admin, ends, or loses the lease.

    Returns True when it stopped because `max_units` ran out (there is more to do)."""
    units = 0
    while max_units is None or units < max_units:
        with tenant_atomic(account_id):
            if not _unit(conversion_id, token):
                return False
        units += 1
    return True


def _unit(conversion_id: int, token: str) -> bool:
    conversion = Conversion.objects.select_for_update().filter(pk=conversion_id).first()
    if conversion is None or conversion.job_token != token or not conversion.has_work:
        return False
    conversion.lease_expires_at = timezone.now() + JOB_LEASE
    if not conversion.prepared:
        _statistics_refresh(sources=True)
        _prepare(conversion)
        conversion.prepared = True
        return _save(conversion, "prepare", go_on=True)
    if conversion.status == Status.CONFIRMING:
        _statistics_refresh(sources=True)
        _publish(conversion)
        checkpoint("publish")
        return False
    step = (
        ConversionStep.objects.select_for_update()
        .filter(conversion=conversion)
        .exclude(status=StepStatus.MERGED)
        .order_by("position")
        .first()
    )
    if step is None:
        conversion.status = Status.CONFIRMING
        return _save(conversion, "confirming", go_on=False)
    # Chunks touch a few thousand rows through indexes; statistics of the draft tables lag behind
    # their growth, and a plan that scans them whole once per row is what stale ones can suggest.
    # Those plans cost little per row but look dear to the planner, which then compiles them
    # (JIT) for longer than they run; and it caches per-entry lookups (Memoize) that never hit, as
    # each entry of a list has its own address. One round trip for the three settings.
    _execute(
        "SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true), "
        "set_config('enable_memoize', 'off', true)",
        {},
    )
    if conversion.status == Status.ANALYZING:
        return _analyze_unit(conversion, step)
    return _merge_unit(conversion, step)


def _save(conversion: Conversion, name: str, *, go_on: bool) -> bool:
    if not go_on:  # the job ends here: the lease now waits for the admin
        conversion.job_token = ""
        conversion.lease_expires_at = timezone.now() + WAIT_LEASE
    conversion.save()
    checkpoint(name)
    return go_on


def _analyze_unit(conversion: Conversion, step: ConversionStep) -> bool:
    if step.status == StepStatus.PENDING:
        _statistics_refresh()
        StagedEntry.objects.filter(step=step).delete()
        Conflict.objects.filter(step=step).delete()
        step.status = StepStatus.ANALYZING
        step.cursor = 0
        step.done = 0
        step.entries_total = ListEntry.objects.filter(list_id=step.list_id).count()
        step.save()
        return _save(conversion, "analysis-start", go_on=True)
    last, count = _analyze_chunk(conversion, step)
    if last is not None:
        step.cursor = last
        step.done += count
        step.save(update_fields=["cursor", "done"])
        return _save(conversion, "analysis-chunk", go_on=True)
    _statistics_refresh()
    step.counts, step.field_counts = _step_counts(step)
    step.entries_total = step.counts["entries"]
    step.analyzed_at = timezone.now()
    if conversion.unattended:
        from converter.selectors import dropped_values

        step.choice = step.choice or conversion.default_choice
        step.dropped_values = dropped_values(step, choice=step.choice, field_overrides={})
        step.status = StepStatus.MERGING
        step.cursor = 0
        step.done = 0
        step.save()
        conversion.status = Status.MERGING
        return _save(conversion, "analysis-end", go_on=True)
    step.status = StepStatus.REVIEW
    step.save()
    conversion.status = Status.REVIEW
    return _save(conversion, "analysis-end", go_on=False)


def _merge_unit(conversion: Conversion, step: ConversionStep) -> bool:
    last, count = _merge_chunk(conversion, step)
    if last is not None:
        step.cursor = last
        step.done += count
        step.save(update_fields=["cursor", "done"])
        return _save(conversion, "merge-chunk", go_on=True)
    step.status = StepStatus.MERGED
    step.merged_at = timezone.now()
    step.save()
    more = (
        ConversionStep.objects.filter(conversion=conversion)
        .exclude(status=StepStatus.MERGED)
        .exists()
    )
    conversion.status = Status.ANALYZING if more else Status.CONFIRMING
    return _save(conversion, "merge-end", go_on=more)


# --- Set-based SQL --------------------------------------------------------------------------------

_FIELDS = ", ".join(PERSON_FIELDS)


def _differs(list_value: str, db_value: str) -> str:
    """SQL: the list value would change the database value (an empty list value never does)."""
    lv, dv = clean_value_sql(list_value), clean_value_sql(db_value)
    return (
        f"CASE WHEN {list_value} = {db_value} THEN false WHEN {lv} = '' THEN false "
        f"ELSE {lv} <> {dv} END"
    )


def _statistics_refresh(*, sources: bool = False) -> None:
    """Fresh planner statistics at each phase (see migration converter 0002)."""
    _execute("SELECT converter_analyze_drafts()", {})
    if sources:
        _execute("SELECT converter_analyze_sources()", {})


def _execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _prepare(conversion: Conversion) -> None:
    """The draft starts as a copy of the published contacts that have an e-mail address."""
    _execute(
        f"""
        INSERT INTO converter_draftcontact
            (account_id, conversion_id, contact_id, email, dirty, {_FIELDS}, custom_fields)
        SELECT c.account_id, %(conversion)s, c.id, c.email, false, {_FIELDS}, c.custom_fields
          FROM contacts_contact c
         WHERE c.account_id = %(account)s AND c.email IS NOT NULL AND c.email <> ''
        """,
        {"conversion": conversion.pk, "account": conversion.account_id},
    )


def _analyze_chunk(conversion: Conversion, step: ConversionStep) -> tuple[int | None, int]:
    """Stages the next chunk of the list's entries with their kind and conflicting fields, and
    records each conflict. Returns (last entry id, count), or (None, 0) when the list is done."""
    field_checks = ",\n".join(
        f"CASE WHEN {_differs(f'c.{f}', f'd.{f}')} THEN '{f}' END" for f in PERSON_FIELDS
    )
    custom_differs = _differs("k.value", "COALESCE(d.custom_fields ->> k.key, '')")
    params = {
        "account": conversion.account_id,
        "conversion": conversion.pk,
        "step": step.pk,
        "list": step.list_id,
        "after": step.cursor,
        "size": CHUNK_SIZE,
    }
    rows = _execute(
        f"""
        WITH chunk AS (
            SELECT e.* FROM contacts_listentry e
             WHERE e.account_id = %(account)s AND e.list_id = %(list)s AND e.id > %(after)s
             -- The whole key of index listentry_list_id, so the planner walks that index
             -- instead of the primary key (which would read every list's entries).
             ORDER BY e.account_id, e.list_id, e.id LIMIT %(size)s
        ), analysed AS (
            SELECT c.*, d.id AS draft_id, x.conflicts
              FROM chunk c
              -- LATERAL … LIMIT 1: one index probe per entry, whatever the statistics say.
              LEFT JOIN LATERAL (
                   SELECT * FROM converter_draftcontact d
                    WHERE d.account_id = %(account)s AND d.conversion_id = %(conversion)s
                      AND d.email = c.email_normalized
                    LIMIT 1) d ON true
              -- OFFSET 0 keeps it a subquery: compared once per entry, not once per use below.
             CROSS JOIN LATERAL (
                   SELECT CASE WHEN d.id IS NULL THEN ARRAY[]::text[] ELSE
                       array_remove(ARRAY[{field_checks}], NULL)
                       || COALESCE((SELECT array_agg('{CUSTOM_PREFIX}' || k.key ORDER BY k.key)
                                      FROM jsonb_each_text(c.custom_fields) k
                                     WHERE {custom_differs}), ARRAY[]::text[])
                   END AS conflicts
                   OFFSET 0) x
        ), staged AS (
            INSERT INTO converter_stagedentry
                (account_id, step_id, entry_id, raw_email, email, status, {_FIELDS},
                 custom_fields, draft_contact_id, kind, conflict_fields)
            SELECT %(account)s, %(step)s, a.id, a.email, a.email_normalized, a.status,
                   {", ".join(f"a.{f}" for f in PERSON_FIELDS)}, a.custom_fields, a.draft_id,
                   CASE WHEN a.email_normalized IS NULL OR a.email_normalized = '' THEN 'invalid'
                        WHEN a.draft_id IS NULL THEN 'new'
                        WHEN cardinality(a.conflicts) = 0 THEN 'identical'
                        ELSE 'conflict' END,
                   a.conflicts
              FROM analysed a
            RETURNING entry_id
        )
        SELECT max(entry_id), count(*) FROM staged
        """,
        params,
    )
    last, count = rows[0]
    if last is None:
        return None, 0
    values = ", ".join(f"('{f}', d.{f}, s.{f})" for f in PERSON_FIELDS)
    _execute(
        f"""
        INSERT INTO converter_conflict
            (account_id, step_id, entry_id, email, field, database_value, list_value, kind)
        SELECT s.account_id, s.step_id, s.entry_id, s.email, f.field, f.db_value, f.list_value,
               CASE WHEN {clean_value_sql("f.db_value")} = '' THEN 'fill' ELSE 'mismatch' END
          FROM converter_stagedentry s
         -- LATERAL … LIMIT 1 again: a join could scan the whole draft, should its statistics
         -- (taken before this conversion filled it) say the account has no draft contacts.
         CROSS JOIN LATERAL (
               SELECT * FROM converter_draftcontact d WHERE d.id = s.draft_contact_id LIMIT 1) d
         CROSS JOIN LATERAL (
               SELECT v.field, v.db_value, v.list_value
                 FROM (VALUES {values}) v(field, db_value, list_value)
               UNION ALL
               SELECT '{CUSTOM_PREFIX}' || k.key, COALESCE(d.custom_fields ->> k.key, ''), k.value
                 FROM jsonb_each_text(s.custom_fields) k
         ) f
         WHERE s.account_id = %(account)s AND s.step_id = %(step)s AND s.kind = 'conflict'
           AND s.entry_id > %(after)s AND s.entry_id <= %(last)s
           AND f.field = ANY(s.conflict_fields)
         ORDER BY s.entry_id, f.field
        """,
        {**params, "last": last},
    )
    return last, count


def _step_counts(step: ConversionStep) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    (row,) = _execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE kind = 'new'),
               count(*) FILTER (WHERE kind = 'identical'),
               count(*) FILTER (WHERE kind = 'conflict'),
               count(*) FILTER (WHERE kind <> 'invalid' AND status = 'unsubscribed'),
               count(*) FILTER (WHERE kind = 'invalid')
          FROM converter_stagedentry WHERE account_id = %(account)s AND step_id = %(step)s
        """,
        {"account": step.account_id, "step": step.pk},
    )
    per_field: dict[str, dict[str, int]] = {}
    for field, kind, n in _execute(
        """
        SELECT field, kind, count(*) FROM converter_conflict
         WHERE account_id = %(account)s AND step_id = %(step)s GROUP BY field, kind
        """,
        {"account": step.account_id, "step": step.pk},
    ):
        per_field.setdefault(field, {"fill": 0, "mismatch": 0})[kind] = n
    counts = {
        "entries": row[0],
        "new": row[1],
        "identical": row[2],
        "conflicting_contacts": row[3],
        "fill_conflicts": sum(c["fill"] for c in per_field.values()),
        "mismatch_conflicts": sum(c["mismatch"] for c in per_field.values()),
        "unsubscribed": row[4],
        "invalid": row[5],
    }
    return counts, dict(sorted(per_field.items()))


def effective_choice(field: str, *, choice: str, field_overrides: dict[str, str]) -> str:
    return field_overrides.get(field, choice)


def _merge_chunk(conversion: Conversion, step: ConversionStep) -> tuple[int | None, int]:
    params: dict[str, Any] = {
        "account": conversion.account_id,
        "conversion": conversion.pk,
        "step": step.pk,
        "after": step.cursor,
        "size": CHUNK_SIZE,
    }
    ((last, count),) = _execute(
        """
        SELECT max(entry_id), count(*) FROM (
            SELECT entry_id FROM converter_stagedentry
             WHERE account_id = %(account)s AND step_id = %(step)s AND entry_id > %(after)s
             ORDER BY account_id, step_id, entry_id LIMIT %(size)s) t
        """,
        params,
    )
    if last is None:
        return None, 0
    params["last"] = last
    in_chunk = (
        "s.account_id = %(account)s AND s.step_id = %(step)s"
        " AND s.entry_id > %(after)s AND s.entry_id <= %(last)s"
    )
    custom_text = clean_value_sql("k.value #>> '{}'")
    non_empty_custom = (
        "COALESCE((SELECT jsonb_object_agg(k.key, k.value) FROM jsonb_each(s.custom_fields) k"
        f" WHERE {custom_text} <> ''), '{{}}'::jsonb)"
    )
    # The list's sources and unsubscriptions are its staged entries (see StagedEntry).
    _execute(
        f"""
        INSERT INTO converter_draftcontact
            (account_id, conversion_id, contact_id, email, dirty, {_FIELDS}, custom_fields)
        SELECT s.account_id, %(conversion)s, NULL, s.email, true,
               {", ".join(f"s.{f}" for f in PERSON_FIELDS)}, {non_empty_custom}
          FROM converter_stagedentry s
         WHERE {in_chunk} AND s.kind = 'new'
         ORDER BY s.entry_id
        """,
        params,
    )

    choice, overrides = step.choice, step.field_overrides
    list_fields = [
        f
        for f in PERSON_FIELDS
        if effective_choice(f, choice=choice, field_overrides=overrides) == Choice.LIST
    ]
    params["list_over"] = [f for f, c in overrides.items() if c == Choice.LIST]
    params["db_over"] = [f for f, c in overrides.items() if c == Choice.DATABASE]
    params["default_list"] = choice == Choice.LIST
    takes_list = "({x} = ANY(%(list_over)s::text[]) OR (%(default_list)s AND NOT {x} = ANY(%(db_over)s::text[])))"
    custom_key = f"('{CUSTOM_PREFIX}' || k.key)"
    values = [
        f"CASE WHEN '{f}' = ANY(s.conflict_fields) THEN s.{f} ELSE d.{f} END" for f in list_fields
    ]
    values.append(
        "d.custom_fields || COALESCE((SELECT jsonb_object_agg(k.key, k.value)"
        f" FROM jsonb_each(s.custom_fields) k WHERE {custom_key} = ANY(s.conflict_fields)"
        f" AND {takes_list.format(x=custom_key)}), '{{}}'::jsonb)"
    )
    # Each draft contact is reached by its id, and its entry through stagedentry_conflict_draft:
    # a join of the two could start from the draft instead and scan it whole once per entry,
    # should its statistics (taken before this conversion filled it) say the account has none.
    _execute(
        f"""
        UPDATE converter_draftcontact d
           SET ({", ".join([*list_fields, "custom_fields"])}, dirty) = (
               SELECT {", ".join(values)}, true
                 FROM converter_stagedentry s
                WHERE s.account_id = %(account)s AND s.step_id = %(step)s
                  AND s.kind = 'conflict' AND s.draft_contact_id = d.id)
         WHERE d.id = ANY(ARRAY(
               SELECT s.draft_contact_id FROM converter_stagedentry s
                WHERE {in_chunk} AND s.kind = 'conflict'
                  AND EXISTS (SELECT 1 FROM unnest(s.conflict_fields) u(f)
                               WHERE {takes_list.format(x="u.f")})))
        """,
        params,
    )
    return last, count


def column_defaults(
    model: type[models.Model], given: Iterable[str], prefix: str
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Columns a raw INSERT does not set, with the model's defaults, so a column added to the model
    later with a default does not break the converter's set-based inserts."""
    given = set(given)
    columns: list[str] = []
    placeholders: list[str] = []
    params: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in given or getattr(field, "generated", False):
            continue
        if field.db_default is not models.NOT_PROVIDED:
            continue
        if not field.has_default() and field.null:
            continue
        name = f"{prefix}{len(columns)}"
        columns.append(str(field.column))
        placeholders.append(f"%({name})s")
        params[name] = field.get_db_prep_save(field.get_default(), connection)
    return columns, placeholders, params


def _publish(conversion: Conversion) -> None:
    """The draft becomes the account's database, in the unit's one transaction."""
    now = timezone.now()
    account_id = conversion.account_id
    params: dict[str, Any] = {"account": account_id, "conversion": conversion.pk, "now": now}
    _execute(
        f"""
        UPDATE contacts_contact c
           SET {", ".join(f"{f} = d.{f}" for f in PERSON_FIELDS)},
               custom_fields = d.custom_fields, updated_at = %(now)s
          FROM converter_draftcontact d
         WHERE d.account_id = %(account)s AND d.conversion_id = %(conversion)s AND d.dirty
           AND d.contact_id IS NOT NULL AND c.id = d.contact_id
        """,
        params,
    )
    contact_given = [
        "account_id",
        "email",
        *PERSON_FIELDS,
        "custom_fields",
        "created_at",
        "updated_at",
    ]
    cols, marks, extra = column_defaults(Contact, contact_given, "c")
    created = _execute(
        f"""
        WITH ins AS (
            INSERT INTO contacts_contact ({", ".join(contact_given + cols)})
            SELECT d.account_id, d.email, {", ".join(f"d.{f}" for f in PERSON_FIELDS)},
                   d.custom_fields, %(now)s, %(now)s{"".join(", " + m for m in marks)}
              FROM converter_draftcontact d
             WHERE d.account_id = %(account)s AND d.conversion_id = %(conversion)s
               AND d.contact_id IS NULL
             ORDER BY d.id
            ON CONFLICT (account_id, email) DO NOTHING
            RETURNING 1)
        SELECT count(*) FROM ins
        """,
        {**params, **extra},
    )[0][0]
    _statistics_refresh(sources=True)
    source_given = ["account_id", "contact_id", "list_id", "name", "created_at"]
    cols, marks, extra = column_defaults(Source, source_given, "s")
    sources = _execute(
        f"""
        WITH ins AS (
            INSERT INTO contacts_source ({", ".join(source_given + cols)})
            SELECT %(account)s, c.id, st.list_id, st.source_name, %(now)s{"".join(", " + m for m in marks)}
              FROM converter_conversionstep st
              JOIN converter_stagedentry s ON s.account_id = st.account_id AND s.step_id = st.id
             CROSS JOIN LATERAL (
                   SELECT c.id FROM contacts_contact c
                    WHERE c.account_id = %(account)s AND c.email = s.email LIMIT 1) c
             WHERE st.account_id = %(account)s AND st.conversion_id = %(conversion)s
               AND s.kind <> 'invalid'
            ON CONFLICT (account_id, contact_id, name) DO UPDATE SET list_id = EXCLUDED.list_id
             WHERE contacts_source.list_id IS NULL
            RETURNING 1)
        SELECT count(*) FROM ins
        """,
        {**params, **extra},
    )[0][0]
    suppression_given = ["account_id", "email", "email_hash", "reason", "origin", "created_at"]
    cols, marks, extra = column_defaults(Suppression, suppression_given, "p")
    suppressed = _execute(
        f"""
        WITH ins AS (
            INSERT INTO contacts_suppression ({", ".join(suppression_given + cols)})
            SELECT DISTINCT ON (u.email) %(account)s, u.email,
                   {EMAIL_HASH_SQL.format("u.email")}, 'unsubscribed',
                   'Conversion: unsubscribed in ' || st.list_name, %(now)s{"".join(", " + m for m in marks)}
              FROM converter_conversionstep st
              JOIN converter_stagedentry u ON u.account_id = st.account_id AND u.step_id = st.id
             WHERE st.account_id = %(account)s AND st.conversion_id = %(conversion)s
               AND u.kind <> 'invalid' AND u.status = 'unsubscribed'
             ORDER BY u.email, st.position
            ON CONFLICT (account_id, email_hash) DO NOTHING
            RETURNING 1)
        SELECT count(*) FROM ins
        """,
        {**params, **extra},
    )[0][0]
    steps = list(ConversionStep.objects.filter(conversion=conversion).order_by("position"))
    withdrawn = sum(
        consent_events_bulk_record(
            purpose_key=Purpose.E_MARKETING,
            status=ConsentEvent.Status.WITHDRAWN,
            legal_basis=LegalBasis.CONSENT,
            channel="import",
            source=step.source_name,
            text=f"Unsubscribed in the list {step.list_name} before the conversion",
            recorded_by_id=conversion.started_by_id,
            contacts_sql=(
                "SELECT (SELECT c.id FROM contacts_contact c WHERE c.account_id = %s"
                " AND c.email = u.email LIMIT 1) AS contact_id"
                " FROM converter_stagedentry u WHERE u.account_id = %s AND u.step_id = %s"
                " AND u.kind <> 'invalid' AND u.status = 'unsubscribed'"
            ),
            params=[conversion.account_id, conversion.account_id, step.pk],
        )
        for step in steps
    )

    segments = [
        Segment.objects.create(name=step.source_name, definition={"source_lists": [step.list_id]})
        for step in steps
        if step.list_id is not None
    ]
    merged_ids = {step.list_id for step in steps}
    doomed = [item for item in conversion.lists_at_start if item["id"] not in merged_ids]
    ContactList.objects.filter(pk__in=[item["id"] for item in doomed]).delete()
    grants_reset, _ = ListAccess.objects.all().delete()
    updated = DraftContact.objects.filter(
        conversion=conversion, dirty=True, contact_id__isnull=False
    ).count()

    conversion.report = {
        "confirmed_at": now.isoformat(),
        "started_by": conversion.started_by_label,
        "steps": [
            {
                "position": step.position,
                "list": step.list_id,
                "list_name": step.list_name,
                "choice": step.choice,
                "field_overrides": step.field_overrides,
                "dropped_values": step.dropped_values,
                "counts": step.counts,
            }
            for step in steps
        ],
        "contacts_created": created,
        "contacts_updated": updated,
        "sources_added": sources,
        "suppressions_added": suppressed,
        "consent_events": withdrawn,
        "segments": [{"id": s.pk, "name": s.name} for s in segments],
        "deleted_lists": doomed,
        "access_grants_reset": grants_reset,
        "paused_workflows": conversion.paused_workflows,
    }
    conversion.status = Status.DONE
    conversion.finished_at = now
    conversion.job_token = ""
    conversion.lease_expires_at = None
    conversion.save()
    conversion_id, account = conversion.pk, conversion.account_id
    transaction.on_commit(lambda: _drafts_delete_later(conversion_id, account))
