"""Retention and verification no longer trust what the application role can write
(docs/events.md, "Left, and what a review found", item 1).

``gatehouse_purge_audit_events(organization, cutoff, batch)`` (audit migration 0024) keeps its
name, arguments and floor, and still cuts the chain at the newest checkpoint signed before
``cutoff``. But the function cannot check a checkpoint's signature, and the application role
adds checkpoint rows: a row dated long ago must not make it delete recent events. So the cut
now also stops before the first position whose event is not older than ``cutoff`` (or whose
event is gone), whatever the checkpoint says. A cut that stops there lies between two
checkpoints; the verifier (audit/chain/verify.py) checks it against the next one.

The chain's own tables, on PostgreSQL:

* ``audit_auditcheckpoint`` becomes evidence like seals (audit/db_roles.py, EVIDENCE_TABLES):
  the application may read and add checkpoints, never change or delete them (privileges, and
  ``gatehouse_append_only`` with no erasable column). A new row must state a position the
  chain has sealed and the chain hash there (``gatehouse_checkpoint_states_the_chain``), so
  nobody can take a size before it is signed or store a head the chain never had.
* ``audit_auditchain`` is the sealer's working state, updated with every batch: the
  application keeps SELECT, INSERT and UPDATE, loses DELETE, and ``gatehouse_chain_guard``
  lets through only what the sealer does (a new chain is empty; a chain grows, its head moving
  only as it does). Where retention cut it (``pruned_through``, ``pruned_hash``) changes only
  in the purge function, run as the owner, and only forward.
* ``audit_checkpointkey``: keys are added (rotation) and retired, nothing else; the guard
  (``gatehouse_checkpoint_key_guard``) refuses any other change (the encrypted private half
  may still be re-encrypted) and any delete, so a published key never changes or disappears.

What stays trusted: a checkpoint row's date and signature (the database cannot check an
Ed25519 signature; the verifier does), and any key row added (rotation must be able to add
one). SQLite has neither roles nor triggers: only the purge's stop applies there.
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


GUARDS = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_checkpoint_states_the_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM __SEALS__ s WHERE s.chain = NEW.chain AND s.position = NEW.size
                                        AND s.chain_hash = NEW.head_hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a checkpoint states a sealed position of its chain and the hash there '
        '(chain %, size %: no such seal)', NEW.chain, NEW.size
        USING ERRCODE = 'check_violation';
END
$$;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_chain_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Only the purge function sets the marker and runs as the table's owner.
    retention boolean := current_setting('gatehouse.evidence_change', true) = 'purge'
        AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c
                             WHERE c.oid = TG_RELID);
BEGIN
    IF TG_OP = 'INSERT' AND NEW.size = 0 AND NEW.pruned_through = 0
       AND NEW.pruned_hash IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.chain = OLD.chain
       AND (NEW.size > OLD.size OR (NEW.size = OLD.size AND NEW.head_hash = OLD.head_hash))
       AND ((NEW.pruned_through = OLD.pruned_through
             AND NEW.pruned_hash IS NOT DISTINCT FROM OLD.pruned_hash)
            OR (retention AND NEW.size = OLD.size
                AND NEW.pruned_through > OLD.pruned_through
                AND NEW.pruned_through <= NEW.size)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% refused on %: a chain only grows, and only retention moves its cut',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_checkpoint_key_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    may_change text[] := ARRAY['status', 'retired_at', 'private_key_encrypted'];
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - may_change) = (to_jsonb(OLD) - may_change)
       AND ((NEW.status = OLD.status AND NEW.retired_at IS NOT DISTINCT FROM OLD.retired_at)
            OR (OLD.status = 'active' AND NEW.status = 'retired'
                AND OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% refused on %: a checkpoint key is only ever retired',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_auditcheckpoint_append_only BEFORE UPDATE OR DELETE
    ON __CHECKPOINTS__ FOR EACH ROW EXECUTE FUNCTION __SCHEMA__.gatehouse_append_only();
CREATE TRIGGER audit_auditcheckpoint_states_the_chain BEFORE INSERT
    ON __CHECKPOINTS__ FOR EACH ROW
    EXECUTE FUNCTION __SCHEMA__.gatehouse_checkpoint_states_the_chain();
CREATE TRIGGER audit_auditchain_guard BEFORE INSERT OR UPDATE OR DELETE
    ON __CHAINS__ FOR EACH ROW EXECUTE FUNCTION __SCHEMA__.gatehouse_chain_guard();
CREATE TRIGGER audit_checkpointkey_guard BEFORE UPDATE OR DELETE
    ON __KEYS__ FOR EACH ROW EXECUTE FUNCTION __SCHEMA__.gatehouse_checkpoint_key_guard();
"""

UNGUARD = """
DROP TRIGGER IF EXISTS audit_auditcheckpoint_append_only ON __CHECKPOINTS__;
DROP TRIGGER IF EXISTS audit_auditcheckpoint_states_the_chain ON __CHECKPOINTS__;
DROP TRIGGER IF EXISTS audit_auditchain_guard ON __CHAINS__;
DROP TRIGGER IF EXISTS audit_checkpointkey_guard ON __KEYS__;
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_checkpoint_states_the_chain();
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_chain_guard();
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_checkpoint_key_guard();
"""


def _sql(apps, schema_editor, template):
    keys = apps.get_model("audit", "CheckpointKey")._meta.db_table
    with_keys = template.replace("__KEYS__", f"__SCHEMA__.{schema_editor.quote_name(keys)}")
    return _previous._sql(apps, schema_editor, with_keys)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, FUNCTION + GUARDS), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            _sql(apps, schema_editor, UNGUARD + _previous.FUNCTION), params=None
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0025_log_streams")]

    operations = [migrations.RunPython(forward, backward)]
