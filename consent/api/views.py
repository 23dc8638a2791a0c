from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from consent import selectors, services
from consent.api.serializers import (
    BaselineInputSerializer,
    BaselineRunSerializer,
    ConsentEventInputSerializer,
    ConsentEventSerializer,
    DataSubjectRequestSerializer,
    PurposeSerializer,
    SignupInputSerializer,
    SubscriptionTypeSerializer,
)
from consent.models import (
    AccessToken,
    BaselineRun,
    ConsentEvent,
    DataSubjectRequest,
    Purpose,
    SubscriptionType,
)
from consent.services import Evidence
from contacts.models import Contact


def _contact(pk: int) -> Contact:
    return get_object_or_404(Contact.objects, pk=pk)


def _validation(error: DjangoValidationError) -> ValidationError:
    return ValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    )


class PurposeList(generics.ListAPIView[Purpose]):
    serializer_class = PurposeSerializer

    def get_queryset(self) -> QuerySet[Purpose]:
        services.purposes_ensure_defaults()
        return Purpose.objects.all()


class SubscriptionTypeList(generics.ListCreateAPIView[SubscriptionType]):
    serializer_class = SubscriptionTypeSerializer

    def get_queryset(self) -> QuerySet[SubscriptionType]:
        services.subscription_types_ensure_defaults()
        return SubscriptionType.objects.all()

    def perform_create(self, serializer: BaseSerializer[SubscriptionType]) -> None:
        try:
            serializer.instance = services.subscription_type_create(**serializer.validated_data)
        except DjangoValidationError as error:
            raise _validation(error) from None


class ContactConsentList(generics.ListCreateAPIView[ConsentEvent]):
    """The contact's ledger (newest first); POST appends an event."""

    serializer_class = ConsentEventSerializer

    def get_queryset(self) -> QuerySet[ConsentEvent]:
        return selectors.contact_timeline(contact_id=_contact(self.kwargs["contact_id"]).pk)

    @extend_schema(request=ConsentEventInputSerializer, responses=ConsentEventSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        contact = _contact(contact_id)
        services.purposes_ensure_defaults()
        data = ConsentEventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        event = services.consent_event_record(
            contact_id=contact.pk,
            purpose=v["purpose"],
            subscription_type=v.get("subscription_type"),
            status=v["status"],
            legal_basis=v["legal_basis"],
            evidence=Evidence(
                ip=v["ip"],
                user_agent=v["user_agent"],
                text=v["text"],
                channel=v["channel"],
                source=v["source"],
            ),
            doi_requested_at=v["doi_requested_at"],
            doi_confirmed_at=v["doi_confirmed_at"],
        )
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)


class PreferenceLink(APIView):
    """A fresh personal preference link for the contact (each call issues a new one)."""

    read_role = "marketer"

    @extend_schema(
        responses=inline_serializer(
            "PreferenceLink",
            {
                "url": serializers.URLField(),
                "unsubscribe_url": serializers.URLField(),
                "expires_at": serializers.DateTimeField(),
            },
        )
    )
    def get(self, request: Request, contact_id: int) -> Response:
        contact = _contact(contact_id)
        token = services.access_token_issue(
            contact_id=contact.pk, kind=AccessToken.Kind.PREFERENCES
        )
        expires = timezone.now() + timedelta(days=services.PREFERENCE_TOKEN_DAYS)
        return Response(
            {
                "url": services.preference_url(token),
                "unsubscribe_url": services.unsubscribe_url(token),
                "expires_at": expires,
            }
        )


class SignupCreate(APIView):
    """Starts a double opt-in: records `pending` and e-mails a confirmation link."""

    @extend_schema(
        request=SignupInputSerializer,
        responses={202: inline_serializer("SignupStarted", {"status": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = SignupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.subscription_types_ensure_defaults()
        topic_ids = list(
            SubscriptionType.objects.filter(key__in=v["subscription_types"]).values_list(
                "pk", flat=True
            )
        )
        unknown = set(v["subscription_types"]) - set(
            SubscriptionType.objects.filter(pk__in=topic_ids).values_list("key", flat=True)
        )
        if unknown:
            raise ValidationError(
                {"subscription_types": [f"Unknown subscription types: {sorted(unknown)}."]}
            )
        try:
            services.signup_start(
                email=v["email"],
                first_name=v["first_name"],
                last_name=v["last_name"],
                language=v["language"],
                subscription_type_ids=topic_ids,
                evidence=Evidence(
                    ip=v["ip"],
                    user_agent=v["user_agent"],
                    text=v["text"],
                    channel="api",
                    source=v["source"],
                ),
            )
        except DjangoValidationError as error:
            raise _validation(error) from None
        return Response({"status": "pending"}, status=status.HTTP_202_ACCEPTED)


class GdprBaseline(APIView):
    """`dry_run: true` previews the counts per rule. A run applies them: within the request up
    to BASELINE_SYNC_LIMIT contacts (200 with the counts), above that as a background run
    (202 with its id; poll `GET /gdpr-baseline/runs/{id}/`)."""

    required_role = "admin"

    @extend_schema(request=BaselineInputSerializer, responses=BaselineRunSerializer)
    def post(self, request: Request) -> Response:
        data = BaselineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dry_run = data.validated_data["dry_run"]
        if dry_run or Contact.objects.count() <= services.BASELINE_SYNC_LIMIT:
            counts = services.gdpr_baseline_apply(dry_run=dry_run)
            return Response({"dry_run": dry_run, "status": "succeeded", "counts": counts})
        run = services.baseline_run_start(created_by_id=None)
        return Response(
            BaselineRunSerializer(run).data | {"dry_run": False}, status=status.HTTP_202_ACCEPTED
        )


class GdprBaselineRunDetail(generics.RetrieveAPIView[BaselineRun]):
    serializer_class = BaselineRunSerializer
    read_role = "admin"

    def get_queryset(self) -> QuerySet[BaselineRun]:
        return BaselineRun.objects.all()


class ContactExport(APIView):
    """Everything about the contact: a zip with data.json and one CSV per section."""

    read_role = "marketer"

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, contact_id: int) -> HttpResponse:
        contact = _contact(contact_id)
        data, _ = services.contact_export(contact=contact, requested_by_id=None, channel="api")
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-export.zip"'
        return response


class ContactErase(APIView):
    required_role = "admin"

    @extend_schema(request=None, responses=DataSubjectRequestSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        contact = _contact(contact_id)
        done = services.contact_erase(contact=contact, requested_by_id=None, channel="api")
        return Response(DataSubjectRequestSerializer(done).data)


class DataSubjectRequestList(generics.ListAPIView[DataSubjectRequest]):
    serializer_class = DataSubjectRequestSerializer

    def get_queryset(self) -> QuerySet[DataSubjectRequest]:
        return DataSubjectRequest.objects.all()
