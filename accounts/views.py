from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.decorators import account_required
from accounts.forms import MemberAddForm, MemberRoleForm
from accounts.http import TenantRequest
from accounts.models import Membership, OutboxMessage
from contacts.selectors import dashboard_counts


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


class LoginView(auth_views.LoginView):
    """Sign-in with throttling: after LOGIN_FAILURE_LIMIT failures for one address from one IP,
    sign-in is refused (even with the right password) for LOGIN_FAILURE_WINDOW seconds."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def _key(self) -> str:
        username = self.request.POST.get("username", "").strip().lower()
        return f"login-failures:{_client_ip(self.request)}:{username}"

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if cache.get(self._key(), 0) >= settings.LOGIN_FAILURE_LIMIT:
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW // 60)
            form = self.get_form()
            form.errors.clear()
            form.add_error(
                None,
                f"Too many failed sign-ins. Try again in {minutes} minutes or reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        key = self._key()
        cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW)
        cache.incr(key)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete(self._key())
        from converter.selectors import lock_refusal_for_user  # a conversion locks its account

        refusal = lock_refusal_for_user(user_id=form.get_user().pk)
        if refusal:
            form.add_error(None, refusal)
            return self.render_to_response(self.get_context_data(form=form), status=423)
        return super().form_valid(form)


@account_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/dashboard.html", {"counts": dashboard_counts()})


@require_POST
def account_switch(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        raise Http404
    account_id = request.POST.get("account_id", "")
    membership = (
        selectors.memberships_of_user(user_id=request.user.pk)
        .filter(account_id=int(account_id) if account_id.isdigit() else -1)
        .first()
    )
    if membership is None:
        raise Http404
    request.session["account_id"] = membership.account_id
    return redirect("dashboard")


@account_required("admin")
def members(request: TenantRequest) -> HttpResponse:
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_add(
                account=request.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            messages.success(request, f"{form.cleaned_data['email']} was added.")
            return redirect("members")
    return render(
        request,
        "accounts/members.html",
        {
            "form": form,
            "members": selectors.account_members(account_id=request.account.pk),
            "roles": Membership.Role.choices,
        },
    )


@require_POST
@account_required("admin")
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects, pk=membership_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set_role(membership=membership, role=form.cleaned_data["role"])
            messages.success(
                request, f"{membership.user.email} is now {membership.get_role_display()}."
            )
        except ValidationError as error:
            messages.error(request, error.messages[0])
    return redirect("members")


@require_POST
@account_required("admin")
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects, pk=membership_id)
    try:
        services.membership_remove(membership=membership)
        messages.success(request, f"{membership.user.email} was removed from this account.")
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect("members")


@account_required()
def outbox(request: HttpRequest) -> HttpResponse:
    """Mail kept locally when no SMTP server is configured; staff only."""
    if settings.EMAIL_HOST or not request.user.is_staff:
        raise Http404
    return render(
        request, "accounts/outbox.html", {"messages_kept": OutboxMessage.objects.all()[:100]}
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"error: {type(error).__name__}"
    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


@account_required()
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/settings.html")
