from __future__ import annotations

from typing import Any

from django import forms

from contacts.models import ContactList, ImportJob

NEW_LIST = "new"


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="File (CSV or Excel .xlsx)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )
    target = forms.ChoiceField(
        label="Import into",
        choices=[
            (ImportJob.Target.LIST, "A list"),
            (ImportJob.Target.CONTACTS, "The contact database"),
        ],
        widget=forms.RadioSelect,
        initial=ImportJob.Target.LIST,
    )
    contact_list = forms.ChoiceField(label="List", required=False)
    new_list_name = forms.CharField(label="Name of the new list", required=False, max_length=200)
    name = forms.CharField(
        label="Name of this import",
        required=False,
        max_length=200,
        help_text="Shown in the import history; contacts imported into the database get it as "
        "their source. Leave empty to use the file name.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lists = ContactList.objects.order_by("name", "id").values_list("id", "name")
        choice_field = self.fields["contact_list"]
        assert isinstance(choice_field, forms.ChoiceField)
        choice_field.choices = [
            ("", "— choose a list —"),
            *[(str(pk), name) for pk, name in lists],
            (NEW_LIST, "A new list…"),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("target") == ImportJob.Target.LIST:
            choice = data.get("contact_list")
            if not choice:
                self.add_error("contact_list", "Choose the list to import into.")
            elif choice == NEW_LIST and not (data.get("new_list_name") or "").strip():
                self.add_error("new_list_name", "Give the new list a name.")
        return data
