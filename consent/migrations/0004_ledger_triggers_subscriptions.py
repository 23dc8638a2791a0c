from django.db import migrations

# Events that carry a subscription type move that topic's state (granted = subscribed); the
# others move the purpose's state, as before. The erasure exception is narrowed to blanking the
# evidence (ip, user agent): every other column must stay as it was.
SQL = """
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('app.erasure', true) = 'on'
       AND NEW.id = OLD.id AND NEW.account_id = OLD.account_id AND NEW.contact_id = OLD.contact_id
       AND NEW.purpose_id = OLD.purpose_id AND NEW.status = OLD.status
       AND NEW.legal_basis = OLD.legal_basis AND NEW.recorded_at = OLD.recorded_at
       AND NEW.channel = OLD.channel AND NEW.source = OLD.source AND NEW.text = OLD.text
       AND NEW.doi_requested_at IS NOT DISTINCT FROM OLD.doi_requested_at
       AND NEW.doi_confirmed_at IS NOT DISTINCT FROM OLD.doi_confirmed_at
       AND NEW.recorded_by_id IS NOT DISTINCT FROM OLD.recorded_by_id
       AND NEW.subscription_type_id IS NOT DISTINCT FROM OLD.subscription_type_id
       AND NEW.ip IS NULL AND NEW.user_agent = '' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent ledger rows cannot be changed or deleted (%)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION consent_event_to_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO consent_consentstate (account_id, contact_id, purpose_id, event_id, legal_basis, status, updated_at)
    SELECT DISTINCT ON (n.account_id, n.contact_id, n.purpose_id)
           n.account_id, n.contact_id, n.purpose_id, n.id, n.legal_basis, n.status, n.recorded_at
      FROM new_events n
     WHERE n.subscription_type_id IS NULL
     ORDER BY n.account_id, n.contact_id, n.purpose_id, n.id DESC
    ON CONFLICT (account_id, contact_id, purpose_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, legal_basis = EXCLUDED.legal_basis,
           status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
     WHERE consent_consentstate.event_id < EXCLUDED.event_id;

    INSERT INTO consent_subscriptionstate (account_id, contact_id, subscription_type_id, event_id, subscribed, updated_at)
    SELECT DISTINCT ON (n.account_id, n.contact_id, n.subscription_type_id)
           n.account_id, n.contact_id, n.subscription_type_id, n.id, n.status = 'granted', n.recorded_at
      FROM new_events n
     WHERE n.subscription_type_id IS NOT NULL AND n.status <> 'pending'
     ORDER BY n.account_id, n.contact_id, n.subscription_type_id, n.id DESC
    ON CONFLICT (account_id, contact_id, subscription_type_id) DO UPDATE
       SET event_id = EXCLUDED.event_id, subscribed = EXCLUDED.subscribed,
           updated_at = EXCLUDED.updated_at
     WHERE consent_subscriptionstate.event_id < EXCLUDED.event_id;
    RETURN NULL;
END $$;
"""

REVERSE = migrations.RunSQL.noop


class Migration(migrations.Migration):
    dependencies = [("consent", "0003_subscriptions_tokens_requests")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
