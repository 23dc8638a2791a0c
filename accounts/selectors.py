from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership


def memberships_of_user(*, user_id: int) -> QuerySet[Membership]:
    """The user's memberships in every account. Row-level security lets a user see their own
    memberships across accounts (policy on app.user_id), so this crosses accounts on purpose."""
    return (
        Membership.objects.unscoped()
        .filter(user_id=user_id)
        .select_related("account")
        .order_by("account__name")
    )


def membership_for_session(*, user_id: int, account_id: int | None) -> Membership | None:
    memberships = memberships_of_user(user_id=user_id)
    if account_id is not None:
        chosen = memberships.filter(account_id=account_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def account_members(*, account_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(account_id=account_id)
        .select_related("user")
        .order_by("user__email")
    )
