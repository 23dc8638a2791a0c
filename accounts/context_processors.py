from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts import selectors


def tenant(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "account": membership.account,
        "membership": membership,
        "is_account_admin": membership.role == "admin",
        "switchable_memberships": selectors.memberships_of_user(user_id=membership.user_id),
    }
