from __future__ import annotations

from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from consent.models import ConsentEvent, SubscriptionState
from tests.conftest import committed, make_tenant
from tests.consent.conftest import make_contact, make_token

pytestmark = [pytest.mark.browser, committed]


def test_a_contact_changes_their_preferences_on_a_phone(page: Any) -> None:
    tenant = make_tenant("acme")
    contact = make_contact(tenant, email="els@example.org", language="nl")
    token = make_token(tenant, contact)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/p/{token}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Uw e-mailvoorkeuren"
    page.get_by_label("Nieuwsbrief").check()
    page.get_by_label("Ik wil marketing-e-mails ontvangen.").check()
    page.get_by_role("button", name="Mijn voorkeuren opslaan").click()
    assert page.get_by_role("status").inner_text() == "Uw voorkeuren zijn opgeslagen."
    assert page.get_by_label("Nieuwsbrief").is_checked()
    with tenant_atomic(tenant.account):
        assert SubscriptionState.objects.get(contact_id=contact.pk).subscribed
        event = ConsentEvent.objects.filter(subscription_type__isnull=True).get()
        assert event.status == "granted" and "Chrom" in event.user_agent
