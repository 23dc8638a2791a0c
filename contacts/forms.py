from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms

from contacts.models import (
    Contact,
    ContactList,
    CustomField,
    Language,
    MailingMethod,
    Organization,
)
from contacts.selectors import FIELD_OPS, SEGMENT_CRITERIA, TEXT_FIELDS

CONTACT_FORM_FIELDS = [
    "email",
    "salutation",
    "title",
    "first_name",
    "last_name",
    "letter_salutation",
    "company_name",
    "organization",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "language",
    "mailing_method",
    "no_mailings",
]
CUSTOM_PREFIX = "custom_"

if TYPE_CHECKING:
    _ContactModelForm = forms.ModelForm[Contact]
else:
    _ContactModelForm = forms.ModelForm


class ContactForm(_ContactModelForm):
    """The standard fields plus one typed input per custom field definition of the account.
    E-mail syntax and uniqueness are checked by the service, which names the field."""

    email = forms.CharField(max_length=254, required=False, label="E-mail address")
    # The queryset is the account's, set per form; at import time there is no account.
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.unscoped().none(), required=False, label="Organisation"
    )

    class Meta:
        model = Contact
        fields = CONTACT_FORM_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.order_by("name")  # type: ignore[attr-defined]
        if self.instance.pk:
            self.initial["organization"] = self.instance.organization_id
        self.definitions = list(CustomField.objects.order_by("label"))
        values = self.instance.custom_fields if self.instance.pk else {}
        for definition in self.definitions:
            field: forms.Field
            if definition.type == CustomField.Type.NUMBER:
                field = forms.DecimalField(required=False)
            elif definition.type == CustomField.Type.DATE:
                field = forms.DateField(
                    required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
            elif definition.type == CustomField.Type.BOOLEAN:
                field = forms.BooleanField(required=False)
            else:
                field = forms.CharField(required=False, max_length=1000)
            field.label = definition.label
            field.initial = values.get(definition.key)
            self.fields[CUSTOM_PREFIX + definition.key] = field

    def standard_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in CONTACT_FORM_FIELDS}

    def custom_values(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(CUSTOM_PREFIX + definition.key)
            if definition.type == CustomField.Type.NUMBER and value is not None:
                value = float(value)
            elif definition.type == CustomField.Type.DATE and value is not None:
                value = value.isoformat()
            elif definition.type == CustomField.Type.BOOLEAN:
                value = bool(value)
            result[definition.key] = value
        return result

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[CUSTOM_PREFIX + d.key] for d in self.definitions]


class SuppressionForm(forms.Form):
    email = forms.CharField(max_length=254, label="E-mail address")
    origin = forms.CharField(
        max_length=200, required=False, label="Note (optional)", help_text="Why, or who asked"
    )


ANY_YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]
FIELD_CHOICES = [("", "—")] + [(f, f.replace("_", " ").capitalize()) for f in TEXT_FIELDS]
OP_CHOICES = [(op, op.replace("_", " ")) for op in FIELD_OPS]
FIELD_RULES = 3
# Criteria the form edits itself; any other key of a definition stays in the "advanced" JSON.
FORM_KEYS = {
    "source_lists",
    "lists",
    "languages",
    "mailing_methods",
    "has_email",
    "organization_no_mailings",
    "last_activity_after",
    "last_activity_before",
    "no_activity",
    "fields",
}


class SegmentForm(forms.Form):
    """Builds a segment definition (see contacts.selectors) from plain inputs."""

    name = forms.CharField(max_length=200)
    source_lists = forms.MultipleChoiceField(
        required=False,
        label="Came from one of these lists",
        widget=forms.CheckboxSelectMultiple,
    )
    lists = forms.MultipleChoiceField(
        required=False,
        label="Is on one of these lists (same e-mail)",
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        required=False, choices=Language.choices, widget=forms.CheckboxSelectMultiple
    )
    mailing_methods = forms.MultipleChoiceField(
        required=False,
        choices=MailingMethod.choices,
        label="Mailing method",
        widget=forms.CheckboxSelectMultiple,
    )
    has_email = forms.ChoiceField(required=False, choices=ANY_YES_NO, label="Has an e-mail address")
    organization_no_mailings = forms.ChoiceField(
        required=False, choices=ANY_YES_NO, label="Organisation wants no mailings"
    )
    last_activity_after = forms.DateField(
        required=False,
        label="Last activity on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    last_activity_before = forms.DateField(
        required=False, label="Last activity before", widget=forms.DateInput(attrs={"type": "date"})
    )
    no_activity = forms.ChoiceField(required=False, choices=ANY_YES_NO, label="Never active")
    advanced = forms.CharField(
        required=False,
        label="More criteria (JSON)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Criteria this form does not show, as a JSON object.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        list_choices = [
            (str(pk), name)
            for pk, name in ContactList.objects.order_by("name").values_list("pk", "name")
        ]
        self.fields["source_lists"].choices = list_choices  # type: ignore[attr-defined]
        self.fields["lists"].choices = list_choices  # type: ignore[attr-defined]
        for n in range(FIELD_RULES):
            self.fields[f"field_{n}"] = forms.ChoiceField(
                required=False, choices=FIELD_CHOICES, label=f"Field rule {n + 1}: field"
            )
            self.fields[f"op_{n}"] = forms.ChoiceField(
                required=False, choices=OP_CHOICES, label=f"Field rule {n + 1}: test"
            )
            self.fields[f"value_{n}"] = forms.CharField(
                required=False, max_length=200, label=f"Field rule {n + 1}: value"
            )

    @classmethod
    def initial_for(cls, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        def yes_no(key: str) -> str:
            value = definition.get(key)
            return "" if value is None else ("yes" if value else "no")

        initial: dict[str, Any] = {
            "name": name,
            "source_lists": [str(v) for v in definition.get("source_lists", [])],
            "lists": [str(v) for v in definition.get("lists", [])],
            "languages": definition.get("languages", []),
            "mailing_methods": definition.get("mailing_methods", []),
            "has_email": yes_no("has_email"),
            "organization_no_mailings": yes_no("organization_no_mailings"),
            "no_activity": yes_no("no_activity"),
            "last_activity_after": definition.get("last_activity_after"),
            "last_activity_before": definition.get("last_activity_before"),
        }
        for n, rule in enumerate(definition.get("fields", [])[:FIELD_RULES]):
            initial[f"field_{n}"] = rule.get("field")
            initial[f"op_{n}"] = rule.get("op", "equals")
            initial[f"value_{n}"] = rule.get("value", "")
        extra = {k: v for k, v in definition.items() if k not in FORM_KEYS}
        if len(definition.get("fields", [])) > FIELD_RULES:
            extra["fields"] = definition["fields"][FIELD_RULES:]
        initial["advanced"] = json.dumps(extra) if extra else ""
        return initial

    def clean_advanced(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("advanced", "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("This is not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"source_names": ["Fair"]}.')
        unknown = sorted(set(value) - set(SEGMENT_CRITERIA))
        if unknown:
            raise forms.ValidationError(f"Unknown criteria: {', '.join(unknown)}.")
        return value

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        definition: dict[str, Any] = {}
        for key in ("source_lists", "lists"):
            if data.get(key):
                definition[key] = [int(v) for v in data[key]]
        for key in ("languages", "mailing_methods"):
            if data.get(key):
                definition[key] = list(data[key])
        for key in ("has_email", "organization_no_mailings", "no_activity"):
            if data.get(key):
                definition[key] = data[key] == "yes"
        for key in ("last_activity_after", "last_activity_before"):
            if data.get(key):
                definition[key] = data[key].isoformat()
        rules = []
        for n in range(FIELD_RULES):
            if data.get(f"field_{n}"):
                rules.append(
                    {
                        "field": data[f"field_{n}"],
                        "op": data.get(f"op_{n}") or "equals",
                        "value": data.get(f"value_{n}", ""),
                    }
                )
        advanced = dict(data.get("advanced") or {})
        rules.extend(advanced.pop("fields", []))
        if rules:
            definition["fields"] = rules
        definition.update(advanced)
        return definition
