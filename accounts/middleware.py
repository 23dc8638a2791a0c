from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from accounts import selectors
from accounts.logging import request_id
from accounts.tenancy import account_context, set_db_context

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class TenantMiddleware:
    """Runs each request in one transaction whose row-level-security context is its account.

    Signed-in users work in the account chosen in their session (their first membership when none
    is chosen). API requests start with no account; their key's authentication sets it. The context
    is reset before the transaction ends, so a reused connection never carries it to the next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with transaction.atomic():
            user_id = request.user.pk if request.user.is_authenticated else None
            set_db_context(account_id=None, user_id=user_id)
            membership = None
            if user_id is not None and not request.path.startswith("/api/"):
                membership = selectors.membership_for_session(
                    user_id=user_id, account_id=request.session.get("account_id")
                )
            request.membership = membership  # type: ignore[attr-defined]
            request.account = membership.account if membership else None  # type: ignore[attr-defined]
            account_id = membership.account_id if membership else None
            set_db_context(account_id=account_id, user_id=user_id)
            with account_context(account_id):
                response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            else:
                set_db_context(account_id=None, user_id=None)
        return response
