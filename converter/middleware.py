"""The account lock while a conversion runs (DESIGN §3.2).

Other members' open sessions get a page saying who converts the account and since when; API keys
get HTTP 423 with a JSON error. The admin who runs the conversion (or the key that started it in
unattended mode) goes on. Place after accounts.middleware.TenantMiddleware.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.api.auth import _KEY as API_KEY_FORMAT
from accounts.models import ApiKey
from accounts.tenancy import account_context, set_db_context
from converter import selectors
from converter.models import Conversion

# Pages a locked-out member may still use: leave, or switch to another account.
_OPEN_DURING_LOCK = {"logout", "account_switch", "healthz", "login"}


def lock_message(lock: Conversion) -> str:
    since = timezone.localtime(lock.created_at).strftime("%d %b %Y, %H:%M")
    return (
        f"This account is being converted by {lock.started_by_label}, since {since}. "
        "It is locked until the conversion ends."
    )


class ConversionLockMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            refusal = _api_refusal(request)
        else:
            refusal = _page_refusal(request)
        return refusal or self.get_response(request)


def _page_refusal(request: HttpRequest) -> HttpResponse | None:
    if getattr(request, "membership", None) is None:
        return None
    try:
        if resolve(request.path_info).url_name in _OPEN_DURING_LOCK:
            return None
    except Resolver404:
        return None
    lock = selectors.conversion_lock()
    if lock is None or lock.started_by_id == request.user.pk:
        return None
    return render(
        request,
        "converter/locked.html",
        {"lock": lock, "message": lock_message(lock)},
        status=423,
    )


def _api_refusal(request: HttpRequest) -> HttpResponse | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    match = API_KEY_FORMAT.match(key.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        return None  # the API's own authentication answers
    account_id = int(match.group(1))
    with account_context(account_id):
        set_db_context(account_id=account_id)
        try:
            api_key = ApiKey.objects.filter(
                key_hash=ApiKey.hash(key.strip()), revoked_at__isnull=True
            ).first()
            lock = selectors.conversion_lock() if api_key is not None else None
        finally:
            set_db_context(account_id=None)
    if api_key is None or lock is None or lock.started_by_key_id == api_key.pk:
        return None
    return JsonResponse(
        {
            "message": lock_message(lock),
            "details": {
                "conversion": lock.pk,
                "by": lock.started_by_label,
                "since": lock.created_at.isoformat(),
            },
        },
        status=423,
    )
