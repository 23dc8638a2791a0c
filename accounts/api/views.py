from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import principal_role
from accounts.models import Account
from accounts.tenancy import current_account_id


class AccountView(APIView):
    """The account and role of the calling key."""

    @extend_schema(
        responses=inline_serializer(
            "AccountInfo",
            {
                "id": serializers.IntegerField(),
                "slug": serializers.CharField(),
                "name": serializers.CharField(),
                "role": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        account = Account.objects.get(pk=current_account_id())
        return Response(
            {
                "id": account.pk,
                "slug": account.slug,
                "name": account.name,
                "role": principal_role(request),
            }
        )
