from django.db import migrations

# The draft and staging tables grow by hundreds of thousands of rows within minutes, faster than
# autovacuum refreshes their statistics; with stale statistics the planner believes they are empty
# and picks plans that scan them once per entry. The application role may not ANALYZE tables it
# does not own, so these functions (owned by the migrating role) do it for the converter's units.
# pg_stats hides row-level-secured tables from roles the policies apply to, so nothing leaks.
SQL = """
DO $$
DECLARE col record;
BEGIN
    -- A small sample is enough to know how big these tables are and how keys spread; it keeps
    -- each ANALYZE at a few milliseconds.
    FOR col IN SELECT c.table_name, c.column_name FROM information_schema.columns c
                WHERE c.table_schema = current_schema()
                  AND c.table_name IN ('converter_draftcontact', 'converter_stagedentry',
                                       'converter_draftsource', 'converter_draftunsubscribe')
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STATISTICS 10', col.table_name, col.column_name);
    END LOOP;
END $$;
CREATE FUNCTION converter_analyze_drafts() RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public AS $$
    ANALYZE converter_draftcontact, converter_stagedentry, converter_draftsource,
            converter_draftunsubscribe;
$$;
CREATE FUNCTION converter_analyze_sources() RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public AS $$
    ANALYZE contacts_listentry, contacts_contact, contacts_source;
$$;
"""

REVERSE = """
DROP FUNCTION converter_analyze_drafts();
DROP FUNCTION converter_analyze_sources();
"""


class Migration(migrations.Migration):
    dependencies = [("converter", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
