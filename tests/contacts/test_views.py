from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.tenancy import tenant_atomic
from contacts import selectors
from contacts.models import Contact, DuplicateScan, DuplicateSuggestion, Segment, Suppression
from contacts.normalize import email_hash
from tests.conftest import Tenant
from tests.contacts.factories import contact, contact_list, segment

# --- contacts table ---------------------------------------------------------------------------


def test_the_contacts_table_searches_name_email_and_company(tenant: Tenant) -> None:
    contact(tenant, email="an@example.org", first_name="An", last_name="Peeters")
    contact(tenant, email="bo@example.org", company_name="Brouwerij Peeters")
    contact(tenant, email="peeters.c@example.org")
    contact(tenant, email="dirk@example.org", first_name="Dirk")
    page = tenant.client("viewer").get("/contacts/?q=peeters")
    assert page.status_code == 200
    names = {c.email for c in page.context["page"].items}
    assert names == {"an@example.org", "bo@example.org", "peeters.c@example.org"}


def test_search_with_several_words_needs_all_of_them(tenant: Tenant) -> None:
    contact(tenant, email="an@example.org", first_name="An", last_name="Peeters")
    contact(tenant, email="bo@example.org", first_name="Bo", last_name="Peeters")
    page = tenant.client("viewer").get("/contacts/?q=an+peet")
    assert [c.email for c in page.context["page"].items] == ["an@example.org"]


def test_search_treats_percent_and_underscore_literally(tenant: Tenant) -> None:
    contact(tenant, email="an@example.org", first_name="An")
    assert tenant.client("viewer").get("/contacts/?q=%25").context["page"].items == []


def test_the_search_expression_is_the_trigram_indexs_expression(tenant: Tenant) -> None:
    from django.db import connection

    with tenant_atomic(tenant.account), connection.cursor() as cursor:
        sql, params = selectors.contact_search(
            Contact.objects.all(), "peeters"
        ).query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT pg_get_indexdef('contact_search_trgm'::regclass)")
        index = cursor.fetchone()[0]
    searched = plan[plan.index("lower(") : plan.index(" ~~ ")]
    assert "".join(searched.split()) in "".join(index.split())


def test_the_search_functions_are_leakproof_so_row_level_security_allows_the_index(
    tenant: Tenant,
) -> None:
    """Under RLS PostgreSQL uses an index only for leakproof conditions (migration 0002)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(proleakproof) FROM pg_proc WHERE oid IN"
            " ('lower(text)'::regprocedure, 'textcat(text,text)'::regprocedure, 'textlike(text,text)'::regprocedure)"
        )
        assert cursor.fetchone()[0] is True


def test_the_table_filters_by_source_list_and_segment(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members", ["b@example.org"])
    a = contact(tenant, email="a@example.org", sources=[members], language="nl")
    b = contact(tenant, email="b@example.org", language="nl")
    contact(tenant, email="c@example.org", language="fr")
    dutch = segment(tenant, definition={"languages": ["nl"]})
    client = tenant.client("viewer")
    assert [c.pk for c in client.get(f"/contacts/?source={members.pk}").context["page"].items] == [
        a.pk
    ]
    assert [c.pk for c in client.get(f"/contacts/?list={members.pk}").context["page"].items] == [
        b.pk
    ]
    assert {c.pk for c in client.get(f"/contacts/?segment={dutch.pk}").context["page"].items} == {
        a.pk,
        b.pk,
    }


def test_the_table_pages_by_keyset_without_repeats(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        Contact.objects.bulk_create(Contact(email=f"p{n}@example.org") for n in range(120))
    client = tenant.client("viewer")
    first = client.get("/contacts/").context["page"]
    second = client.get(f"/contacts/?after={first.next_after}").context["page"]
    third = client.get(f"/contacts/?after={second.next_after}").context["page"]
    seen = [c.pk for c in first.items + second.items + third.items]
    assert len(seen) == len(set(seen)) == 120 and third.next_after is None


def test_the_count_is_capped_and_says_more_than(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    monkeypatch.setattr(selectors.capped_count, "__defaults__", (3,))
    with tenant_atomic(tenant.account):
        Contact.objects.bulk_create(Contact(email=f"p{n}@example.org") for n in range(5))
    assert "More than 3 contacts" in tenant.client("viewer").get("/contacts/").content.decode()


def test_the_htmx_search_returns_only_the_rows(tenant: Tenant) -> None:
    contact(tenant, email="an@example.org")
    response = tenant.client("viewer").get(
        "/contacts/?q=an", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-results"
    )
    assert "<h1>" not in response.content.decode() and "an@example.org" in response.content.decode()


def test_another_accounts_segment_or_list_filter_is_404(tenant: Tenant, outsider: Tenant) -> None:
    theirs = contact_list(outsider, "Theirs")
    seg = segment(outsider)
    client = tenant.client("viewer")
    assert client.get(f"/contacts/?segment={seg.pk}").status_code == 404
    assert client.get(f"/contacts/?list={theirs.pk}").status_code == 404


# --- contact detail and editing -----------------------------------------------------------------


def test_the_detail_shows_sources_list_entries_suppression_and_activity(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members", ["an@example.org"])
    person = contact(
        tenant, email="an@example.org", first_name="An", sources=[members, "Fair 2025"]
    )
    with tenant_atomic(tenant.account):
        Suppression.objects.create(
            email="an@example.org", email_hash=email_hash("an@example.org"), reason="bounced"
        )
        person.activities.create(kind="purchase", account_id=tenant.account.pk)
    html = tenant.client("viewer").get(f"/contacts/{person.pk}/").content.decode()
    for text in ["Fair 2025", "Members", "Subscribed", "suppression list (bounced", "Purchase"]:
        assert text in html, text


def test_a_marketer_rectifies_a_contact(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org", city="Gent")
    response = tenant.client("marketer").post(
        f"/contacts/{person.pk}/edit/",
        {"email": "AN@example.org", "city": "Brugge", "mailing_method": "post"},
    )
    assert response.status_code == 302
    with tenant_atomic(tenant.account):
        person.refresh_from_db()
    assert (person.city, person.mailing_method, person.email) == (
        "Brugge",
        "post",
        "an@example.org",
    )


def test_editing_to_an_invalid_email_shows_the_reason(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org")
    response = tenant.client("marketer").post(
        f"/contacts/{person.pk}/edit/", {"email": "an@@example", "mailing_method": "email"}
    )
    assert response.status_code == 200
    assert "exactly one @" in response.content.decode()


def test_a_marketer_creates_a_contact(tenant: Tenant) -> None:
    response = tenant.client("marketer").post(
        "/contacts/new/",
        {"email": "new@example.org", "last_name": "Nieuw", "mailing_method": "email"},
    )
    assert response.status_code == 302
    with tenant_atomic(tenant.account):
        assert Contact.objects.get().last_name == "Nieuw"


def test_viewers_cannot_open_the_edit_or_create_pages(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org")
    client = tenant.client("viewer")
    assert client.get(f"/contacts/{person.pk}/edit/").status_code == 404
    assert client.get("/contacts/new/").status_code == 404


@pytest.mark.parametrize("suffix", ["", "edit/"])
def test_another_accounts_contact_pages_are_404(
    tenant: Tenant, outsider: Tenant, suffix: str
) -> None:
    foreign = contact(outsider, email="x@example.org")
    assert tenant.client("admin").get(f"/contacts/{foreign.pk}/{suffix}").status_code == 404


# --- lists ------------------------------------------------------------------------------------


def test_the_lists_page_shows_counts_and_the_last_campaign(tenant: Tenant) -> None:
    from django.utils import timezone

    from mailings.models import Campaign, CampaignList

    members = contact_list(
        tenant,
        "Members",
        [
            "a@example.org",
            {
                "email": "b@example.org",
                "email_normalized": "b@example.org",
                "status": "unsubscribed",
            },
        ],
    )
    with tenant_atomic(tenant.account):
        for sent in ["2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"]:
            campaign = Campaign.objects.create(name="C", status="sent", sent_at=sent)
            CampaignList.objects.create(campaign=campaign, list=members)
    row = tenant.client("viewer").get("/lists/").context["lists"][0]
    assert (row.entry_count, row.subscribed_count, row.unsubscribed_count) == (2, 1, 1)
    assert (
        timezone.localtime(row.last_campaign_sent_at).year == 2025
        and row.last_campaign_sent_at.month == 6
    )


def test_the_list_detail_shows_its_entries(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members", ["a@example.org"])
    html = tenant.client("viewer").get(f"/lists/{members.pk}/").content.decode()
    assert "a@example.org" in html and "Subscribed" in html


def test_another_accounts_list_detail_is_404(tenant: Tenant, outsider: Tenant) -> None:
    theirs = contact_list(outsider, "Theirs")
    assert tenant.client("admin").get(f"/lists/{theirs.pk}/").status_code == 404


# --- segments ---------------------------------------------------------------------------------


def test_a_marketer_saves_a_segment_from_the_editor(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members")
    response = tenant.client("marketer").post(
        "/segments/new/",
        {
            "name": "Dutch members",
            "source_lists": [str(members.pk)],
            "languages": ["nl"],
            "field_0": "city",
            "op_0": "equals",
            "value_0": "Gent",
        },
    )
    assert response.status_code == 302
    with tenant_atomic(tenant.account):
        saved = Segment.objects.get()
    assert saved.definition == {
        "source_lists": [members.pk],
        "languages": ["nl"],
        "fields": [{"field": "city", "op": "equals", "value": "Gent"}],
    }


def test_the_editor_round_trips_criteria_it_does_not_show(tenant: Tenant) -> None:
    seg = segment(tenant, "Fair", {"source_names": ["Fair 2025"], "has_email": True})
    form = tenant.client("marketer").get(f"/segments/{seg.pk}/").context["form"]
    assert form.initial["advanced"] == '{"source_names": ["Fair 2025"]}'
    assert form.initial["has_email"] == "yes"


def test_the_live_count_counts_the_unsaved_form(tenant: Tenant) -> None:
    contact(tenant, email="a@example.org", language="nl")
    contact(tenant, email="b@example.org", language="fr")
    response = tenant.client("viewer").post("/segments/count/", {"languages": ["nl"]})
    assert "<strong>1</strong> contact match" in response.content.decode()


def test_the_live_count_explains_bad_json(tenant: Tenant) -> None:
    response = tenant.client("viewer").post("/segments/count/", {"advanced": "{oops"})
    assert "not valid JSON" in response.content.decode()


def test_viewers_see_but_cannot_save_or_delete_segments(tenant: Tenant) -> None:
    seg = segment(tenant, "Kept")
    client = tenant.client("viewer")
    assert client.get(f"/segments/{seg.pk}/").status_code == 200
    assert client.post(f"/segments/{seg.pk}/", {"name": "Changed"}).status_code == 404
    assert client.post(f"/segments/{seg.pk}/delete/").status_code == 404
    assert client.get("/segments/new/").status_code == 404


def test_a_marketer_deletes_a_segment(tenant: Tenant) -> None:
    seg = segment(tenant, "Old")
    assert tenant.client("marketer").post(f"/segments/{seg.pk}/delete/").status_code == 302
    with tenant_atomic(tenant.account):
        assert not Segment.objects.exists()


@pytest.mark.parametrize("path", ["/segments/{id}/", "/segments/{id}/delete/"])
def test_another_accounts_segment_pages_are_404(
    tenant: Tenant, outsider: Tenant, path: str
) -> None:
    seg = segment(outsider)
    assert tenant.client("admin").post(path.format(id=seg.pk), {"name": "x"}).status_code == 404


# --- suppressions -----------------------------------------------------------------------------


def test_a_marketer_suppresses_an_address_normalised(tenant: Tenant) -> None:
    response = tenant.client("marketer").post("/suppressions/", {"email": " Bad@Example.ORG "})
    assert response.status_code == 302
    with tenant_atomic(tenant.account):
        row = Suppression.objects.get()
    assert (row.email, row.email_hash, row.reason) == (
        "bad@example.org",
        email_hash("bad@example.org"),
        "manual",
    )


def test_an_invalid_address_is_explained_not_stored(tenant: Tenant) -> None:
    response = tenant.client("marketer").post("/suppressions/", {"email": "nope"})
    assert "exactly one @" in response.content.decode()
    with tenant_atomic(tenant.account):
        assert not Suppression.objects.exists()


def test_a_manual_entry_can_be_removed(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        row = Suppression.objects.create(
            email="a@example.org", email_hash=email_hash("a@example.org"), reason="manual"
        )
    tenant.client("marketer").post(f"/suppressions/{row.pk}/remove/")
    with tenant_atomic(tenant.account):
        assert not Suppression.objects.exists()


def test_an_unsubscribe_cannot_be_removed(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        row = Suppression.objects.create(
            email="a@example.org", email_hash=email_hash("a@example.org"), reason="unsubscribed"
        )
    response = tenant.client("marketer").post(f"/suppressions/{row.pk}/remove/", follow=True)
    assert "Only manual entries can be removed" in response.content.decode()
    with tenant_atomic(tenant.account):
        assert Suppression.objects.exists()


def test_the_suppression_page_finds_an_address_by_its_normalised_form(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        Suppression.objects.create(
            email=None, email_hash=email_hash("gone@example.org"), reason="erased"
        )
        Suppression.objects.create(
            email="x@example.org", email_hash=email_hash("x@example.org"), reason="manual"
        )
    page = tenant.client("viewer").get("/suppressions/?q=GONE@example.org")
    assert [s.reason for s in page.context["page"].items] == ["erased"]
    assert "only a hash is kept" in page.content.decode()


def test_viewers_cannot_change_the_suppression_list(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        row = Suppression.objects.create(
            email="a@example.org", email_hash=email_hash("a@example.org"), reason="manual"
        )
    client = tenant.client("viewer")
    assert client.post("/suppressions/", {"email": "b@example.org"}).status_code == 404
    assert client.post(f"/suppressions/{row.pk}/remove/").status_code == 404


def test_another_accounts_suppression_cannot_be_removed(tenant: Tenant, outsider: Tenant) -> None:
    with tenant_atomic(outsider.account):
        row = Suppression.objects.create(
            email="a@example.org", email_hash=email_hash("a@example.org"), reason="manual"
        )
    assert tenant.client("admin").post(f"/suppressions/{row.pk}/remove/").status_code == 404


# --- duplicates -------------------------------------------------------------------------------


def _pair(tenant: Tenant) -> DuplicateSuggestion:
    a = contact(
        tenant,
        email="jan@example.org",
        first_name="Jan",
        last_name="Peeters",
        postal_code="9000",
        street="Kerkstraat 4",
    )
    b = contact(
        tenant,
        email="jp@work.example",
        first_name="J.",
        last_name="Peters",
        postal_code="9000",
        street="Kerkstraat 4",
        phone="0475 123456",
    )
    with tenant_atomic(tenant.account):
        return DuplicateSuggestion.objects.create(
            contact_a=a, contact_b=b, score=0.9, reasons=["similar names"]
        )


def test_the_scan_button_runs_a_scan_and_the_page_lists_suggestions(
    tenant: Tenant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    contact(
        tenant,
        email="jan@example.org",
        first_name="Jan",
        last_name="Peeters",
        postal_code="9000",
        street="Kerkstraat 4",
    )
    contact(
        tenant,
        email="jp@work.example",
        first_name="Jan",
        last_name="Peters",
        postal_code="9000",
        street="Kerkstr. 4",
    )
    client = tenant.client("marketer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/duplicates/scan/")
    page = client.get("/duplicates/")
    assert len(page.context["page"].items) == 1
    assert "1 possible duplicates" in page.content.decode()


def test_the_progress_fragment_polls_while_running(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        scan = DuplicateScan.objects.create(
            status="running", progress=0.25, contacts_total=8, contacts_scanned=2
        )
    html = tenant.client("viewer").get(f"/duplicates/scans/{scan.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="0.250"' in html


def test_merging_from_the_page_takes_the_chosen_values(tenant: Tenant) -> None:
    suggestion = _pair(tenant)
    a, b = suggestion.contact_a, suggestion.contact_b
    response = tenant.client("marketer").post(
        f"/duplicates/{suggestion.pk}/", {"keep": str(b.pk), "field_first_name": str(a.pk)}
    )
    assert response.status_code == 302 and response["Location"] == f"/contacts/{b.pk}/"
    with tenant_atomic(tenant.account):
        kept = Contact.objects.get()
    assert (kept.pk, kept.first_name, kept.last_name) == (b.pk, "Jan", "Peters")


def test_dismissing_from_the_page_hides_the_suggestion(tenant: Tenant) -> None:
    suggestion = _pair(tenant)
    tenant.client("marketer").post(f"/duplicates/{suggestion.pk}/dismiss/")
    assert tenant.client("viewer").get("/duplicates/").context["page"].items == []


def test_viewers_see_suggestions_but_cannot_merge_scan_or_dismiss(tenant: Tenant) -> None:
    suggestion = _pair(tenant)
    client = tenant.client("viewer")
    assert client.get(f"/duplicates/{suggestion.pk}/").status_code == 200
    assert (
        client.post(
            f"/duplicates/{suggestion.pk}/", {"keep": str(suggestion.contact_a_id)}
        ).status_code
        == 404
    )
    assert client.post(f"/duplicates/{suggestion.pk}/dismiss/").status_code == 404
    assert client.post("/duplicates/scan/").status_code == 404


@pytest.mark.parametrize("path", ["/duplicates/{id}/", "/duplicates/{id}/dismiss/"])
def test_another_accounts_suggestion_pages_are_404(
    tenant: Tenant, outsider: Tenant, path: str
) -> None:
    suggestion = _pair(outsider)
    assert (
        tenant.client("admin").post(path.format(id=suggestion.pk), {"keep": "1"}).status_code == 404
    )


def test_another_accounts_scan_progress_is_404(tenant: Tenant, outsider: Tenant) -> None:
    with tenant_atomic(outsider.account):
        scan = DuplicateScan.objects.create()
    assert tenant.client("admin").get(f"/duplicates/scans/{scan.pk}/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/contacts/",
        "/lists/",
        "/segments/",
        "/suppressions/",
        "/duplicates/",
        "/contacts/?q=x&source=Fair",
    ],
)
def test_every_page_renders_for_a_viewer(tenant: Tenant, path: str) -> None:
    assert tenant.client("viewer").get(path).status_code == 200
