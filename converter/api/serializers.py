from __future__ import annotations

from typing import Any

from rest_framework import serializers

from converter.models import Choice, Conflict


class ConversionCreateSerializer(serializers.Serializer):
    lists = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)
    choices = serializers.DictField(
        child=serializers.ChoiceField(choices=Choice.choices), required=False, default=dict
    )
    default_choice = serializers.ChoiceField(
        choices=Choice.choices, required=False, allow_null=True, allow_blank=True, default=""
    )
    unattended = serializers.BooleanField(required=False, default=False)

    def validate_choices(self, value: dict[str, str]) -> dict[int, str]:
        try:
            return {int(key): choice for key, choice in value.items()}
        except ValueError:
            raise serializers.ValidationError("Keys must be list ids.") from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["default_choice"] = attrs.get("default_choice") or ""
        return attrs


class ResolveSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=Choice.choices)
    field_overrides = serializers.DictField(
        child=serializers.ChoiceField(choices=Choice.choices), required=False, default=dict
    )


class ListAddSerializer(serializers.Serializer):
    list = serializers.IntegerField(min_value=1)


class ConflictSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conflict
        fields = ["id", "entry_id", "email", "field", "database_value", "list_value", "kind"]


class StepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    list = serializers.IntegerField(allow_null=True)
    list_name = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    counts = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
    choice = serializers.CharField(allow_null=True)
    field_overrides = serializers.DictField(child=serializers.CharField())
    dropped_values = serializers.IntegerField(allow_null=True)


class ConversionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    unattended = serializers.BooleanField()
    default_choice = serializers.CharField(allow_null=True)
    started_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    stalled = serializers.BooleanField()
    error = serializers.CharField()
    paused_workflows = serializers.ListField(child=serializers.DictField())
    steps = StepSerializer(many=True)
    report = serializers.DictField(allow_null=True)
