"""Erasure keeps the hash chain verifiable (docs/events.md 4.9).

``gatehouse_erase_audit_quotes`` (audit migration 0012) is replaced by the same function with
one more step: for each event it rewrites, it deletes the event's salt (``audit_auditsalt``)
and leaves an erasure mark (``audit_auditerasuremark``) naming the pseudonym. Without the salt
the stored commitments can no longer be tested against guesses of the person's address; with
the mark the verifier knows the salt went through erasure and accepts the stored commitments.
Same name and arguments, so the application role gains nothing: it still cannot delete a salt
or write a mark any other way. Events not yet sealed have no salt; they are sealed later with
their rewritten values.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("audit.migrations.0012_evidence_functions")

ANCHOR = "        done := done + 1;\n    END LOOP;"
SALT_STEP = """        IF EXISTS (SELECT FROM __SALTS__ s WHERE s.event_id = event.id) THEN
            PERFORM set_config('gatehouse.evidence_change', 'purge', true);
            DELETE FROM __SALTS__ s WHERE s.event_id = event.id;
            PERFORM set_config('gatehouse.evidence_change', 'rewrite', true);
            INSERT INTO __MARKS__ (event_id, pseudonym, at)
                 VALUES (event.id, erasure_pseudonym, now()) ON CONFLICT DO NOTHING;
        END IF;
"""


def _erase_function(with_salts: bool) -> str:
    text = _previous.FUNCTIONS
    start = text.index("CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes(")
    text = text[start:]
    if with_salts:
        assert ANCHOR in text, "audit migration 0012's erase function changed"
        text = text.replace(ANCHOR, SALT_STEP + ANCHOR)
    return text


def _sql(apps, schema_editor, template):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])

    def table(model):
        return f"{schema}.{quote(apps.get_model('audit', model)._meta.db_table)}"

    return (
        _previous._sql(apps, schema_editor, template)
        .replace("__SALTS__", table("AuditSalt"))
        .replace("__MARKS__", table("AuditErasureMark"))
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, _erase_function(True)), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, _erase_function(False)), params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0022_chain"), ("consent", "0008_evidence_functions")]

    operations = [migrations.RunPython(forward, backward)]
