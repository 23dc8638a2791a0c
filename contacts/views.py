from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import account_required
from accounts.models import role_at_least
from contacts import selectors, services
from contacts.forms import ContactForm, SegmentForm, SuppressionForm
from contacts.models import (
    Contact,
    ContactList,
    DuplicateScan,
    Segment,
    Suppression,
)
from contacts.normalize import InvalidEmail, email_hash, normalize_email


def _can_edit(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and role_at_least(membership.role, "marketer")


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _criteria_errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{key}: {' '.join(errors)}" for key, errors in exc.message_dict.items()]
    return list(exc.messages)


# --- Contacts -------------------------------------------------------------------------------------


@account_required()
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    source = request.GET.get("source", "").strip()[:200]
    list_id = _int_or_none(request.GET.get("list"))
    segment_id = _int_or_none(request.GET.get("segment"))
    segment = get_object_or_404(Segment.objects.all(), pk=segment_id) if segment_id else None
    if list_id is not None:
        get_object_or_404(ContactList.objects.all(), pk=list_id)
    queryset = selectors.contacts_filtered(
        search=search, source=source, list_id=list_id, segment=segment
    )
    count, exact = selectors.capped_count(queryset)
    # A search with few matches reads them from the trigram index; one with very many is faster
    # walking the newest contacts until a page is full.
    page = selectors.keyset_page(
        queryset, after=_int_or_none(request.GET.get("after")), selective=bool(search) and exact
    )
    filters = request.GET.copy()
    filters.pop("after", None)
    context = {
        "page": page,
        "count": count,
        "exact": exact,
        "search": search,
        "source": source,
        "list_id": list_id,
        "segment_id": segment_id,
        "lists": ContactList.objects.order_by("name").only("id", "name"),
        "segments": selectors.segments_all().only("id", "name"),
        "filters": filters.urlencode(),
        "first_page": "after" not in request.GET,
        "can_edit": _can_edit(request),
    }
    template = (
        "contacts/_contact_rows.html"
        if getattr(request, "htmx", False) and request.headers.get("HX-Target") == "contact-results"
        else "contacts/contact_list.html"
    )
    return render(request, template, context)


@account_required("marketer")
def contact_new(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                fields=form.standard_values(), custom_fields=form.custom_values()
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Contact created.")
            return redirect("contact_detail", contact.pk)
    return render(request, "contacts/contact_form.html", {"form": form, "contact": None})


@account_required()
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.select_related("organization"), pk=contact_id)
    return render(
        request,
        "contacts/contact_detail.html",
        {"detail": selectors.contact_detail(contact), "can_edit": _can_edit(request)},
    )


@account_required("marketer")
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(Contact.objects.all(), pk=contact_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                contact=Contact.objects.get(pk=contact.pk),
                fields=form.standard_values(),
                custom_fields=form.custom_values(),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect("contact_detail", contact.pk)
    return render(request, "contacts/contact_form.html", {"form": form, "contact": contact})


# --- Lists ----------------------------------------------------------------------------------------


@account_required()
@require_GET
def list_index(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/list_index.html", {"lists": selectors.lists_with_counts()})


@account_required()
@require_GET
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    contact_list = get_object_or_404(selectors.lists_with_counts(), pk=list_id)
    page = selectors.keyset_page(
        selectors.list_entries(contact_list), after=_int_or_none(request.GET.get("after"))
    )
    return render(
        request,
        "contacts/list_detail.html",
        {"list": contact_list, "page": page, "first_page": "after" not in request.GET},
    )


# --- Segments -------------------------------------------------------------------------------------


@account_required()
@require_GET
def segment_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "contacts/segment_index.html",
        {"segments": selectors.segments_all(), "can_edit": _can_edit(request)},
    )


@account_required()
def segment_edit(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.all(), pk=segment_id) if segment_id else None
    if request.method == "POST":
        if not _can_edit(request):
            raise Http404
        form = SegmentForm(request.POST)
        if form.is_valid():
            try:
                segment = services.segment_save(
                    segment=segment, name=form.cleaned_data["name"], definition=form.definition()
                )
            except ValidationError as exc:
                form.add_error(None, _criteria_errors(exc))
            else:
                messages.success(request, f"Segment “{segment.name}” saved.")
                return redirect("segment_edit", segment.pk)
    elif segment is None and not _can_edit(request):
        raise Http404
    else:
        form = SegmentForm(
            initial=SegmentForm.initial_for(segment.name, segment.definition) if segment else None
        )
    count = None
    if segment is not None:
        count = selectors.capped_count(selectors.segment_contacts(segment))
    return render(
        request,
        "contacts/segment_edit.html",
        {"form": form, "segment": segment, "count": count, "can_edit": _can_edit(request)},
    )


@account_required()
@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """The live count of the editor (htmx): the form's unsaved definition, counted."""
    form = SegmentForm(request.POST)
    form.fields["name"].required = False
    error, count = "", None
    if form.is_valid():
        try:
            count = selectors.capped_count(selectors.definition_contacts(form.definition()))
        except ValidationError as exc:
            error = " ".join(_criteria_errors(exc))
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(request, "contacts/_segment_count.html", {"count": count, "error": error})


@account_required("marketer")
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.all(), pk=segment_id)
    services.segment_delete(segment=segment)
    messages.success(request, f"Segment “{segment.name}” deleted. Its contacts are unchanged.")
    return redirect("segments")


# --- Suppressions ---------------------------------------------------------------------------------


@account_required()
def suppression_index(request: HttpRequest) -> HttpResponse:
    form = SuppressionForm(request.POST or None)
    if request.method == "POST":
        if not _can_edit(request):
            raise Http404
        if form.is_valid():
            try:
                suppression, created = services.suppression_add(
                    email=form.cleaned_data["email"],
                    origin=form.cleaned_data["origin"] or "added by hand",
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                if created:
                    messages.success(request, f"{suppression.email} will receive no e-mail.")
                else:
                    messages.info(request, f"{suppression.email} was already suppressed.")
                return redirect("suppressions")
    queryset = Suppression.objects.all()
    search = request.GET.get("q", "").strip()[:254]
    if search:
        try:
            queryset = queryset.filter(email_hash=email_hash(normalize_email(search)))
        except InvalidEmail:
            queryset = queryset.filter(email__icontains=search.lower())
    page = selectors.keyset_page(queryset, after=_int_or_none(request.GET.get("after")))
    count, exact = selectors.capped_count(queryset)
    return render(
        request,
        "contacts/suppression_index.html",
        {
            "form": form,
            "page": page,
            "count": count,
            "exact": exact,
            "search": search,
            "first_page": "after" not in request.GET,
            "can_edit": _can_edit(request),
        },
    )


@account_required("marketer")
@require_POST
def suppression_remove(request: HttpRequest, suppression_id: int) -> HttpResponse:
    suppression = get_object_or_404(Suppression.objects.all(), pk=suppression_id)
    try:
        services.suppression_remove(suppression=suppression)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{suppression.email} may receive e-mail again.")
    return redirect("suppressions")


# --- Duplicates -----------------------------------------------------------------------------------


@account_required()
@require_GET
def duplicate_index(request: HttpRequest) -> HttpResponse:
    page = selectors.keyset_page(
        selectors.duplicate_suggestions_open(), after=_int_or_none(request.GET.get("after"))
    )
    return render(
        request,
        "contacts/duplicate_index.html",
        {
            "page": page,
            "scan": selectors.duplicate_scan_latest(),
            "open_count": selectors.capped_count(selectors.duplicate_suggestions_open()),
            "can_edit": _can_edit(request),
        },
    )


@account_required("marketer")
@require_POST
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    _, started = services.duplicate_scan_start(user_id=request.user.pk)
    if not started:
        messages.info(request, "A scan is already running.")
    return redirect("duplicates")


@account_required()
@require_GET
def duplicate_scan_progress(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = get_object_or_404(DuplicateScan.objects.all(), pk=scan_id)
    response = render(request, "contacts/_scan_progress.html", {"scan": scan})
    if scan.status == DuplicateScan.Status.SUCCEEDED and request.GET.get("was") == "running":
        # The scan just finished: reload the page so the new suggestions show.
        response["HX-Refresh"] = "true"
    return response


@account_required()
def duplicate_detail(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    suggestion = get_object_or_404(selectors.duplicate_suggestions_open(), pk=suggestion_id)
    error = ""
    if request.method == "POST":
        if not _can_edit(request):
            raise Http404
        keep_id = _int_or_none(request.POST.get("keep"))
        fields = {
            key.removeprefix("field_"): int(value)
            for key in request.POST
            if key.startswith("field_") and (value := request.POST.get(key, "")).isdigit()
        }
        try:
            merge = services.duplicate_merge(
                suggestion=suggestion, keep_id=keep_id or 0, fields=fields, user_id=request.user.pk
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, "Contacts merged.")
            return redirect("contact_detail", merge.kept_contact_id)
    return render(
        request,
        "contacts/duplicate_detail.html",
        {
            "suggestion": suggestion,
            "a": suggestion.contact_a,
            "b": suggestion.contact_b,
            "rows": selectors.merge_choices(suggestion),
            "a_detail": selectors.contact_detail(suggestion.contact_a, activity_limit=5),
            "b_detail": selectors.contact_detail(suggestion.contact_b, activity_limit=5),
            "error": error,
            "can_edit": _can_edit(request),
        },
    )


@account_required("marketer")
@require_POST
def duplicate_dismiss(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    suggestion = get_object_or_404(selectors.duplicate_suggestions_open(), pk=suggestion_id)
    services.duplicate_dismiss(suggestion=suggestion, user_id=request.user.pk)
    messages.success(request, "Dismissed: these two will not be suggested again.")
    return redirect(reverse("duplicates"))
