"""Retention no longer trusts the checkpoint table (docs/events.md, "Left, and what a review
found", item 1).

``gatehouse_purge_audit_events(organization, cutoff, batch)`` (audit migration 0024) keeps its
name, arguments and floor, and still cuts the chain at the newest checkpoint signed before
``cutoff``. But the function cannot check a checkpoint's signature, and the application role
adds checkpoint rows: a row dated long ago must not make it delete recent events. So the cut
now also stops before the first position whose event is not older than ``cutoff`` (or whose
event is gone), whatever the checkpoint says.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("audit.migrations.0024_retention_cuts_at_a_checkpoint")

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
    first_kept bigint;
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
    -- Whatever the checkpoint row says, nothing that is not older than the cutoff goes: the
    -- batch ends before the first such position (or one whose event is missing).
    SELECT s.position INTO first_kept FROM __SEALS__ s
      LEFT JOIN __EVENTS__ e ON e.id = s.event_id
     WHERE s.chain = chain_id AND s.position > from_position AND s.position <= up_to
       AND (e.id IS NULL OR e.occurred_at >= cutoff)
     ORDER BY s.position LIMIT 1;
    IF first_kept IS NOT NULL THEN
        up_to := first_kept - 1;
        IF up_to <= from_position THEN
            RETURN 0;
        END IF;
    END IF;
    SELECT array_agg(s.event_id) INTO doomed FROM __SEALS__ s
     WHERE s.chain = chain_id AND s.position > from_position AND s.position <= up_to;
    PERFORM set_config('gatehouse.evidence_change', 'purge', true);
    UPDATE __CHAINS__ ch SET pruned_through = up_to,
           pruned_hash = (SELECT s.chain_hash FROM __SEALS__ s
                           WHERE s.chain = chain_id AND s.position = up_to)
     WHERE ch.chain = chain_id;
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


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_previous._sql(apps, schema_editor, FUNCTION), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_previous._sql(apps, schema_editor, _previous.FUNCTION), params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0025_log_streams")]

    operations = [migrations.RunPython(forward, backward)]
