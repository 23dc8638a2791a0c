from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from accounts.api.auth import ApiPrincipal
from accounts.api.pagination import CursorPagination
from contacts import selectors, services
from contacts.api.serializers import (
    ActivityBatchSerializer,
    ActivityResultSerializer,
    ContactListSerializer,
    ContactMergeSerializer,
    ContactSerializer,
    DuplicateMergeSerializer,
    DuplicateScanSerializer,
    DuplicateSuggestionSerializer,
    ListEntrySerializer,
    SegmentCountSerializer,
    SegmentSerializer,
    SuppressionSerializer,
)
from contacts.models import (
    Contact,
    ContactList,
    DuplicateScan,
    DuplicateSuggestion,
    Segment,
    Suppression,
)
from contacts.normalize import InvalidEmail, email_hash, normalize_email


def _as_drf(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as the API's JSON 400 (field details kept)."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


class ContactListViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ContactList],
):
    serializer_class = ContactListSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ContactList]:
        return selectors.lists_with_counts()

    def perform_create(self, serializer: BaseSerializer[ContactList]) -> None:
        serializer.instance = services.list_create(**serializer.validated_data)

    def perform_destroy(self, instance: ContactList) -> None:
        services.list_delete(contact_list=instance)

    @extend_schema(responses=ListEntrySerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=ListEntrySerializer)
    def entries(self, request: Request, pk: int) -> Response:
        contact_list = get_object_or_404(ContactList.objects.all(), pk=pk)
        entries: Any = selectors.list_entries(contact_list)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(ListEntrySerializer(page, many=True).data)


CONTACT_FILTERS = [
    OpenApiParameter("email", OpenApiTypes.STR, description="Normalised before matching"),
    OpenApiParameter("source", OpenApiTypes.STR, description="A list id or a source name"),
    OpenApiParameter("segment", OpenApiTypes.INT, description="A segment id"),
]


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Contact],
):
    serializer_class = ContactSerializer
    lookup_value_converter = "int"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Contact]:
        queryset: QuerySet[Contact] = Contact.objects.all()
        if self.action == "list":
            params = self.request.query_params
            segment = None
            if params.get("segment"):
                if not params["segment"].isdigit():
                    raise ValidationError({"segment": "Give a segment id."})
                segment = get_object_or_404(Segment.objects.all(), pk=int(params["segment"]))
            queryset = selectors.contacts_filtered(
                source=params.get("source", "").strip(), segment=segment
            )
            if params.get("email") is not None:
                try:
                    queryset = queryset.filter(email=normalize_email(params["email"]))
                except InvalidEmail as exc:
                    raise ValidationError({"email": str(exc)}) from None
        return queryset.prefetch_related("sources")

    @extend_schema(parameters=CONTACT_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        custom = data.pop("custom_fields", None)
        sources = data.pop("sources", [])
        try:
            serializer.instance = services.contact_create(
                fields=data, custom_fields=custom, sources=sources
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None

    def perform_update(self, serializer: BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        custom = data.pop("custom_fields", None)
        if "sources" in data:
            raise ValidationError({"sources": "Sources are set on create and by imports."})
        assert isinstance(serializer.instance, Contact)
        try:
            services.contact_update(contact=serializer.instance, fields=data, custom_fields=custom)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None

    def perform_destroy(self, instance: Contact) -> None:
        services.contact_delete(contact=instance)


class SuppressionViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Suppression]
):
    serializer_class = SuppressionSerializer

    def get_queryset(self) -> QuerySet[Suppression]:
        queryset = Suppression.objects.all()
        email = self.request.query_params.get("email")
        if email is not None:
            try:
                queryset = queryset.filter(email_hash=email_hash(normalize_email(email)))
            except InvalidEmail as exc:
                raise ValidationError({"email": str(exc)}) from None
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("email", OpenApiTypes.STR, description="Normalised first")]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={201: SuppressionSerializer, 200: SuppressionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            suppression, created = services.suppression_add(
                email=serializer.validated_data["email"] or "",
                reason=serializer.validated_data["reason"],
                origin=serializer.validated_data.get("origin") or "api",
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None
        return Response(
            SuppressionSerializer(suppression).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ActivityIngestView(APIView):
    """A batch of activities (at most 10,000); each names its contact by id or e-mail.
    `last_activity_at` moves forward for the whole batch in one statement."""

    @extend_schema(request=ActivityBatchSerializer, responses=ActivityResultSerializer)
    def post(self, request: Request) -> Response:
        serializer = ActivityBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        now = timezone.now()
        result = services.activities_ingest(
            activities=[
                services.ActivityInput(
                    kind=item["kind"],
                    occurred_at=item.get("occurred_at") or now,
                    contact_id=item.get("contact"),
                    email=item.get("email"),
                    data=item.get("data"),
                )
                for item in serializer.validated_data["activities"]
            ]
        )
        return Response({"accepted": result.accepted, "rejected": result.rejected})


class SegmentViewSet(viewsets.ModelViewSet[Segment]):
    serializer_class = SegmentSerializer
    required_role = "marketer"  # the count action, a read by POST, lowers it to viewer
    lookup_value_converter = "int"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Segment]:
        return selectors.segments_all()

    def perform_create(self, serializer: BaseSerializer[Segment]) -> None:
        try:
            serializer.instance = services.segment_save(**serializer.validated_data)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None

    def perform_update(self, serializer: BaseSerializer[Segment]) -> None:
        assert isinstance(serializer.instance, Segment)
        data = serializer.validated_data
        try:
            services.segment_save(
                segment=serializer.instance,
                name=data.get("name", serializer.instance.name),
                definition=data.get("definition", serializer.instance.definition),
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None

    def perform_destroy(self, instance: Segment) -> None:
        services.segment_delete(segment=instance)

    @extend_schema(
        request=inline_serializer("SegmentDefinition", {"definition": serializers.DictField()}),
        responses=SegmentCountSerializer,
    )
    @action(detail=False, methods=["post"], required_role="viewer")
    def count(self, request: Request) -> Response:
        """How many contacts an (unsaved) definition matches; capped at 10,000."""
        try:
            body = request.data if isinstance(request.data, dict) else {}
            contacts = selectors.definition_contacts(body.get("definition", {}))
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None
        count, exact = selectors.capped_count(contacts)
        return Response({"count": count, "exact": exact})


class DuplicateScanViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[DuplicateScan]):
    serializer_class = DuplicateScanSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[DuplicateScan]:
        return DuplicateScan.objects.all()


class SuggestionPagination(CursorPagination):
    ordering = ("-score", "-id")  # type: ignore[assignment]


class DuplicateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[DuplicateSuggestion]):
    serializer_class = DuplicateSuggestionSerializer
    pagination_class = SuggestionPagination
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[DuplicateSuggestion]:
        return selectors.duplicate_suggestions_open()

    def _user_id(self) -> int | None:
        return None if isinstance(self.request.user, ApiPrincipal) else self.request.user.pk

    @extend_schema(request=None, responses={202: DuplicateScanSerializer})
    @action(detail=False, methods=["post"])
    def scan(self, request: Request) -> Response:
        """Starts a background scan (or returns the one already running)."""
        scan, _ = services.duplicate_scan_start(user_id=self._user_id())
        return Response(DuplicateScanSerializer(scan).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DuplicateMergeSerializer, responses=ContactMergeSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: int) -> Response:
        suggestion = get_object_or_404(self.get_queryset(), pk=pk)
        serializer = DuplicateMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            merge = services.duplicate_merge(
                suggestion=suggestion,
                keep_id=serializer.validated_data["keep"],
                fields=serializer.validated_data.get("fields") or {},
                user_id=self._user_id(),
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from None
        return Response(ContactMergeSerializer(merge).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: int) -> Response:
        suggestion = get_object_or_404(self.get_queryset(), pk=pk)
        services.duplicate_dismiss(suggestion=suggestion, user_id=self._user_id())
        return Response(status=status.HTTP_204_NO_CONTENT)
