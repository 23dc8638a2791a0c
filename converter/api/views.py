"""The conversions API (DESIGN §8), admin keys only. Thin: validate, call a service, answer."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import ApiPrincipal
from contacts.models import ContactList
from converter import selectors, services
from converter.api.serializers import (
    ConflictSerializer,
    ConversionCreateSerializer,
    ConversionSerializer,
    ListAddSerializer,
    ResolveSerializer,
)
from converter.models import Conflict, Conversion, ConversionStep


class _AdminOnly:
    required_role = "admin"
    read_role = "admin"


def _conversion(conversion_id: int) -> Conversion:
    return get_object_or_404(Conversion.objects, pk=conversion_id)


def _invalid(error: ValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError({"non_field_errors": error.messages})


def _answer(conversion: Conversion, code: int = status.HTTP_200_OK) -> Response:
    conversion.refresh_from_db()
    return Response(selectors.conversion_data(conversion), status=code)


class ConversionListView(_AdminOnly, APIView):
    @extend_schema(responses=ConversionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            {
                "next": None,
                "results": [
                    selectors.conversion_data(c) for c in selectors.conversions_recent()[:50]
                ],
            }
        )

    @extend_schema(request=ConversionCreateSerializer, responses={201: ConversionSerializer})
    def post(self, request: Request) -> Response:
        serializer = ConversionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        ids = data["lists"]
        found = {cl.pk: cl for cl in ContactList.objects.filter(pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise exceptions.ValidationError(
                {"lists": [f"No list with id {i} in this account." for i in missing]}
            )
        principal = request.user
        assert isinstance(principal, ApiPrincipal)
        try:
            conversion = services.conversion_start(
                lists=[found[i] for i in ids],
                api_key_id=principal.key_id,
                label=f"API key {getattr(request.auth, 'name', '')}".strip(),
                unattended=data["unattended"],
                choices=data["choices"],
                default_choice=data["default_choice"],
            )
        except ValidationError as error:
            raise _invalid(error) from None
        return _answer(conversion, status.HTTP_201_CREATED)


class ConversionDetailView(_AdminOnly, APIView):
    @extend_schema(responses=ConversionSerializer)
    def get(self, request: Request, conversion_id: int) -> Response:
        return _answer(_conversion(conversion_id))


class ConflictListView(_AdminOnly, ListAPIView):
    """A step's conflicts; filter with `?email=`, `?field=`, `?kind=fill|mismatch`."""

    serializer_class = ConflictSerializer

    def get_queryset(self) -> Any:
        conversion = _conversion(self.kwargs["conversion_id"])
        step = get_object_or_404(
            ConversionStep.objects, conversion=conversion, position=self.kwargs["position"]
        )
        conflicts = Conflict.objects.filter(step=step)
        params = self.request.query_params
        if params.get("email"):
            conflicts = conflicts.filter(email__icontains=params["email"].strip().lower())
        if params.get("field"):
            conflicts = conflicts.filter(field=params["field"])
        if params.get("kind"):
            if params["kind"] not in Conflict.Kind.values:
                raise exceptions.ValidationError({"kind": ["Use fill or mismatch."]})
            conflicts = conflicts.filter(kind=params["kind"])
        return conflicts


class StepResolveView(_AdminOnly, APIView):
    @extend_schema(request=ResolveSerializer, responses=ConversionSerializer)
    def post(self, request: Request, conversion_id: int, position: int) -> Response:
        conversion = _conversion(conversion_id)
        step = get_object_or_404(ConversionStep.objects, conversion=conversion, position=position)
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.step_resolve(
                step=step,
                choice=serializer.validated_data["choice"],
                field_overrides=serializer.validated_data["field_overrides"],
            )
        except ValidationError as error:
            raise _invalid(error) from None
        return _answer(conversion)


class ConversionListAddView(_AdminOnly, APIView):
    @extend_schema(request=ListAddSerializer, responses={201: ConversionSerializer})
    def post(self, request: Request, conversion_id: int) -> Response:
        conversion = _conversion(conversion_id)
        serializer = ListAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact_list = ContactList.objects.filter(pk=serializer.validated_data["list"]).first()
        if contact_list is None:
            raise exceptions.ValidationError({"list": ["No such list in this account."]})
        try:
            services.conversion_list_add(conversion=conversion, contact_list=contact_list)
        except ValidationError as error:
            raise _invalid(error) from None
        return _answer(conversion, status.HTTP_201_CREATED)


class _ActionView(_AdminOnly, APIView):
    action_name = ""

    @extend_schema(request=None, responses=ConversionSerializer)
    def post(self, request: Request, conversion_id: int) -> Response:
        conversion = _conversion(conversion_id)
        action = getattr(services, f"conversion_{self.action_name}")
        try:
            action(conversion=conversion)
        except ValidationError as error:
            raise _invalid(error) from None
        return _answer(conversion)


class ConversionConfirmView(_ActionView):
    action_name = "confirm"


class ConversionCancelView(_ActionView):
    action_name = "cancel"


class ConversionResumeView(_ActionView):
    action_name = "resume"
