"""Retention of the audit log: ``gatehouse_purge_audit_events(organization, cutoff, batch)``.

The application role may not delete audit events (audit/db_roles.py); retention goes through
this ``SECURITY DEFINER`` function of the owner role, which deletes at most ``batch`` (1 to
10,000) events of one organization (NULL: the Gatehouse-wide events, which have none) that
happened before ``cutoff``, oldest first, and returns how many. It refuses a cutoff less than
28 days ago, whatever the caller asks: a stolen application connection cannot wipe recent
history through it. (Gatehouse's own minimum is 30 days, audit/retention.py; the two days
between absorb clock differences between a worker and the database.) Named with its schema and a fixed search_path, like migration 0012's.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_purge_audit_events(
    organization bigint, cutoff timestamptz, batch integer
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doomed uuid[];
    done integer;
BEGIN
    IF cutoff IS NULL OR cutoff > now() - interval '28 days' THEN
        RAISE EXCEPTION 'audit events are kept at least 28 days (cutoff %)', cutoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
        RAISE EXCEPTION 'a batch is 1 to 10000 events (got %)', batch
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Two queries rather than one with an OR, so that each walks audit_org_when in order.
    IF organization IS NULL THEN
        SELECT array_agg(id) INTO doomed FROM (
            SELECT e.id FROM __EVENTS__ e
             WHERE e.organization_id IS NULL AND e.occurred_at < cutoff
             ORDER BY e.occurred_at, e.id LIMIT batch
        ) picked;
    ELSE
        SELECT array_agg(id) INTO doomed FROM (
            SELECT e.id FROM __EVENTS__ e
             WHERE e.organization_id = organization AND e.occurred_at < cutoff
             ORDER BY e.occurred_at, e.id LIMIT batch
        ) picked;
    END IF;
    IF doomed IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM set_config('gatehouse.evidence_change', 'purge', true);
    DELETE FROM __EVENTS__ e WHERE e.id = ANY(doomed);
    GET DIAGNOSTICS done = ROW_COUNT;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_purge_audit_events(bigint, timestamptz, integer)
    FROM PUBLIC;
"""

DROP = """
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_purge_audit_events(bigint, timestamptz, integer);
"""


def _sql(apps, schema_editor, template):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
    events = f"{schema}.{quote(apps.get_model('audit', 'AuditEvent')._meta.db_table)}"
    return template.replace("__SCHEMA__", schema).replace("__EVENTS__", events)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, FUNCTION), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, DROP), params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0017_audit_log_indexes")]

    operations = [migrations.RunPython(forward, backward)]
