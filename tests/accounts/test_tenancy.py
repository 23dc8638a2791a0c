from __future__ import annotations

import pytest
from django.db import connection, connections, transaction

from accounts.models import Membership
from accounts.tenancy import NoAccountInContext, tenant_atomic
from contacts.models import ContactList
from tests.conftest import Tenant, committed, make_tenant


def test_a_tenant_query_without_an_account_raises(tenant: Tenant) -> None:
    with pytest.raises(NoAccountInContext):
        list(ContactList.objects.all())


def test_creating_without_an_account_raises(tenant: Tenant) -> None:
    with pytest.raises(NoAccountInContext):
        ContactList.objects.create(name="Orphans")


def test_the_unscoped_escape_still_meets_row_level_security(
    tenant: Tenant, outsider: Tenant
) -> None:
    with outsider:
        ContactList.objects.create(name="Outsider list")
    with tenant:
        ContactList.objects.create(name="Own list")
        assert [cl.name for cl in ContactList.objects.unscoped()] == ["Own list"]


def test_raw_sql_as_the_app_role_sees_no_row_of_another_account(
    tenant: Tenant, outsider: Tenant
) -> None:
    with outsider:
        ContactList.objects.create(name="Outsider list")
    with tenant, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM contacts_contactlist")
        assert cursor.fetchall() == []
        cursor.execute("SELECT count(*) FROM accounts_apikey")
        assert cursor.fetchone() == (0,)


def test_raw_sql_without_an_account_sees_nothing(tenant: Tenant) -> None:
    with tenant:
        ContactList.objects.create(name="Own list")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contactlist")
        assert cursor.fetchone() == (0,)


def test_writing_a_row_for_another_account_is_refused_by_the_database(
    tenant: Tenant, outsider: Tenant
) -> None:
    with (
        tenant,
        pytest.raises(Exception, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO contacts_contactlist (account_id, name, description, created_at) VALUES (%s, 'x', '', now())",
            [outsider.account.pk],
        )


@pytest.mark.django_db(databases=["default", "owner"])
def test_the_app_role_is_not_superuser_owner_or_bypassrls(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        user, superuser, bypassrls, createrole, createdb = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        owned = cursor.fetchone()[0]
    assert user == connections["default"].settings_dict["USER"]
    assert user != connections["owner"].settings_dict["USER"]
    assert (superuser, bypassrls, createrole, createdb, owned) == (False, False, False, False, 0)


def test_every_tenant_table_has_forced_row_level_security(db: None) -> None:
    from accounts.dbsecurity import tenant_tables

    tables = [table for table, _ in tenant_tables()]
    assert "contacts_contact" in tables and "accounts_membership" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relrowsecurity AND relforcerowsecurity",
            [tables],
        )
        secured = {row[0] for row in cursor.fetchall()}
    assert secured == set(tables)


def test_every_tenant_table_has_an_index_led_by_account_id(db: None) -> None:
    """Row-level security filters every query on account_id; without such an index each query of
    one account would scan every account's rows."""
    from accounts.dbsecurity import tenant_tables

    tables = [table for table, _ in tenant_tables()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]"
            " WHERE c.relname = ANY(%s) AND a.attname = 'account_id'",
            [tables],
        )
        indexed = {row[0] for row in cursor.fetchall()}
    assert set(tables) - indexed == set()


def test_a_user_sees_their_own_memberships_in_other_accounts_only(
    tenant: Tenant, outsider: Tenant
) -> None:
    from accounts.services import membership_add

    with outsider:
        membership_add(account=outsider.account, email=tenant.marketer.email, role="viewer")
    from accounts.selectors import memberships_of_user
    from accounts.tenancy import set_db_context

    set_db_context(account_id=None, user_id=tenant.marketer.pk)
    assert {m.account.slug for m in memberships_of_user(user_id=tenant.marketer.pk)} == {
        "acme",
        "other",
    }
    # Someone else's memberships stay invisible, even to a direct query.
    assert not Membership.objects.unscoped().filter(user=outsider.admin).exists()


@committed
def test_two_requests_on_one_reused_connection_never_see_each_others_rows() -> None:
    first, second = make_tenant("first"), make_tenant("second")
    with tenant_atomic(first.account):
        ContactList.objects.create(name="First list")
    with tenant_atomic(second.account):
        ContactList.objects.create(name="Second list")
    a, b = first.client("admin"), second.client("admin")
    backend_pids = set()
    for client, own, other in [
        (a, "First list", "Second list"),
        (b, "Second list", "First list"),
    ] * 2:
        page = client.get("/lists/").content.decode()
        assert own in page and other not in page
        backend_pids.add(connection.connection.info.backend_pid if connection.connection else None)
        # Between requests the connection is idle and carries no account.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('app.account_id', true), count(*) FROM contacts_contactlist"
            )
            assert cursor.fetchone() in [("", 0), (None, 0)]
    assert len(backend_pids) == 1  # the same PostgreSQL session served all four requests


def test_another_accounts_member_page_answers_404(tenant: Tenant, outsider: Tenant) -> None:
    with outsider:
        other_membership = Membership.objects.get(user=outsider.marketer)
    client = tenant.client("admin")
    assert (
        client.post(
            f"/settings/members/{other_membership.pk}/role/", {"role": "viewer"}
        ).status_code
        == 404
    )
    assert client.post(f"/settings/members/{other_membership.pk}/remove/").status_code == 404
    with outsider:
        assert Membership.objects.get(pk=other_membership.pk).role == "marketer"


def test_switching_to_an_account_one_is_not_a_member_of_answers_404(
    tenant: Tenant, outsider: Tenant
) -> None:
    response = tenant.client("admin").post("/account/switch/", {"account_id": outsider.account.pk})
    assert response.status_code == 404


def test_an_api_key_reaches_only_its_own_accounts_objects(tenant: Tenant, outsider: Tenant) -> None:
    with outsider:
        other_list = ContactList.objects.create(name="Outsider list")
    api = tenant.api("admin")
    assert api.get(f"/api/v1/lists/{other_list.pk}/").status_code == 404
    assert api.delete(f"/api/v1/lists/{other_list.pk}/").status_code == 404
    assert api.get("/api/v1/lists/").json()["results"] == []
    with outsider:
        assert ContactList.objects.filter(pk=other_list.pk).exists()
