from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.tenancy import enter_account, set_db_context

_KEY = re.compile(r"^crm_(\d{1,18})_[A-Za-z0-9_-]{20,100}$")


@dataclass(frozen=True)
class ApiPrincipal:
    """Who calls the API: an account key with a role. Stands in for `request.user`."""

    account_id: int
    role: str
    key_id: int
    is_authenticated: bool = True


def principal_role(request: Request) -> str:
    principal = request.user
    assert isinstance(principal, ApiPrincipal)
    return principal.role


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer crm_<account>_<secret>`.

    Sets the row-level-security and ORM context to the key's account for the rest of the request
    (TenantMiddleware opened the transaction and resets the context at its end).
    """

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        match = _KEY.match(key.strip())
        if match is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        account_id = int(match.group(1))
        set_db_context(account_id=account_id)
        api_key = (
            ApiKey.objects.unscoped()
            .filter(
                account_id=account_id, key_hash=ApiKey.hash(key.strip()), revoked_at__isnull=True
            )
            .first()
        )
        if api_key is None:
            set_db_context(account_id=None)
            raise exceptions.AuthenticationFailed("Invalid API key.")
        enter_account(account_id)  # TenantMiddleware's block ends it with the request
        ApiKey.objects.unscoped().filter(pk=api_key.pk).update(last_used_at=timezone.now())
        return ApiPrincipal(account_id=account_id, role=api_key.role, key_id=api_key.pk), api_key

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An account API key"}
