from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentEvent, LegalBasis, Purpose, SubscriptionType


class SignupForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    topics = forms.MultipleChoiceField(
        label=_("Topics"), required=False, widget=forms.CheckboxSelectMultiple
    )
    consent = forms.BooleanField(label=_("I agree"), required=True)

    def __init__(self, *args: Any, topics: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["topics"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(str(pk), name) for pk, name in topics]


class ConsentEventForm(forms.Form):
    """An event recorded by a user (a phone call, a paper form, …)."""

    purpose = forms.ModelChoiceField(queryset=Purpose.objects.unscoped().none())
    status = forms.ChoiceField(choices=ConsentEvent.Status.choices)
    legal_basis = forms.ChoiceField(choices=LegalBasis.choices)
    channel = forms.CharField(max_length=30, required=False, initial="admin")
    source = forms.CharField(max_length=200, required=False)
    text = forms.CharField(
        label="Text shown or its version", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purpose"].queryset = Purpose.objects.order_by("id")  # type: ignore[attr-defined]


class PurposeForm(forms.ModelForm):
    class Meta:
        model = Purpose
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class SubscriptionTypeForm(forms.ModelForm):
    class Meta:
        model = SubscriptionType
        fields = ["key", "name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ConsentSettingsForm(forms.Form):
    enforce_email_consent = forms.BooleanField(
        label="Enforce e-mail consent",
        required=False,
        help_text="E-mail mailing runs and syncs leave out contacts without a live e-marketing "
        "basis (granted, or legitimate interest not withdrawn).",
    )
    signup_text = forms.CharField(
        label="Consent text on the sign-up form",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Leave empty for the standard text in the visitor's language.",
    )
