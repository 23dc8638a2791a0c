from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import Account, Membership


class TenantRequest(HttpRequest):
    """A request after TenantMiddleware: `account`/`membership` are set for a signed-in member."""

    account: Account
    membership: Membership
