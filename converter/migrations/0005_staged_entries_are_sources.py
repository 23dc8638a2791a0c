from django.db import migrations, models

# The draft's sources and unsubscriptions were copies of what the staged entries already say;
# the merge no longer writes them (a million rows for a million entries).
ANALYZE_DRAFTS = """
CREATE OR REPLACE FUNCTION converter_analyze_drafts() RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public AS $$
    ANALYZE converter_draftcontact, converter_stagedentry{};
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_account_indexes"),
        ("converter", "0004_account_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            ANALYZE_DRAFTS.format(""),
            ANALYZE_DRAFTS.format(", converter_draftsource, converter_draftunsubscribe"),
        ),
        migrations.DeleteModel(name="DraftSource"),
        migrations.DeleteModel(name="DraftUnsubscribe"),
        migrations.AddIndex(
            model_name="stagedentry",
            index=models.Index(
                condition=models.Q(("kind", "conflict")),
                fields=["account", "step", "draft_contact_id"],
                name="stagedentry_conflict_draft",
            ),
        ),
    ]
