from __future__ import annotations

from typing import Any

from django.test import Client

from accounts.models import Membership
from tests.conftest import Mailbox, Tenant, link_in


def test_only_admins_manage_users(tenant: Tenant) -> None:
    assert tenant.client("admin").get("/settings/members/").status_code == 200
    assert tenant.client("marketer").get("/settings/members/").status_code == 404
    assert tenant.client("viewer").get("/settings/members/").status_code == 404


def test_an_admin_invites_a_new_user_who_chooses_a_password(
    tenant: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant.client("admin").post(
            "/settings/members/", {"email": "New.Person@Acme.test", "role": "viewer"}
        )
    assert response.status_code == 302
    with tenant:
        assert Membership.objects.get(user__email="new.person@acme.test").role == "viewer"
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "new.person@acme.test"
    assert "Acme" in message["Subject"]
    path = link_in(r"https?://[^/]+(/password-reset/\S+/)", message.get_content())
    client = Client()
    form = client.get(path, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "invited and happy 2026", "new_password2": "invited and happy 2026"},
    )
    assert (
        client.post(
            "/login/", {"username": "new.person@acme.test", "password": "invited and happy 2026"}
        ).status_code
        == 302
    )


def test_adding_an_existing_member_twice_says_so(tenant: Tenant) -> None:
    response = tenant.client("admin").post(
        "/settings/members/", {"email": "viewer@acme.test", "role": "admin"}
    )
    assert "already a member" in response.content.decode()
    with tenant:
        assert Membership.objects.get(user=tenant.viewer).role == "viewer"


def test_an_admin_changes_a_role_and_removes_a_member(tenant: Tenant) -> None:
    client = tenant.client("admin")
    with tenant:
        viewer = Membership.objects.get(user=tenant.viewer)
        marketer = Membership.objects.get(user=tenant.marketer)
    client.post(f"/settings/members/{viewer.pk}/role/", {"role": "marketer"})
    client.post(f"/settings/members/{marketer.pk}/remove/")
    with tenant:
        assert Membership.objects.get(pk=viewer.pk).role == "marketer"
        assert not Membership.objects.filter(pk=marketer.pk).exists()
    assert tenant.client("marketer").get("/").status_code == 404


def test_the_last_admin_cannot_be_demoted_or_removed(tenant: Tenant) -> None:
    client = tenant.client("admin")
    with tenant:
        admin = Membership.objects.get(user=tenant.admin)
    page = client.post(
        f"/settings/members/{admin.pk}/role/", {"role": "viewer"}, follow=True
    ).content.decode()
    assert "at least one admin" in page
    client.post(f"/settings/members/{admin.pk}/remove/")
    with tenant:
        assert Membership.objects.get(pk=admin.pk).role == "admin"


def test_a_marketer_cannot_change_roles(tenant: Tenant) -> None:
    with tenant:
        viewer = Membership.objects.get(user=tenant.viewer)
    assert (
        tenant.client("marketer")
        .post(f"/settings/members/{viewer.pk}/role/", {"role": "admin"})
        .status_code
        == 404
    )
    with tenant:
        assert Membership.objects.get(pk=viewer.pk).role == "viewer"
