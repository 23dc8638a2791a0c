from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from contacts.models import ContactList, ListEntry
from tests.conftest import PASSWORD, committed, make_tenant
from tests.contacts.import_helpers import csv_bytes, media

pytestmark = [pytest.mark.browser, committed]
__all__ = ["media"]


def test_a_marketer_imports_a_file_into_a_list_in_the_browser(page: Any, tmp_path: Path) -> None:
    tenant = make_tenant("browser")
    with tenant_atomic(tenant.account):
        ContactList.objects.create(name="Beurs")
    upload = tmp_path / "leden.csv"
    upload.write_bytes(
        csv_bytes("Voornaam;Achternaam;E-mailadres", "Jan;Peeters;jan@example.be", "Bad;Row;nope")
    )
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(tenant.marketer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    page.goto("/lists/")
    page.get_by_role("link", name="Import a file into a list").click()
    page.get_by_label("File (CSV or Excel .xlsx)").set_input_files(str(upload))
    page.locator("#id_contact_list").select_option(label="Beurs")
    page.get_by_role("button", name="Upload and check the columns").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check the columns"
    assert page.get_by_label("Voornaam").input_value() == "first_name"
    assert page.get_by_label("E-mailadres").input_value() == "email"
    page.get_by_role("button", name="Start the import").click()
    page.get_by_role("heading", name="Done").wait_for()
    assert "Download the rejected rows" in page.locator("#import-progress").inner_text()
    with tenant_atomic(tenant.account):
        assert list(ListEntry.objects.values_list("first_name", "email_normalized")) == [
            ("Jan", "jan@example.be")
        ]
