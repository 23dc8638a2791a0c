"""Pages of the import flow (upload → mapping preview → progress → result) and the exports."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts.decorators import account_required
from contacts import exports, imports, selectors, services
from contacts.forms_imports import NEW_LIST, ImportUploadForm
from contacts.models import ContactList, CustomField, ImportJob, SavedMapping, Segment

# Multipart framing around the file itself.
_UPLOAD_SLACK = 64 * 1024


def _too_large(request: HttpRequest) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length > settings.IMPORT_MAX_BYTES + _UPLOAD_SLACK else None


@account_required("marketer")
def import_index(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/import_index.html", {"jobs": imports.jobs_recent(50)})


@account_required("marketer")
def import_upload(request: HttpRequest) -> HttpResponse:
    limit = settings.IMPORT_MAX_BYTES
    if request.method == "POST":
        too_large = _too_large(request)
        if too_large is not None:
            return _upload_page(
                request,
                ImportUploadForm(),
                status=413,
                error=imports.too_large_message(too_large),
            )
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            contact_list = None
            if data["target"] == ImportJob.Target.LIST:
                if data["contact_list"] == NEW_LIST:
                    contact_list = services.list_create(name=data["new_list_name"].strip())
                else:
                    contact_list = get_object_or_404(ContactList, pk=data["contact_list"])
            try:
                job = imports.import_create(
                    upload=data["file"],
                    target=data["target"],
                    contact_list=contact_list,
                    name=data["name"],
                    created_by=request.user,
                )
            except imports.ImportFileError as exc:
                form.add_error("file", str(exc))
                if data["contact_list"] == NEW_LIST and contact_list is not None:
                    services.list_delete(contact_list=contact_list)
                return _upload_page(request, form, status=400)
            return redirect("import_detail", job_id=job.pk)
        return _upload_page(request, form, status=400)
    initial: dict[str, Any] = {}
    list_id = request.GET.get("list", "")
    if list_id.isdigit() and ContactList.objects.filter(pk=list_id).exists():
        initial = {"target": ImportJob.Target.LIST, "contact_list": list_id}
    elif request.GET.get("into") == ImportJob.Target.CONTACTS:
        initial = {"target": ImportJob.Target.CONTACTS}
    return _upload_page(request, ImportUploadForm(initial=initial), limit=limit)


def _upload_page(
    request: HttpRequest,
    form: ImportUploadForm,
    *,
    status: int = 200,
    limit: int | None = None,
    error: str = "",
) -> HttpResponse:
    return render(
        request,
        "contacts/import_upload.html",
        {
            "form": form,
            "error": error,
            "limit_mb": (limit or settings.IMPORT_MAX_BYTES) // (1024 * 1024),
        },
        status=status,
    )


def _target_choices(job: ImportJob) -> list[tuple[str, str]]:
    choices = [(t, imports.TARGET_LABELS[t]) for t in imports.targets_for(job.target)]
    for key, label in CustomField.objects.order_by("label").values_list("key", "label"):
        choices.append((f"{imports.CUSTOM_PREFIX}{key}", f"Custom field: {label}"))
    return choices


@account_required("marketer")
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("list"), pk=job_id)
    if job.status == ImportJob.Status.DRAFT:
        return _mapping_page(request, job)
    return render(request, "contacts/import_detail.html", _progress_context(job))


def _mapping_page(
    request: HttpRequest,
    job: ImportJob,
    *,
    chosen: dict[str, str] | None = None,
    error: imports.MappingError | None = None,
) -> HttpResponse:
    try:
        head = imports.import_preview(job=job)
    except (imports.ImportFileError, OSError):
        raise Http404 from None
    saved_mappings = SavedMapping.objects.order_by("name")
    saved = None
    saved_id = request.GET.get("saved", "")
    if saved_id.isdigit():
        saved = saved_mappings.filter(pk=saved_id).first()
    if chosen is None:
        chosen = imports.mapping_suggest(
            headers=job.headers,
            target_kind=job.target,
            saved=saved.mapping if saved else None,
        )
    existing_keys = set(CustomField.objects.values_list("key", flat=True))
    base_choices = _target_choices(job)
    columns = []
    for index, header in enumerate(job.headers):
        if not header:
            continue
        choices = list(base_choices)
        new_key = imports.custom_key_for(header)
        if new_key not in existing_keys:
            choices.append((f"{imports.CUSTOM_PREFIX}{new_key}", f"New custom field “{header}”"))
        columns.append(
            {
                "index": index,
                "header": header,
                "choices": choices,
                "selected": chosen.get(header, ""),
                "samples": [row[index] if index < len(row) else "" for row in head.rows],
                "error": (error.details.get(header, "") if error else ""),
            }
        )
    return render(
        request,
        "contacts/import_mapping.html",
        {
            "job": job,
            "columns": columns,
            "head": head,
            "saved_mappings": saved_mappings,
            "saved": saved,
            "error": error,
        },
        status=400 if error else 200,
    )


@account_required("marketer")
@require_POST
def import_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("import_detail", job_id=job.pk)
    mapping: dict[str, str] = {}
    for index, header in enumerate(job.headers):
        target = request.POST.get(f"col-{index}", "")
        if header and target:
            mapping[header] = target
    try:
        imports.import_start(job=job, mapping=mapping, save_as=request.POST.get("save_as", ""))
    except imports.MappingError as exc:
        return _mapping_page(request, job, chosen=mapping, error=exc)
    return redirect("import_detail", job_id=job.pk)


def _progress_context(job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "stalled": imports.import_is_stalled(job),
        "percent": round(job.progress * 100),
    }


@account_required("marketer")
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("list"), pk=job_id)
    return render(request, "contacts/import_progress.html", _progress_context(job))


@account_required("marketer")
@require_POST
def import_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    if imports.import_cancel(job=job):
        messages.success(request, "The import was cancelled.")
    return redirect("import_detail", job_id=job.pk)


@account_required("marketer")
@require_POST
def import_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    if imports.import_resume(job=job):
        messages.success(request, "The import goes on from where it stopped.")
    return redirect("import_detail", job_id=job.pk)


@account_required("marketer")
def import_rejects(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    return _csv_response(
        exports.in_own_transaction(lambda: imports.rejects_rows(job=job)),
        f"rejects-{slugify(job.original_name) or job.pk}.csv",
    )


# --- Exports --------------------------------------------------------------------------------------


def _csv_response(rows: Any, filename: str) -> HttpResponse:
    response = StreamingHttpResponse(
        exports.csv_stream(rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Views are typed as returning HttpResponse (accounts.decorators); a stream serves the same.
    return cast(HttpResponse, response)


def _export_response(rows: Any, *, name: str, fmt: str) -> HttpResponse:
    filename = f"{slugify(name) or 'export'}.{fmt}"
    if fmt == "csv":
        return _csv_response(rows, filename)
    try:
        handle = exports.xlsx_file(rows, title=name)
    except exports.ExportTooLarge as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return cast(
        HttpResponse,
        FileResponse(
            handle,
            as_attachment=True,
            filename=filename,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    )


@account_required("marketer")
def list_export(request: HttpRequest, list_id: int, fmt: str) -> HttpResponse:
    contact_list = get_object_or_404(ContactList, pk=list_id)
    return _export_response(exports.list_rows(contact_list), name=contact_list.name, fmt=fmt)


@account_required("marketer")
def contacts_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """All contacts, or those of `?segment=` / `?source=` / `?list=` / `?q=` as on the table."""
    segment = None
    segment_id = request.GET.get("segment", "")
    if segment_id:
        segment = get_object_or_404(Segment, pk=segment_id if segment_id.isdigit() else 0)
    list_id = request.GET.get("list", "")
    search, source = request.GET.get("q", ""), request.GET.get("source", "")

    def queryset() -> Any:
        return selectors.contacts_filtered(
            search=search,
            source=source,
            list_id=int(list_id) if list_id.isdigit() else None,
            segment=segment,
        )

    name = segment.name if segment else "contacts"
    return _export_response(exports.contact_rows(queryset), name=name, fmt=fmt)


@account_required("marketer")
def segment_export(request: HttpRequest, segment_id: int, fmt: str) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=segment_id)
    rows = exports.contact_rows(lambda: selectors.segment_contacts(segment))
    return _export_response(rows, name=segment.name, fmt=fmt)
