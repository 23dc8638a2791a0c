"""Which account the current code works for, and the two walls that keep accounts apart.

1. The ORM: tenant models' default manager raises `NoAccountInContext` when no account is set,
   instead of returning every account's rows. The escape is `Model.objects.unscoped()`.
2. PostgreSQL row-level security: `tenant_atomic()` opens a transaction and sets
   `app.account_id` transaction-locally; each tenant table's policy compares against it, so a
   pooled connection never carries one account's id into another request.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import connections, models, transaction

if TYPE_CHECKING:
    from accounts.models import Account

_account: contextvars.ContextVar[int | None] = contextvars.ContextVar("account_id", default=None)


class NoAccountInContext(RuntimeError):
    """A tenant model was queried with no account in context.

    Wrap the code in `account_context(account)` (requests and tasks do this for you), or, when
    crossing accounts is really meant, use `Model.objects.unscoped()`.
    """


def current_account_id() -> int:
    account_id = _account.get()
    if account_id is None:
        raise NoAccountInContext(NoAccountInContext.__doc__)
    return account_id


def current_account_id_or_none() -> int | None:
    return _account.get()


def enter_account(account_id: int) -> None:
    """Switch the rest of the current `account_context` block (and transaction) to an account.

    For authentication that learns the account mid-request; the enclosing block restores the
    previous value when it ends."""
    _account.set(account_id)
    set_db_context(account_id=account_id)


def set_db_context(
    *, account_id: int | None, user_id: int | None = None, using: str = "default"
) -> None:
    """Set the row-level-security context for the current transaction only."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.account_id', %s, true), set_config('app.user_id', %s, true)",
            [
                "" if account_id is None else str(account_id),
                "" if user_id is None else str(user_id),
            ],
        )


@contextmanager
def account_context(account: Account | int | None) -> Iterator[None]:
    """Scope ORM queries to one account (does not touch the database session)."""
    token = _account.set(account if account is None or isinstance(account, int) else account.pk)
    try:
        yield
    finally:
        _account.reset(token)


@contextmanager
def tenant_atomic(
    account: Account | int | None = None, *, using: str = "default"
) -> Iterator[None]:
    """A transaction in which both walls know the account (the given one, or the one in context)."""
    account_id = (
        current_account_id()
        if account is None
        else (account if isinstance(account, int) else account.pk)
    )
    with account_context(account_id), transaction.atomic(using=using):
        set_db_context(account_id=account_id, using=using)
        yield


M = TypeVar("M", bound=models.Model)


class TenantQuerySet(models.QuerySet[M], Generic[M]):
    """Rows created through a scoped queryset belong to the account in context."""

    def create(self, **kwargs: Any) -> M:
        if "account" not in kwargs and "account_id" not in kwargs:
            kwargs["account_id"] = current_account_id()
        return super().create(**kwargs)

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[M]:
        objs = list(objs)
        missing = [obj for obj in objs if obj.account_id is None]
        if missing:
            account_id = current_account_id()
            for obj in missing:
                obj.account_id = account_id
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager[M], Generic[M]):
    _queryset_class = TenantQuerySet

    def get_queryset(self) -> models.QuerySet[M]:
        return super().get_queryset().filter(account_id=current_account_id())

    def unscoped(self) -> models.QuerySet[M]:
        """Every account's rows the database lets through. Use only where crossing accounts is meant."""
        return super().get_queryset()
