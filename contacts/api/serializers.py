from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import (
    PERSON_FIELDS,
    Activity,
    Contact,
    ContactList,
    ContactMerge,
    DuplicateScan,
    DuplicateSuggestion,
    ListEntry,
    Organization,
    Segment,
    Suppression,
)
from contacts.selectors import MERGE_FIELDS


class ContactListSerializer(serializers.ModelSerializer[ContactList]):
    entries = serializers.IntegerField(read_only=True, source="entry_count")
    subscribed = serializers.IntegerField(read_only=True, source="subscribed_count")
    unsubscribed = serializers.IntegerField(read_only=True, source="unsubscribed_count")
    last_campaign_sent_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ContactList
        fields = [
            "id",
            "name",
            "description",
            "created_at",
            "entries",
            "subscribed",
            "unsubscribed",
            "last_campaign_sent_at",
        ]
        read_only_fields = ["id", "created_at"]


class ListEntrySerializer(serializers.ModelSerializer[ListEntry]):
    class Meta:
        model = ListEntry
        fields = [
            "id",
            "email",
            "email_normalized",
            *PERSON_FIELDS,
            "custom_fields",
            "status",
            "optin",
            "optin_at",
            "optin_confirmed_at",
            "optin_ip",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TenantPrimaryKeyField(serializers.PrimaryKeyRelatedField[Any]):
    """A reference to a row of the caller's account; the queryset is built per request (another
    account's id reads as "does not exist")."""

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        self.model = model
        super().__init__(queryset=model.objects.unscoped().none(), **kwargs)

    def get_queryset(self) -> Any:
        return self.model.objects.all()


class SourceSerializer(serializers.Serializer[Any]):
    list = TenantPrimaryKeyField(ContactList, allow_null=True, required=False)
    name = serializers.CharField(max_length=200, required=False)


class ContactSerializer(serializers.ModelSerializer[Contact]):
    email = serializers.CharField(
        max_length=254,
        allow_null=True,
        allow_blank=True,
        required=False,
        help_text="Normalised on save (lower case, IDNA domain); null for contacts without one",
    )
    organization = TenantPrimaryKeyField(Organization, allow_null=True, required=False)
    custom_fields = serializers.DictField(required=False, help_text="custom field key → value")
    sources = SourceSerializer(many=True, required=False, help_text="Writable on create only")

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            *PERSON_FIELDS,
            "mailing_method",
            "organization",
            "no_mailings",
            "custom_fields",
            "sources",
            "last_activity_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_activity_at", "created_at", "updated_at"]

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["sources"] = [{"list": s.list_id, "name": s.name} for s in instance.sources.all()]
        return data


class ActivityItemSerializer(serializers.Serializer[Any]):
    contact = serializers.IntegerField(required=False, help_text="The contact's id, or give email")
    email = serializers.CharField(required=False, max_length=254)
    kind = serializers.ChoiceField(
        choices=[k for k in Activity.Kind.choices if k[0] != Activity.Kind.MAILING]
    )
    occurred_at = serializers.DateTimeField(required=False)
    data = serializers.DictField(required=False)  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("contact") is None and not attrs.get("email"):
            raise serializers.ValidationError("Give the contact's id or e-mail address.")
        if attrs.get("occurred_at") and attrs["occurred_at"] > timezone.now():
            raise serializers.ValidationError({"occurred_at": "This moment is in the future."})
        return attrs


class ActivityBatchSerializer(serializers.Serializer[Any]):
    activities = ActivityItemSerializer(many=True, allow_empty=False, max_length=10_000)  # type: ignore[call-arg]


class ActivityResultSerializer(serializers.Serializer[Any]):
    accepted = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class SuppressionSerializer(serializers.ModelSerializer[Suppression]):
    email = serializers.CharField(
        max_length=254, allow_null=True, help_text="Null once only the hash is kept"
    )
    reason = serializers.ChoiceField(
        choices=[r for r in Suppression.Reason.choices if r[0] != Suppression.Reason.ERASED],
        default=Suppression.Reason.MANUAL,
    )

    class Meta:
        model = Suppression
        fields = ["id", "email", "reason", "origin", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance: Suppression) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["reason"] = instance.reason
        return data


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    definition = serializers.DictField(
        help_text="Criteria, all of which must hold: source_lists, source_names, lists, fields, "
        "organizations, organization_no_mailings, has_email, languages, mailing_methods, "
        "last_activity_after, last_activity_before, no_activity"
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "definition", "created_at"]
        read_only_fields = ["id", "created_at"]


class SegmentCountSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    exact = serializers.BooleanField(help_text="False when the count was capped")


class DuplicateScanSerializer(serializers.ModelSerializer[DuplicateScan]):
    class Meta:
        model = DuplicateScan
        fields = [
            "id",
            "status",
            "progress",
            "contacts_total",
            "contacts_scanned",
            "pairs_compared",
            "suggestions_found",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class DuplicateSuggestionSerializer(serializers.ModelSerializer[DuplicateSuggestion]):
    contacts = serializers.SerializerMethodField()

    class Meta:
        model = DuplicateSuggestion
        fields = ["id", "contacts", "score", "reasons", "status", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_contacts(self, obj: DuplicateSuggestion) -> list[int]:
        return [obj.contact_a_id, obj.contact_b_id]


class DuplicateMergeSerializer(serializers.Serializer[Any]):
    keep = serializers.IntegerField(help_text="The id of the contact that stays")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.IntegerField(),
        required=False,
        help_text=f"field → the contact id whose value wins; fields: {', '.join(MERGE_FIELDS)}",
    )


class ContactMergeSerializer(serializers.ModelSerializer[ContactMerge]):
    class Meta:
        model = ContactMerge
        fields = [
            "id",
            "kept_contact",
            "merged_contact_id",
            "merged_email",
            "fields_taken",
            "moved",
            "score",
            "merged_at",
        ]
        read_only_fields = fields
