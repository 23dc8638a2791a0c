"""The application role and row-level security, applied by `migrate` as the owner role.

Every concrete subclass of `TenantModel` gets ENABLE + FORCE ROW LEVEL SECURITY and a policy on
`app.account_id`, so a new tenant table cannot be forgotten. Idempotent: runs after every migrate.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

from accounts.models import TenantModel

ACCOUNT_MATCH = "account_id = NULLIF(current_setting('app.account_id', true), '')::bigint"


def tenant_tables() -> list[tuple[str, str]]:
    """(table, extra policy condition) of every tenant model."""
    return sorted(
        (model._meta.db_table, model.rls_extra_condition)
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    )


def secure_database(connection: BaseDatabaseWrapper) -> None:
    role = settings.APP_DB_USER
    password = settings.APP_DB_PASSWORD
    with connection.cursor() as cursor:
        quoted_role = connection.ops.quote_name(role)
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(
                f"CREATE ROLE {quoted_role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            )
        if password:
            cursor.execute(f"ALTER ROLE {quoted_role} PASSWORD %s", [password])
        cursor.execute("SELECT current_database()")
        database = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {quoted_role}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted_role}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted_role}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted_role}")
        cursor.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {quoted_role}")
        # The app never changes the schema or its own migrations' record.
        cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {quoted_role}")

        for table, extra in tenant_tables():
            condition = ACCOUNT_MATCH if not extra else f"({ACCOUNT_MATCH}) OR ({extra})"
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {quoted}")
            # Reads may use the extra condition; writes must always match the account.
            cursor.execute(
                f"CREATE POLICY tenant_isolation ON {quoted} USING ({condition}) WITH CHECK ({ACCOUNT_MATCH})"
            )
