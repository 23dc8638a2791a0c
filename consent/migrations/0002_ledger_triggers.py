from django.db import migrations

# The ledger is append-only: the database itself refuses UPDATE and DELETE. The one exception is
# an erasure, which runs with `app.erasure = 'on'` in its transaction and may only blank the
# evidence columns (ip, user_agent); consent.services records that scrubbing as its own event.
# Each insert also moves the current state per (contact, purpose) to the newest event.
SQL = """
CREATE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('app.erasure', true) = 'on'
       AND NEW.id = OLD.id AND NEW.account_id = OLD.account_id AND NEW.contact_id = OLD.contact_id
       AND NEW.purpose_id = OLD.purpose_id AND NEW.status = OLD.status
       AND NEW.legal_basis = OLD.legal_basis AND NEW.recorded_at = OLD.recorded_at
       AND NEW.ip IS NULL AND NEW.user_agent = '' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent ledger rows cannot be changed or deleted (%)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER consent_event_append_only BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();

CREATE FUNCTION consent_event_to_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO consent_consentstate (account_id, contact_id, purpose_id, event_id, legal_basis, status, updated_at)
    SELECT DISTINCT ON (n.contact_id, n.purpose_id)
           n.account_id, n.contact_id, n.purpose_id, n.id, n.legal_basis, n.status, n.recorded_at
      FROM new_events n
     ORDER BY n.contact_id, n.purpose_id, n.id DESC
    ON CONFLICT (account_id, contact_id, purpose_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, legal_basis = EXCLUDED.legal_basis,
           status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
     WHERE consent_consentstate.event_id < EXCLUDED.event_id;
    RETURN NULL;
END $$;

CREATE TRIGGER consent_event_to_state AFTER INSERT ON consent_consentevent
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_event_to_state();
"""

REVERSE = """
DROP TRIGGER consent_event_to_state ON consent_consentevent;
DROP FUNCTION consent_event_to_state();
DROP TRIGGER consent_event_append_only ON consent_consentevent;
DROP FUNCTION consent_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
