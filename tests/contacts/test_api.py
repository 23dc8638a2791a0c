from __future__ import annotations

import pytest

from accounts.tenancy import tenant_atomic
from contacts.models import Activity, Contact, CustomField, Suppression
from contacts.normalize import email_hash
from tests.conftest import Tenant
from tests.contacts.factories import contact, contact_list, segment

JSON = "application/json"


# --- contacts ---------------------------------------------------------------------------------


def test_a_contact_is_created_with_a_normalised_email_and_its_sources(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members")
    response = tenant.api("marketer").post(
        "/api/v1/contacts/",
        {
            "email": "  An.Peeters@Bücher.example ",
            "first_name": "An",
            "sources": [{"list": members.pk}],
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "an.peeters@xn--bcher-kva.example"
    assert body["sources"] == [{"list": members.pk, "name": "Members"}]


def test_an_invalid_email_is_a_400_naming_the_field(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/contacts/", {"email": "not-an-address"}, content_type=JSON
    )
    assert response.status_code == 400
    assert "email" in response.json()["details"]


def test_a_second_contact_with_the_same_email_is_refused(tenant: Tenant) -> None:
    contact(tenant, email="an@example.org")
    response = tenant.api("marketer").post(
        "/api/v1/contacts/", {"email": "AN@example.org"}, content_type=JSON
    )
    assert response.status_code == 400
    assert "already has this e-mail" in response.json()["details"]["email"][0]


def test_contacts_are_found_by_normalised_email(tenant: Tenant) -> None:
    wanted = contact(tenant, email="an@example.org")
    contact(tenant, email="bo@example.org")
    results = (
        tenant.api("viewer").get("/api/v1/contacts/?email=%20AN@Example.ORG").json()["results"]
    )
    assert [r["id"] for r in results] == [wanted.pk]


def test_contacts_are_filtered_by_source_list_id_or_name(tenant: Tenant) -> None:
    members = contact_list(tenant, "Members")
    by_list = contact(tenant, email="a@example.org", sources=[members])
    by_name = contact(tenant, email="b@example.org", sources=["Fair 2025"])
    contact(tenant, email="c@example.org")
    api = tenant.api("viewer")
    assert [
        r["id"] for r in api.get(f"/api/v1/contacts/?source={members.pk}").json()["results"]
    ] == [by_list.pk]
    assert [r["id"] for r in api.get("/api/v1/contacts/?source=Fair 2025").json()["results"]] == [
        by_name.pk
    ]


def test_contacts_are_filtered_by_segment(tenant: Tenant) -> None:
    dutch = contact(tenant, email="nl@example.org", language="nl")
    contact(tenant, email="fr@example.org", language="fr")
    seg = segment(tenant, definition={"languages": ["nl"]})
    results = tenant.api("viewer").get(f"/api/v1/contacts/?segment={seg.pk}").json()["results"]
    assert [r["id"] for r in results] == [dutch.pk]


def test_another_accounts_segment_as_a_filter_is_404(tenant: Tenant, outsider: Tenant) -> None:
    seg = segment(outsider)
    assert tenant.api("viewer").get(f"/api/v1/contacts/?segment={seg.pk}").status_code == 404


def test_patch_rectifies_fields_and_custom_fields(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        CustomField.objects.create(key="member_no", label="Member number", type="number")
    person = contact(tenant, email="an@example.org", city="Gent")
    response = tenant.api("marketer").patch(
        f"/api/v1/contacts/{person.pk}/",
        {"city": "Brugge", "custom_fields": {"member_no": "42"}},
        content_type=JSON,
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["city"], response.json()["custom_fields"]) == (
        "Brugge",
        {"member_no": 42},
    )


def test_an_unknown_custom_field_is_refused(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org")
    response = tenant.api("marketer").patch(
        f"/api/v1/contacts/{person.pk}/", {"custom_fields": {"shoe_size": 44}}, content_type=JSON
    )
    assert response.status_code == 400
    assert "shoe_size" in str(response.json()["details"])


def test_delete_removes_the_contact(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org")
    assert tenant.api("marketer").delete(f"/api/v1/contacts/{person.pk}/").status_code == 204
    with tenant_atomic(tenant.account):
        assert not Contact.objects.filter(pk=person.pk).exists()


def test_viewers_cannot_write_contacts(tenant: Tenant) -> None:
    person = contact(tenant, email="an@example.org")
    api = tenant.api("viewer")
    assert api.post("/api/v1/contacts/", {"first_name": "X"}, content_type=JSON).status_code == 403
    assert (
        api.patch(f"/api/v1/contacts/{person.pk}/", {"city": "X"}, content_type=JSON).status_code
        == 403
    )
    assert api.delete(f"/api/v1/contacts/{person.pk}/").status_code == 403


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_accounts_contact_is_404(tenant: Tenant, outsider: Tenant, method: str) -> None:
    foreign = contact(outsider, email="x@example.org")
    response = getattr(tenant.api("admin"), method)(
        f"/api/v1/contacts/{foreign.pk}/", {}, content_type=JSON
    )
    assert response.status_code == 404


def test_contacts_list_never_shows_another_account(tenant: Tenant, outsider: Tenant) -> None:
    contact(outsider, email="x@example.org")
    assert tenant.api("viewer").get("/api/v1/contacts/").json()["results"] == []


# --- lists ------------------------------------------------------------------------------------


def test_list_entries_are_listed_with_their_status(tenant: Tenant) -> None:
    members = contact_list(
        tenant,
        "Members",
        [{"email": "a@example.org", "email_normalized": "a@example.org", "status": "unsubscribed"}],
    )
    body = tenant.api("viewer").get(f"/api/v1/lists/{members.pk}/entries/").json()
    assert [(e["email"], e["status"]) for e in body["results"]] == [
        ("a@example.org", "unsubscribed")
    ]


def test_lists_carry_their_counts(tenant: Tenant) -> None:
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
    body = tenant.api("viewer").get(f"/api/v1/lists/{members.pk}/").json()
    assert (body["entries"], body["subscribed"], body["unsubscribed"]) == (2, 1, 1)


def test_another_accounts_list_entries_are_404(tenant: Tenant, outsider: Tenant) -> None:
    foreign = contact_list(outsider, "Theirs", ["x@example.org"])
    assert tenant.api("viewer").get(f"/api/v1/lists/{foreign.pk}/entries/").status_code == 404


# --- suppressions -----------------------------------------------------------------------------


def test_a_suppression_is_stored_normalised_with_its_hash(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/suppressions/",
        {"email": " Bad@Example.ORG", "reason": "complaint"},
        content_type=JSON,
    )
    assert response.status_code == 201
    assert (response.json()["email"], response.json()["reason"]) == ("bad@example.org", "complaint")
    with tenant_atomic(tenant.account):
        assert Suppression.objects.get().email_hash == email_hash("bad@example.org")


def test_suppressing_an_address_twice_keeps_one_row(tenant: Tenant) -> None:
    api = tenant.api("marketer")
    api.post("/api/v1/suppressions/", {"email": "bad@example.org"}, content_type=JSON)
    again = api.post("/api/v1/suppressions/", {"email": "BAD@example.org"}, content_type=JSON)
    assert again.status_code == 200
    assert len(api.get("/api/v1/suppressions/").json()["results"]) == 1


def test_an_erased_suppression_shows_a_null_email(tenant: Tenant) -> None:
    with tenant_atomic(tenant.account):
        Suppression.objects.create(
            email=None, email_hash=email_hash("gone@example.org"), reason="erased"
        )
    results = (
        tenant.api("viewer").get("/api/v1/suppressions/?email=gone@example.org").json()["results"]
    )
    assert [(r["email"], r["reason"]) for r in results] == [(None, "erased")]


def test_viewers_cannot_add_suppressions(tenant: Tenant) -> None:
    response = tenant.api("viewer").post(
        "/api/v1/suppressions/", {"email": "a@example.org"}, content_type=JSON
    )
    assert response.status_code == 403


def test_suppressions_of_another_account_are_not_listed(tenant: Tenant, outsider: Tenant) -> None:
    outsider.api("marketer").post(
        "/api/v1/suppressions/", {"email": "a@example.org"}, content_type=JSON
    )
    assert tenant.api("viewer").get("/api/v1/suppressions/").json()["results"] == []


# --- activities -------------------------------------------------------------------------------


def test_an_activity_batch_moves_last_activity_forward(tenant: Tenant) -> None:
    an = contact(tenant, email="an@example.org")
    bo = contact(tenant, email="bo@example.org")
    response = tenant.api("marketer").post(
        "/api/v1/activities/",
        {
            "activities": [
                {"contact": an.pk, "kind": "purchase", "occurred_at": "2026-03-01T10:00:00Z"},
                {"contact": an.pk, "kind": "login", "occurred_at": "2026-05-01T10:00:00Z"},
                {
                    "email": "BO@example.org",
                    "kind": "email_open",
                    "occurred_at": "2026-04-01T10:00:00Z",
                },
            ]
        },
        content_type=JSON,
    )
    assert response.json() == {"accepted": 3, "rejected": []}
    with tenant_atomic(tenant.account):
        an.refresh_from_db()
        bo.refresh_from_db()
        assert Activity.objects.count() == 3
    assert (str(an.last_activity_at), str(bo.last_activity_at)) == (
        "2026-05-01 10:00:00+00:00",
        "2026-04-01 10:00:00+00:00",
    )


def test_an_older_activity_does_not_move_last_activity_back(tenant: Tenant) -> None:
    an = contact(tenant, email="an@example.org", last_activity_at="2026-06-01T00:00:00Z")
    tenant.api("marketer").post(
        "/api/v1/activities/",
        {
            "activities": [
                {"contact": an.pk, "kind": "login", "occurred_at": "2026-01-01T00:00:00Z"}
            ]
        },
        content_type=JSON,
    )
    with tenant_atomic(tenant.account):
        an.refresh_from_db()
    assert str(an.last_activity_at) == "2026-06-01 00:00:00+00:00"


def test_activities_for_unknown_or_foreign_contacts_are_rejected_by_index(
    tenant: Tenant, outsider: Tenant
) -> None:
    foreign = contact(outsider, email="x@example.org")
    response = tenant.api("marketer").post(
        "/api/v1/activities/",
        {
            "activities": [
                {"contact": foreign.pk, "kind": "login"},
                {"email": "nobody@example.org", "kind": "login"},
            ]
        },
        content_type=JSON,
    )
    assert response.json() == {
        "accepted": 0,
        "rejected": [
            {"index": 0, "message": "No such contact."},
            {"index": 1, "message": "No such contact."},
        ],
    }


def test_an_activity_of_an_unknown_kind_is_a_400(tenant: Tenant) -> None:
    an = contact(tenant, email="an@example.org")
    response = tenant.api("marketer").post(
        "/api/v1/activities/",
        {"activities": [{"contact": an.pk, "kind": "dance"}]},
        content_type=JSON,
    )
    assert response.status_code == 400


def test_viewers_cannot_ingest_activities(tenant: Tenant) -> None:
    response = tenant.api("viewer").post(
        "/api/v1/activities/", {"activities": []}, content_type=JSON
    )
    assert response.status_code == 403


# --- segments ---------------------------------------------------------------------------------


def test_a_segment_with_a_malformed_definition_is_a_400(tenant: Tenant) -> None:
    response = tenant.api("marketer").post(
        "/api/v1/segments/", {"name": "Odd", "definition": {"languages": ["xx"]}}, content_type=JSON
    )
    assert response.status_code == 400
    assert "languages" in response.json()["details"]


def test_the_segment_count_counts_an_unsaved_definition(tenant: Tenant) -> None:
    contact(tenant, email="a@example.org", city="Gent")
    contact(tenant, email="b@example.org", city="Brugge")
    response = tenant.api("viewer").post(
        "/api/v1/segments/count/",
        {"definition": {"fields": [{"field": "city", "op": "equals", "value": "gent"}]}},
        content_type=JSON,
    )
    assert response.json() == {"count": 1, "exact": True}


def test_another_accounts_segment_is_404(tenant: Tenant, outsider: Tenant) -> None:
    seg = segment(outsider)
    assert tenant.api("viewer").get(f"/api/v1/segments/{seg.pk}/").status_code == 404
    assert tenant.api("admin").delete(f"/api/v1/segments/{seg.pk}/").status_code == 404


# --- schema -----------------------------------------------------------------------------------


def test_the_openapi_schema_lists_the_contacts_endpoints(tenant: Tenant) -> None:
    from django.test import Client

    schema = Client().get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/lists/{id}/entries/",
        "/api/v1/suppressions/",
        "/api/v1/activities/",
        "/api/v1/duplicates/",
        "/api/v1/duplicates/scan/",
        "/api/v1/duplicates/scans/{id}/",
        "/api/v1/duplicates/{id}/merge/",
        "/api/v1/duplicates/{id}/dismiss/",
    ]:
        assert path in schema["paths"], path
