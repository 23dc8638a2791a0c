from __future__ import annotations

from typing import Any

from rest_framework import serializers

from consent.models import (
    BaselineRun,
    ConsentEvent,
    DataSubjectRequest,
    LegalBasis,
    Purpose,
    SubscriptionType,
)


class PurposeSerializer(serializers.ModelSerializer[Purpose]):
    class Meta:
        model = Purpose
        fields = ["id", "key", "name", "description"]


class SubscriptionTypeSerializer(serializers.ModelSerializer[SubscriptionType]):
    class Meta:
        model = SubscriptionType
        fields = ["id", "key", "name", "description", "translations", "position"]
        read_only_fields = ["id", "position"]


class ConsentEventSerializer(serializers.ModelSerializer[ConsentEvent]):
    purpose = serializers.CharField(source="purpose.key")
    subscription_type = serializers.SerializerMethodField()

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "contact",
            "purpose",
            "subscription_type",
            "legal_basis",
            "status",
            "channel",
            "source",
            "ip",
            "user_agent",
            "text",
            "doi_requested_at",
            "doi_confirmed_at",
            "recorded_by",
            "recorded_at",
        ]

    def get_subscription_type(self, event: ConsentEvent) -> str | None:
        return event.subscription_type.key if event.subscription_type else None


class ConsentEventInputSerializer(serializers.Serializer[Any]):
    purpose = serializers.CharField(help_text="The purpose's key, e.g. e_marketing")
    subscription_type = serializers.CharField(
        required=False, allow_null=True, help_text="A subscription type's key"
    )
    status = serializers.ChoiceField(choices=ConsentEvent.Status.choices)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    channel = serializers.CharField(max_length=30, required=False, default="api")
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=200, required=False, default="", allow_blank=True
    )
    text = serializers.CharField(required=False, default="", allow_blank=True)
    ip = serializers.IPAddressField(required=False, allow_null=True, default=None)
    user_agent = serializers.CharField(required=False, default="", allow_blank=True)
    doi_requested_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    doi_confirmed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_purpose(self, value: str) -> Purpose:
        purpose = Purpose.objects.filter(key=value).first()
        if purpose is None:
            raise serializers.ValidationError(f"No purpose with the key {value!r}.")
        return purpose

    def validate_subscription_type(self, value: str | None) -> SubscriptionType | None:
        if not value:
            return None
        topic = SubscriptionType.objects.filter(key=value).first()
        if topic is None:
            raise serializers.ValidationError(f"No subscription type with the key {value!r}.")
        return topic


class SignupInputSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    language = serializers.ChoiceField(
        choices=["en", "nl", "fr", "de"], required=False, default="en"
    )
    subscription_types = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, help_text="Keys"
    )
    text = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="The consent text shown"
    )
    ip = serializers.IPAddressField(required=False, allow_null=True, default=None)
    user_agent = serializers.CharField(required=False, default="", allow_blank=True)
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=200, required=False, default="api sign-up"
    )


class BaselineInputSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField(default=True)


class BaselineRunSerializer(serializers.ModelSerializer[BaselineRun]):
    class Meta:
        model = BaselineRun
        fields = ["id", "status", "progress", "counts", "created_at", "finished_at", "error"]


class DataSubjectRequestSerializer(serializers.ModelSerializer[DataSubjectRequest]):
    contact = serializers.IntegerField(source="contact_id_ref")

    class Meta:
        model = DataSubjectRequest
        fields = [
            "id",
            "kind",
            "status",
            "contact",
            "requested_at",
            "due_at",
            "completed_at",
            "channel",
        ]
