"""On PostgreSQL, the database itself keeps consent evidence as it was written.

- Consent events are append-only. The one exception is erasure of a person (issue 6): inside a
  transaction that ran ``SET LOCAL gatehouse.erasure = 'on'``, an UPDATE may clear the columns
  named in the trigger's arguments (IP address, user agent) and nothing else. DELETE is refused
  unless ``gatehouse.audit_maintenance`` is on (the retention job for erased people's evidence).
- A published policy version never changes and is never deleted, with no escape; publishing
  is checked too: the stored hash must be the SHA-256 of the stored text.

The ORM refuses the same (consent.models); this stops raw SQL and other clients. SQLite, the
embedded default, has only the ORM guards.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION gatehouse_append_only() RETURNS trigger AS $$
DECLARE
    erasable text[] := TG_ARGV;
BEGIN
    IF current_setting('gatehouse.audit_maintenance', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('gatehouse.erasure', true) = 'on'
       AND (to_jsonb(NEW) - erasable) = (to_jsonb(OLD) - erasable) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only('ip', 'user_agent');

CREATE OR REPLACE FUNCTION consent_version_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.published_at IS NOT NULL THEN
        RAISE EXCEPTION 'published policy versions are immutable (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.published_at IS NOT NULL
       AND NEW.content_sha256 <> encode(sha256(convert_to(NEW.content, 'UTF8')), 'hex') THEN
        RAISE EXCEPTION 'content_sha256 does not match the published text'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS consent_version_guard ON consent_policyversion;
CREATE TRIGGER consent_version_guard
    BEFORE INSERT OR UPDATE OR DELETE ON consent_policyversion
    FOR EACH ROW EXECUTE FUNCTION consent_version_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
DROP TRIGGER IF EXISTS consent_version_guard ON consent_policyversion;
DROP FUNCTION IF EXISTS consent_version_guard();
DROP FUNCTION IF EXISTS gatehouse_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
