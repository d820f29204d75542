"""The audit log's trigger learns the one change erasure may make.

Until now the audit table refused every UPDATE and DELETE (unless the retention GUC
``gatehouse.audit_maintenance`` was on). Erasing a person (consent.erasure) must replace their
address and name where the log quotes them, so the trigger now uses the same function as consent
events, ``gatehouse_append_only`` (consent migration 0002), with the columns the erasure job may
rewrite: inside a transaction that ran ``SET LOCAL gatehouse.erasure = 'on'``, an UPDATE may change
``actor_text``, ``target_text``, ``ip``, ``user_agent`` and ``data``, and nothing else. What happened,
when, to which row and in which organization stays as it was written. DELETE is still refused
outside maintenance.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION
    gatehouse_append_only('actor_text', 'target_text', 'ip', 'user_agent', 'data');
DROP FUNCTION IF EXISTS audit_event_append_only();
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('gatehouse.audit_maintenance', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0010_consent_catalogue_changed"),
        ("consent", "0002_database_guards"),
    ]

    operations = [migrations.RunPython(forward, backward)]
