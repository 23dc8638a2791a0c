"""Pages for the public: the preference centre, one-click unsubscribe, sign-up and its
confirmation. No sign-in: a personal link's token (or the account's sign-up slug) is the key.

CSRF protection is off on the token pages on purpose: the unguessable token in the path is the
secret a forged request would need, and RFC 8058 requires the one-click POST to work without
cookies. Every failure — malformed, unknown, expired, revoked, another account's — is the same
plain 404 that names nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.models import Account
from accounts.tenancy import enter_account
from consent import selectors, services
from consent.forms import SignupForm
from consent.models import AccessToken, SubscriptionType
from consent.services import Evidence

TEXT_VERSION_PREFERENCES = "preference-centre v1"
# Each sign-up sends an e-mail to an address the visitor chose: a cap per IP address keeps the
# form from being used to flood someone's inbox.
SIGNUPS_PER_IP_PER_HOUR = 10


def _signup_allowed(request: HttpRequest) -> bool:
    key = f"signups:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, 3600)
    return cache.incr(key) <= SIGNUPS_PER_IP_PER_HOUR


def evidence_of(request: HttpRequest, *, source: str, text: str = "") -> Evidence:
    return Evidence(
        ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", ""),
        text=text,
        channel="web",
        source=source,
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "consent/public/not_found.html", status=404)


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    language: str = "",
    status: int = 200,
) -> HttpResponse:
    with translation.override(language or translation.get_language() or "en"):
        response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    with services.public_token_scope(token=token, kind=AccessToken.Kind.PREFERENCES) as access:
        if access is None:
            return not_found(request)
        contact = access.contact
        saved = False
        if request.method == "POST":
            evidence = evidence_of(
                request, source="preference centre", text=TEXT_VERSION_PREFERENCES
            )
            if request.POST.get("action") == "unsubscribe_all":
                services.unsubscribe_all(contact=contact, evidence=evidence)
            else:
                wanted = {int(v) for v in request.POST.getlist("topics") if v.isdigit()}
                services.preferences_update(
                    contact=contact,
                    subscribed_type_ids=wanted,
                    email_marketing=request.POST.get("email_marketing") == "on",
                    evidence=evidence,
                )
            saved = True
        language = contact.language or "en"
        page = selectors.preference_page(contact_id=contact.pk, language=language)
        return _render(
            request,
            "consent/public/preferences.html",
            {
                "account": access.account,
                "contact": contact,
                "topics": page.topics,
                "email_marketing": page.email_marketing,
                "saved": saved,
                "token": token,
            },
            language=language,
        )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def one_click_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: a POST unsubscribes (no cookies, no CSRF token); a GET only asks."""
    with services.public_token_scope(token=token, kind=AccessToken.Kind.PREFERENCES) as access:
        if access is None:
            return not_found(request)
        if request.method == "POST":
            services.unsubscribe_all(
                contact=access.contact,
                evidence=evidence_of(request, source="one-click unsubscribe", text="RFC 8058"),
            )
        return _render(
            request,
            "consent/public/unsubscribed.html",
            {"account": access.account, "done": request.method == "POST", "token": token},
            language=access.contact.language or "en",
        )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest, slug: str) -> HttpResponse:
    account = Account.objects.filter(slug=slug).first()
    if account is None:
        return not_found(request)
    enter_account(account.pk)
    services.subscription_types_ensure_defaults()
    language = translation.get_language() or "en"
    topics = list(SubscriptionType.objects.order_by("position", "id"))
    consent_text = selectors.consent_settings_get().signup_text or translation.gettext(
        "Yes, I would like to receive e-mail from %(name)s. I can unsubscribe at any time."
    ) % {"name": account.name}
    form = SignupForm(
        request.POST or None,
        topics=[(t.pk, t.name_in(language[:2])) for t in topics],
    )
    if request.method == "POST" and form.is_valid():
        if not _signup_allowed(request):
            form.add_error(None, translation.gettext("Too many sign-ups. Please try again later."))
            return _render(
                request,
                "consent/public/signup.html",
                {"account": account, "form": form, "consent_text": consent_text},
                status=429,
            )
        try:
            services.signup_start(
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                language=language[:2],
                subscription_type_ids=[int(t) for t in form.cleaned_data["topics"]],
                evidence=evidence_of(request, source=f"sign-up form /{slug}/", text=consent_text),
            )
        except ValidationError as error:
            form.add_error("email", error.message_dict.get("email", error.messages))
        else:
            return _render(request, "consent/public/signup_sent.html", {"account": account})
    return _render(
        request,
        "consent/public/signup.html",
        {"account": account, "form": form, "consent_text": consent_text},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Confirms on POST only: mail scanners that follow the link (GET) change nothing."""
    with services.public_token_scope(token=token, kind=AccessToken.Kind.DOUBLE_OPT_IN) as access:
        if access is None:
            return not_found(request)
        state = "ask" if access.used_at is None else "already"
        if request.method == "POST":
            first = services.signup_confirm(
                token=access, evidence=evidence_of(request, source="double opt-in")
            )
            state = "confirmed" if first else "already"
        return _render(
            request,
            "consent/public/confirm.html",
            {"account": access.account, "state": state, "token": token},
            language=access.contact.language or "en",
        )
