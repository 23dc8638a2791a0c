"""The wizard's pages (admins only; others get 404). Thin: validate, call a service, render."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import account_required
from accounts.http import TenantRequest
from accounts.tenancy import tenant_atomic
from contacts.models import PERSON_FIELDS, ContactList, ListEntry
from converter import selectors, services
from converter.models import Choice, Conflict, Conversion, ConversionStep
from mailings.selectors import scheduled_campaigns

EXPORT_CHUNK = 5_000


def _conversion(conversion_id: int) -> Conversion:
    return get_object_or_404(Conversion.objects, pk=conversion_id)


def _step(conversion: Conversion, position: int) -> ConversionStep:
    return get_object_or_404(ConversionStep.objects, conversion=conversion, position=position)


def _export_url(list_id: int) -> str:
    """The contacts app's list export when it exists, else the converter's own CSV."""
    try:
        return reverse("list_export", args=[list_id])
    except NoReverseMatch:
        return reverse("converter_list_export", args=[list_id])


def _error(request: TenantRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


def _selection(request: TenantRequest) -> tuple[list[ContactList], list[str]]:
    """The ticked lists in the order the admin gave (then by name), and any input problems."""
    ids = [int(v) for v in request.POST.getlist("lists") if v.isdigit()]
    found = {cl.pk: cl for cl in ContactList.objects.filter(pk__in=ids)}
    problems = [] if ids else ["Select at least one list to merge."]
    if len(found) != len(set(ids)):
        problems.append("Some selected lists do not exist any more; check the selection.")
    orders: dict[int, int] = {}
    for list_id in found:
        raw = request.POST.get(f"order_{list_id}", "").strip()
        if raw and not raw.isdigit():
            problems.append(f"The order of “{found[list_id].name}” must be a number.")
        orders[list_id] = int(raw) if raw.isdigit() else 10**6
    ordered = sorted(found.values(), key=lambda cl: (orders[cl.pk], cl.name.lower(), cl.pk))
    return ordered, problems


@account_required("admin")
def converter_index(request: TenantRequest) -> HttpResponse:
    active = selectors.conversion_active()
    if active is not None:
        return redirect("conversion", active.pk)
    lists = list(selectors.lists_for_selection())
    for contact_list in lists:
        contact_list.export_url = _export_url(contact_list.pk)  # type: ignore[attr-defined]
    return render(
        request,
        "converter/index.html",
        {
            "lists": lists,
            "campaigns": scheduled_campaigns(),
            "recent": selectors.conversions_recent()[:10],
        },
    )


@require_POST
@account_required("admin")
def conversion_create(request: TenantRequest) -> HttpResponse:
    ordered, problems = _selection(request)
    if problems:
        for problem in problems:
            messages.error(request, problem)
        return redirect("converter")
    chosen = {cl.pk for cl in ordered}
    unselected = [cl for cl in selectors.lists_for_selection() if cl.pk not in chosen]
    if request.POST.get("confirmed") != "yes":
        from mailings.models import Workflow, WorkflowList

        workflows = Workflow.objects.filter(
            status=Workflow.Status.ACTIVE,
            pk__in=WorkflowList.objects.values("workflow"),
        ).order_by("name")
        counts = {
            cl.pk: cl.entry_count  # type: ignore[attr-defined]
            for cl in selectors.lists_for_selection()
        }
        return render(
            request,
            "converter/start.html",
            {
                "ordered": [(cl, counts.get(cl.pk, 0)) for cl in ordered],
                "unselected": unselected,
                "workflows": workflows,
                "campaigns": scheduled_campaigns(),
            },
        )
    try:
        conversion = services.conversion_start(
            lists=ordered, started_by=request.user, label=request.user.get_username()
        )
    except ValidationError as error:
        _error(request, error)
        return redirect("converter")
    return redirect("conversion", conversion.pk)


@require_POST
@account_required("admin")
def campaign_cancel(request: TenantRequest, campaign_id: int) -> HttpResponse:
    from mailings.models import Campaign

    try:
        campaign = services.campaign_cancel_scheduled(campaign_id=campaign_id)
    except Campaign.DoesNotExist:
        raise Http404 from None
    except ValidationError as error:
        _error(request, error)
    else:
        messages.success(request, f"The campaign “{campaign.name}” was cancelled.")
    return redirect("converter")


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\0") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _stream_csv(account_id: int, header: list[str], rows: Any, filename: str) -> HttpResponse:
    """Streams rows in chunks in a transaction of their own (the request's has ended by then), so
    memory stays flat whatever the size."""

    def generate() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow(header)
        with tenant_atomic(account_id):
            for row in rows():
                yield writer.writerow([_csv_cell(v) for v in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response  # type: ignore[return-value]


@require_GET
@account_required("admin")
def list_export(request: TenantRequest, list_id: int) -> HttpResponse:
    contact_list = get_object_or_404(ContactList.objects, pk=list_id)
    columns = ["email", "status", *PERSON_FIELDS, "optin", "optin_at", "custom_fields"]

    def rows() -> Iterator[tuple[Any, ...]]:
        yield from (
            ListEntry.objects.filter(list_id=list_id)
            .order_by("id")
            .values_list(*columns)
            .iterator(chunk_size=EXPORT_CHUNK)
        )

    return _stream_csv(
        request.account.pk, columns, rows, f"list-{contact_list.pk}-{contact_list.name[:40]}.csv"
    )


def _page_context(conversion: Conversion) -> dict[str, Any]:
    steps = selectors.conversion_steps(conversion)
    return {
        "conversion": conversion,
        "steps": steps,
        "current": next((s for s in steps if s.status != ConversionStep.Status.MERGED), None),
        "progress": selectors.conversion_progress(conversion, steps),
    }


@account_required("admin")
def conversion_detail(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    if conversion.status == Conversion.Status.DONE:
        return redirect("conversion_report", conversion.pk)
    services.conversion_touch(conversion=conversion)
    return render(request, "converter/conversion.html", _page_context(conversion))


@require_GET
@account_required("admin")
def conversion_progress(request: TenantRequest, conversion_id: int) -> HttpResponse:
    """Polled by the page while work runs; asks the page to reload once the work waits or ends."""
    conversion = _conversion(conversion_id)
    response = render(request, "converter/_progress.html", _page_context(conversion))
    if not conversion.has_work or conversion.stalled:
        response["HX-Refresh"] = "true"
    return response


def _overrides_from(request_data: Any, step: ConversionStep) -> dict[str, str]:
    overrides = {}
    for field in step.field_counts:
        value = request_data.get(f"override_{field}", "")
        if value in Choice.values:
            overrides[field] = value
    return overrides


@account_required("admin")
def step_review(request: TenantRequest, conversion_id: int, position: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    step = _step(conversion, position)
    services.conversion_touch(conversion=conversion)
    search = request.GET.get("q", "").strip()[:200]
    field = request.GET.get("field", "")
    kind = request.GET.get("kind", "")
    if field not in step.field_counts:
        field = ""
    if kind not in Conflict.Kind.values:
        kind = ""
    conflicts = selectors.step_conflicts(step, search=search, field=field, kind=kind)
    page = Paginator(conflicts, 50).get_page(request.GET.get("page"))
    fields = [
        {
            "name": name,
            "label": selectors.field_label(name),
            "fill": kinds.get("fill", 0),
            "mismatch": kinds.get("mismatch", 0),
            "override": step.field_overrides.get(name, ""),
        }
        for name, kinds in step.field_counts.items()
    ]
    return render(
        request,
        "converter/step.html",
        {
            "conversion": conversion,
            "step": step,
            "fields": fields,
            "page": page,
            "search": search,
            "field": field,
            "kind": kind,
            "kinds": Conflict.Kind.choices,
            "drops_list": selectors.dropped_values(step, choice="list", field_overrides={}),
            "drops_database": selectors.dropped_values(step, choice="database", field_overrides={}),
            "choice": step.choice or conversion.default_choice or "list",
            "label": selectors.field_label,
        },
    )


@require_GET
@account_required("admin")
def step_dropped(request: TenantRequest, conversion_id: int, position: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    step = _step(conversion, position)
    choice = request.GET.get("choice", "")
    if choice not in Choice.values:
        choice = Choice.LIST
    dropped = selectors.dropped_values(
        step, choice=choice, field_overrides=_overrides_from(request.GET, step)
    )
    return render(request, "converter/_dropped.html", {"dropped": dropped})


@require_POST
@account_required("admin")
def step_resolve(request: TenantRequest, conversion_id: int, position: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    step = _step(conversion, position)
    try:
        services.step_resolve(
            step=step,
            choice=request.POST.get("choice", ""),
            field_overrides=_overrides_from(request.POST, step),
        )
    except ValidationError as error:
        _error(request, error)
        return redirect("conversion_step", conversion.pk, step.position)
    messages.success(request, f"“{step.list_name}” is being merged.")
    return redirect("conversion", conversion.pk)


@require_GET
@account_required("admin")
def step_invalid_export(request: TenantRequest, conversion_id: int, position: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    step = _step(conversion, position)
    columns = ["entry_id", "raw_email", *PERSON_FIELDS]

    def rows() -> Iterator[tuple[Any, ...]]:
        yield from (
            selectors.step_invalid_entries(step)
            .values_list(*columns)
            .iterator(chunk_size=EXPORT_CHUNK)
        )

    header = ["entry id", "e-mail as in the list", *PERSON_FIELDS]
    return _stream_csv(
        request.account.pk, header, rows, f"conversion-{conversion.pk}-list-{position}-invalid.csv"
    )


def _doomed_lists(conversion: Conversion, steps: list[ConversionStep]) -> list[dict[str, Any]]:
    merged = {step.list_id for step in steps}
    existing = set(ContactList.objects.values_list("pk", flat=True))
    return [
        item
        for item in conversion.lists_at_start
        if item["id"] not in merged and item["id"] in existing
    ]


@account_required("admin")
def conversion_confirm_page(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    if conversion.status == Conversion.Status.DONE:
        return redirect("conversion_report", conversion.pk)
    services.conversion_touch(conversion=conversion)
    context = _page_context(conversion)
    in_conversion = {step.list_id for step in context["steps"]}
    context["doomed"] = _doomed_lists(conversion, context["steps"])
    context["addable"] = [
        cl for cl in selectors.lists_for_selection() if cl.pk not in in_conversion
    ]
    return render(request, "converter/confirm.html", context)


@require_POST
@account_required("admin")
def conversion_confirm(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    if request.POST.get("understood") != "yes":
        messages.error(request, "Tick the box to confirm that you understand what will happen.")
        return redirect("conversion_confirm", conversion.pk)
    try:
        services.conversion_confirm(conversion=conversion)
    except ValidationError as error:
        _error(request, error)
    return redirect("conversion", conversion.pk)


@require_POST
@account_required("admin")
def conversion_list_add(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    raw = request.POST.get("list", "")
    contact_list = ContactList.objects.filter(pk=int(raw) if raw.isdigit() else -1).first()
    if contact_list is None:
        messages.error(request, "Choose a list to add.")
        return redirect("conversion_confirm", conversion.pk)
    try:
        services.conversion_list_add(conversion=conversion, contact_list=contact_list)
    except ValidationError as error:
        _error(request, error)
        return redirect("conversion_confirm", conversion.pk)
    messages.success(request, f"“{contact_list.name}” was added as the next list.")
    return redirect("conversion", conversion.pk)


@require_POST
@account_required("admin")
def conversion_cancel(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    try:
        services.conversion_cancel(conversion=conversion)
    except ValidationError as error:
        _error(request, error)
        return redirect("conversion", conversion.pk)
    messages.success(request, "The conversion was cancelled; the account is as it was before.")
    return redirect("converter")


@require_POST
@account_required("admin")
def conversion_resume(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    try:
        services.conversion_resume(conversion=conversion)
    except ValidationError as error:
        _error(request, error)
    return redirect("conversion", conversion.pk)


@account_required("admin")
def conversion_report(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    if conversion.status != Conversion.Status.DONE:
        return redirect("conversion", conversion.pk)
    return render(
        request,
        "converter/report.html",
        {"conversion": conversion, "report": conversion.report, "label": selectors.field_label},
    )


COUNT_KEYS = [
    "entries",
    "new",
    "identical",
    "conflicting_contacts",
    "fill_conflicts",
    "mismatch_conflicts",
    "unsubscribed",
    "invalid",
]


@require_GET
@account_required("admin")
def conversion_report_csv(request: TenantRequest, conversion_id: int) -> HttpResponse:
    conversion = _conversion(conversion_id)
    if conversion.status != Conversion.Status.DONE:
        raise Http404
    report = conversion.report
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="conversion-{conversion.pk}-report.csv"'
    )
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(
        ["position", "list", *COUNT_KEYS, "choice", "field overrides", "dropped values"]
    )
    for step in report.get("steps", []):
        counts = step.get("counts") or {}
        writer.writerow(
            [
                step["position"],
                _csv_cell(step["list_name"]),
                *[counts.get(key, 0) for key in COUNT_KEYS],
                step.get("choice", ""),
                "; ".join(f"{f}={c}" for f, c in (step.get("field_overrides") or {}).items()),
                step.get("dropped_values", ""),
            ]
        )
    writer.writerow([])
    for key in [
        "contacts_created",
        "contacts_updated",
        "sources_added",
        "suppressions_added",
        "consent_events",
        "access_grants_reset",
    ]:
        writer.writerow([key.replace("_", " "), report.get(key, 0)])
    for item in report.get("deleted_lists", []):
        writer.writerow(["deleted list", _csv_cell(item["name"]), item["entries"]])
    for segment in report.get("segments", []):
        writer.writerow(["segment created", _csv_cell(segment["name"])])
    for workflow in report.get("paused_workflows", []):
        writer.writerow(["workflow paused", _csv_cell(workflow["name"])])
    return response
