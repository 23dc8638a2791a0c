from __future__ import annotations

from rest_framework import serializers

from contacts.models import ContactList


class ContactListSerializer(serializers.ModelSerializer[ContactList]):
    entries = serializers.IntegerField(read_only=True, source="entry_count")
    subscribed = serializers.IntegerField(read_only=True, source="subscribed_count")
    unsubscribed = serializers.IntegerField(read_only=True, source="unsubscribed_count")

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
        ]
        read_only_fields = ["id", "created_at"]
