from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from accounts.api.auth import ApiPrincipal
from accounts.models import role_at_least


class RolePermission(permissions.BasePermission):
    """Viewers read; marketers also write; views that need more set `required_role = "admin"`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            return False
        if request.method in permissions.SAFE_METHODS:
            needed = getattr(view, "read_role", "viewer")
        else:
            needed = getattr(view, "required_role", "marketer")
        return role_at_least(principal.role, needed)
