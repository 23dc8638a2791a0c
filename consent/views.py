"""The Consent section for signed-in users: overview, purposes, subscription types, settings,
the GDPR baseline, a contact's ledger and data-subject requests."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import account_required
from accounts.http import TenantRequest
from consent import selectors, services
from consent.forms import (
    ConsentEventForm,
    ConsentSettingsForm,
    PurposeForm,
    SubscriptionTypeForm,
)
from consent.models import BaselineRun, DataSubjectRequest, Purpose, SubscriptionType
from consent.services import BASELINE_RULES, Evidence
from contacts.models import Contact

RULE_LABELS = {
    "sales_service_legitimate_interest": "Sales and service under legitimate interest (every contact)",
    "e_marketing_withdrawn_no_mailings": "E-marketing withdrawn (legacy no-mailings flag)",
    "e_marketing_legitimate_interest_mailed": "E-marketing under legitimate interest (received a mailing before)",
    "e_marketing_none_never_mailed": "No e-marketing basis (never mailed; nothing recorded)",
}


def _labelled(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(rule, RULE_LABELS[rule], counts[rule]) for rule in BASELINE_RULES]


@account_required()
def consent_index(request: HttpRequest) -> HttpResponse:
    services.consent_defaults_ensure()
    settings_row = selectors.consent_settings_get()
    return render(
        request,
        "consent/index.html",
        {
            "overview": selectors.consent_overview(),
            "topics": SubscriptionType.objects.order_by("position", "id"),
            "settings": settings_row,
            "settings_form": ConsentSettingsForm(
                initial={
                    "enforce_email_consent": settings_row.enforce_email_consent,
                    "signup_text": settings_row.signup_text,
                }
            ),
            "topic_form": SubscriptionTypeForm(),
            "requests": selectors.data_subject_requests()[:20],
            "signup_url": request.build_absolute_uri(
                reverse("signup", args=[request.account.slug])  # type: ignore[attr-defined]
            ),
        },
    )


@require_POST
@account_required("admin")
def consent_settings(request: HttpRequest) -> HttpResponse:
    form = ConsentSettingsForm(request.POST)
    if form.is_valid():
        services.consent_settings_update(**form.cleaned_data)
        messages.success(request, "Consent settings saved.")
    return redirect("consent")


@require_http_methods(["GET", "POST"])
@account_required("admin")
def purpose_edit(request: HttpRequest, purpose_id: int) -> HttpResponse:
    purpose = get_object_or_404(Purpose.objects, pk=purpose_id)
    form = PurposeForm(request.POST or None, instance=purpose)
    if request.method == "POST" and form.is_valid():
        services.purpose_update(purpose=purpose, **form.cleaned_data)
        messages.success(request, f"Purpose “{purpose.name}” saved.")
        return redirect("consent")
    return render(request, "consent/edit.html", {"form": form, "what": "purpose"})


@require_POST
@account_required("marketer")
def subscription_type_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionTypeForm(request.POST)
    if form.is_valid():
        try:
            topic = services.subscription_type_create(**form.cleaned_data)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, f"Subscription type “{topic.name}” added.")
    else:
        messages.error(request, "Give the subscription type a key (letters, digits, -) and a name.")
    return redirect("consent")


@require_http_methods(["GET", "POST"])
@account_required("marketer")
def subscription_type_edit(request: HttpRequest, type_id: int) -> HttpResponse:
    topic = get_object_or_404(SubscriptionType.objects, pk=type_id)
    form = SubscriptionTypeForm(request.POST or None, instance=topic)
    form.fields["key"].disabled = True
    if request.method == "POST" and form.is_valid():
        services.subscription_type_update(
            subscription_type=topic,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, f"Subscription type “{topic.name}” saved.")
        return redirect("consent")
    return render(request, "consent/edit.html", {"form": form, "what": "subscription type"})


@require_http_methods(["GET", "POST"])
@account_required("admin")
def baseline(request: HttpRequest) -> HttpResponse:
    """GET previews the counts per rule; POST runs it (idempotent: a second run counts zeros)."""
    if request.method == "POST":
        run = services.baseline_run_start(created_by_id=request.user.pk)
        return redirect("consent_baseline_run", run_id=run.pk)
    counts = services.gdpr_baseline_apply(dry_run=True)
    return render(
        request,
        "consent/baseline.html",
        {
            "rules": _labelled(counts),
            "anything": any(counts.values()),
            "runs": BaselineRun.objects.order_by("-id")[:5],
        },
    )


@account_required("admin")
def baseline_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's progress; htmx polls the partial until it ends."""
    run = get_object_or_404(BaselineRun.objects, pk=run_id)
    context = {"run": run, "rules": _labelled({r: run.counts.get(r, 0) for r in BASELINE_RULES})}
    if getattr(request, "htmx", False):
        return render(request, "consent/_baseline_progress.html", context)
    return render(request, "consent/baseline_run.html", context)


@account_required()
def requests_index(request: HttpRequest) -> HttpResponse:
    return render(
        request, "consent/requests.html", {"requests": selectors.data_subject_requests()[:500]}
    )


@require_POST
@account_required("marketer")
def request_complete(request: HttpRequest, request_id: int) -> HttpResponse:
    dsr = get_object_or_404(DataSubjectRequest.objects, pk=request_id)
    if services.data_subject_request_complete(request=dsr):
        messages.success(request, f"Request #{dsr.pk} is done.")
    return redirect("consent_requests")


@require_http_methods(["GET", "POST"])
@account_required()
def contact_consent(request: TenantRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    services.consent_defaults_ensure()
    form = ConsentEventForm(request.POST or None)
    link = None
    if request.method == "POST":
        if request.membership.role == "viewer":
            raise Http404  # viewers read; like any page they may not use, it does not exist
        action = request.POST.get("action", "record")
        if action == "rectification":
            logged = services.data_subject_request_log(
                kind=DataSubjectRequest.Kind.RECTIFICATION,
                contact_id=contact.pk,
                requested_by_id=request.user.pk,
                channel="web",
                done=False,
            )
            messages.success(
                request,
                f"Rectification request #{logged.pk} logged, due {logged.due_at:%d %b %Y}. "
                "Correct the contact's details, then mark the request done.",
            )
            return redirect("consent_contact", contact_id=contact.pk)
        if action == "link":
            link = services.preference_link_create(contact_id=contact.pk)
        elif action == "revoke":
            revoked = services.access_tokens_revoke(contact_id=contact.pk)
            messages.success(request, f"{revoked} personal link(s) revoked.")
            return redirect("consent_contact", contact_id=contact.pk)
        elif form.is_valid():
            data = form.cleaned_data
            services.consent_event_record(
                contact_id=contact.pk,
                purpose=data["purpose"],
                status=data["status"],
                legal_basis=data["legal_basis"],
                evidence=Evidence(
                    ip=request.META.get("REMOTE_ADDR") or None,
                    user_agent=request.headers.get("User-Agent", ""),
                    text=data["text"],
                    channel=data["channel"] or "admin",
                    source=data["source"],
                    recorded_by_id=request.user.pk,
                ),
            )
            messages.success(request, "Consent event recorded.")
            return redirect("consent_contact", contact_id=contact.pk)
    return render(
        request,
        "consent/contact.html",
        {
            "contact": contact,
            "states": selectors.contact_purpose_states(contact_id=contact.pk),
            "subscriptions": selectors.contact_subscriptions(contact_id=contact.pk),
            "form": form,
            "link": link,
        },
    )


@account_required("marketer")
def contact_export(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    data, _ = services.contact_export(
        contact=contact, requested_by_id=request.user.pk, channel="web"
    )
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-export.zip"'
    return response


@require_http_methods(["GET", "POST"])
@account_required("admin")
def contact_erase(request: HttpRequest, contact_id: int) -> HttpResponse:
    """GET shows what will be erased; POST (after the confirmation) erases."""
    contact = get_object_or_404(Contact.objects, pk=contact_id)
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            messages.error(request, "Type “erase” to confirm.")
            return redirect("consent_contact_erase", contact_id=contact.pk)
        erased = services.contact_erase(
            contact=contact, requested_by_id=request.user.pk, channel="web"
        )
        messages.success(
            request,
            f"Contact #{erased.contact_id_ref} was erased; the address stays suppressed as a hash.",
        )
        return redirect("consent_requests")
    data = selectors.contact_export_data(contact=contact)
    return render(
        request,
        "consent/erase.html",
        {
            "contact": contact,
            "counts": [(k.replace("_", " "), len(v)) for k, v in data.items() if k != "contact"],
        },
    )
