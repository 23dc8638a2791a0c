"""Imports through the API: `POST /lists/{id}/imports/`, `POST /contacts/imports/`,
`GET /imports/{id}/` and `GET /imports/{id}/errors/` (CSV)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import exports, imports
from contacts.models import ContactList, ImportJob

_UPLOAD_SLACK = 64 * 1024


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "name",
            "target",
            "list",
            "original_name",
            "status",
            "progress",
            "rows_total",
            "rows_imported",
            "rows_rejected",
            "rows_suppressed",
            "mapping",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "errors_url",
        ]
        read_only_fields = fields

    def get_errors_url(self, job: ImportJob) -> str:
        return reverse("api-import-errors", args=[job.pk])


_UPLOAD_FORM = inline_serializer(
    "ImportUpload",
    {
        "file": serializers.FileField(
            help_text="CSV (any delimiter, UTF-8/cp1252/latin-1) or XLSX"
        ),
        "mapping": serializers.CharField(
            required=False,
            help_text='JSON object header → field, e.g. {"Voornaam": "first_name", '
            '"Lidnummer": "custom:member_no", "Notes": null}. Headers equal to a field name or a '
            "known alias (en/nl/fr/de) map by themselves; null skips a column; custom:<key> "
            "creates the custom field when it does not exist.",
        ),
        "name": serializers.CharField(required=False, help_text="Name of the import (and source)"),
        "save_mapping_as": serializers.CharField(required=False),
    },
)


class _ImportCreateView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    target: str = ""

    def _create(self, request: Request, contact_list: ContactList | None) -> Response:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.IMPORT_MAX_BYTES + _UPLOAD_SLACK:
            return Response(
                {"message": imports.too_large_message(length), "details": {}},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        data: Any = request.data
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError(
                {"file": ["Send the file as the multipart field “file”."]}
            )
        given = self._mapping(data.get("mapping"))
        try:
            job = imports.import_create(
                upload=upload,
                target=self.target,
                contact_list=contact_list,
                name=str(data.get("name") or ""),
            )
        except imports.ImportFileError as exc:
            return Response(
                {"message": str(exc), "details": {"file": [str(exc)]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        mapping = imports.mapping_suggest(headers=job.headers, target_kind=self.target, fuzzy=False)
        for header, target in given.items():
            if target:
                mapping = {h: t for h, t in mapping.items() if t != target}
            mapping[header] = target or ""
        try:
            job = imports.import_start(
                job=job, mapping=mapping, save_as=str(data.get("save_mapping_as") or "")
            )
        except imports.MappingError as exc:
            job.upload.delete(save=False)
            job.delete()
            return Response(
                {"message": exc.message, "details": {"mapping": exc.details}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        response = Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api-import-detail", args=[job.pk])
        return response

    @staticmethod
    def _mapping(raw: Any) -> dict[str, str | None]:
        if raw in (None, ""):
            return {}
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
        ):
            raise serializers.ValidationError(
                {"mapping": ["Send a JSON object of header → field name (or null to skip)."]}
            )
        return value


_CREATED = {
    202: ImportJobSerializer,
    400: OpenApiResponse(description="Bad file or mapping: {message, details}"),
    413: OpenApiResponse(description="The file is larger than the import limit"),
}


class ListImportCreateView(_ImportCreateView):
    """Import a CSV or XLSX file into a list (entries are upserted on the normalised e-mail)."""

    target = ImportJob.Target.LIST

    @extend_schema(request={"multipart/form-data": _UPLOAD_FORM}, responses=_CREATED)
    def post(self, request: Request, list_id: int) -> Response:
        contact_list = get_object_or_404(ContactList, pk=list_id)
        return self._create(request, contact_list)


class ContactImportCreateView(_ImportCreateView):
    """Import a CSV or XLSX file straight into the contact database (the import becomes a source)."""

    target = ImportJob.Target.CONTACTS

    @extend_schema(request={"multipart/form-data": _UPLOAD_FORM}, responses=_CREATED)
    def post(self, request: Request) -> Response:
        return self._create(request, None)


class ImportDetailView(APIView):
    @extend_schema(responses=ImportJobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(ImportJob, pk=job_id)
        return Response(ImportJobSerializer(job).data)


class ImportErrorsView(APIView):
    """The rejected rows as CSV: line, outcome, reason, then the row's original values."""

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="CSV")})
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        job = get_object_or_404(ImportJob, pk=job_id)
        rows = exports.in_own_transaction(lambda: imports.rejects_rows(job=job))
        response = StreamingHttpResponse(
            exports.csv_stream(rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response
