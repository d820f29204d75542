"""Retention cuts the hash chain only at a signed checkpoint (docs/events.md 4.11, T27).

``gatehouse_purge_audit_events(organization, cutoff, batch)`` keeps its name and arguments
(audit migration 0018) but no longer deletes by time alone: it finds the organization's newest
checkpoint signed before ``cutoff`` and deletes, from the front of the chain, up to ``batch``
positions no further than that checkpoint's size: the events, their seals, salts and erasure
marks. It records how far it went in the chain (``pruned_through``, and ``pruned_hash``, the
chain hash there), so that verification starts from a hash that checkpoint vouched for. A
chain with no such checkpoint keeps everything. It returns how many positions it removed. The
28-day floor stays.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_purge_audit_events(
    organization bigint, cutoff timestamptz, batch integer
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    chain_id bigint := coalesce(organization, 0);
    cut_size bigint;
    from_position bigint;
    up_to bigint;
    doomed uuid[];
BEGIN
    IF cutoff IS NULL OR cutoff > now() - interval '28 days' THEN
        RAISE EXCEPTION 'audit events are kept at least 28 days (cutoff %)', cutoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
        RAISE EXCEPTION 'a batch is 1 to 10000 events (got %)', batch
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT max(c.size) INTO cut_size FROM __CHECKPOINTS__ c
     WHERE c.chain = chain_id AND c.signed_at < cutoff;
    SELECT ch.pruned_through INTO from_position FROM __CHAINS__ ch
     WHERE ch.chain = chain_id FOR UPDATE;
    IF cut_size IS NULL OR from_position IS NULL OR from_position >= cut_size THEN
        RETURN 0;
    END IF;
    up_to := least(cut_size, from_position + batch);
    SELECT array_agg(s.event_id) INTO doomed FROM __SEALS__ s
     WHERE s.chain = chain_id AND s.position > from_position AND s.position <= up_to;
    UPDATE __CHAINS__ ch SET pruned_through = up_to,
           pruned_hash = (SELECT s.chain_hash FROM __SEALS__ s
                           WHERE s.chain = chain_id AND s.position = up_to)
     WHERE ch.chain = chain_id;
    PERFORM set_config('gatehouse.evidence_change', 'purge', true);
    DELETE FROM __EVENTS__ e WHERE e.id = ANY(doomed);
    DELETE FROM __SALTS__ s WHERE s.event_id = ANY(doomed);
    DELETE FROM __MARKS__ m WHERE m.event_id = ANY(doomed);
    DELETE FROM __SEALS__ s
     WHERE s.chain = chain_id AND s.position > from_position AND s.position <= up_to;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN (up_to - from_position)::integer;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_purge_audit_events(bigint, timestamptz, integer)
    FROM PUBLIC;
"""


def _sql(apps, schema_editor, template):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])

    def table(model):
        return f"{schema}.{quote(apps.get_model('audit', model)._meta.db_table)}"

    replacements = {
        "__SCHEMA__": schema,
        "__EVENTS__": table("AuditEvent"),
        "__SEALS__": table("AuditSeal"),
        "__SALTS__": table("AuditSalt"),
        "__MARKS__": table("AuditErasureMark"),
        "__CHAINS__": table("AuditChain"),
        "__CHECKPOINTS__": table("AuditCheckpoint"),
    }
    for name, value in replacements.items():
        template = template.replace(name, value)
    return template


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, FUNCTION), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        import importlib

        previous = importlib.import_module("audit.migrations.0018_purge_audit_events")
        schema_editor.execute(previous._sql(apps, schema_editor, previous.FUNCTION), params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0023_erasure_keeps_the_chain")]

    operations = [migrations.RunPython(forward, backward)]
