"""Evidence changes only through functions the owner role holds, never through a session setting.

Until now the append-only trigger let any transaction through that ran
``SET LOCAL gatehouse.erasure = 'on'`` or ``gatehouse.audit_maintenance = 'on'``, and any
session may set such a setting: the application could switch its own guard off. Production
now runs migrations as an owner role and the application as a role that may only read and
insert evidence (audit/db_roles.py); the rewrites erasure needs go through
``SECURITY DEFINER`` functions owned by the owner, which check what they are asked to do.

This migration:

* rewrites the trigger function ``gatehouse_append_only`` (audit and consent events): a
  change passes only when the role running it owns the table *and* one of Gatehouse's
  functions marked the change (``rewrite``: the erasable columns only; ``purge``: a delete).
  The application role is never the owner, so no setting it makes lets anything through; the
  old settings mean nothing now.
* adds ``gatehouse_erasure_subject(pseudonym)``: the user whose erasure is under way with that
  pseudonym (exactly one request, status ``erasing``), or an error.
* adds ``gatehouse_erase_audit_quotes(pseudonym, changes)``: the erasure job's rewrite of
  audit events. ``changes`` is a JSON list of ``{"id": ..., <column>: <new value>}`` with
  columns among actor_text, target_text, ip, user_agent and data. Each changed text column (and
  data) must now quote the pseudonym; the IP address may only be cut to its /24 or /48 network
  and the browser only dropped, and both only on events the person caused (or, anonymous, that
  quoted them). Anything else is refused and nothing of the call is kept.

Functions run with ``search_path = pg_catalog, pg_temp`` and name tables with their schema, so
objects another role creates cannot stand in for them. Nobody but the owner may call them until
``migrate`` grants them to the application role. SQLite has no roles: nothing happens there.
"""

from django.db import migrations

TRIGGER = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    erasable text[] := TG_ARGV;
    change text := current_setting('gatehouse.evidence_change', true);
BEGIN
    -- Only the owner's functions set the marker and run as the table's owner.
    IF current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID)
    THEN
        IF TG_OP = 'DELETE' AND change = 'purge' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND change = 'rewrite'
           AND (to_jsonb(NEW) - erasable) = (to_jsonb(OLD) - erasable) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym text)
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found bigint[];
BEGIN
    IF erasure_pseudonym IS NULL OR erasure_pseudonym !~ '^erased-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'not an erasure pseudonym: %', erasure_pseudonym
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(r.user_id) INTO found FROM __REQUESTS__ r
     WHERE r.pseudonym = erasure_pseudonym AND r.kind = 'erasure' AND r.status = 'erasing';
    IF coalesce(cardinality(found), 0) <> 1 THEN
        RAISE EXCEPTION 'no erasure is under way with pseudonym %', erasure_pseudonym
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN found[1];
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erasure_subject(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes(
    erasure_pseudonym text, changes jsonb
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person bigint := __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym);
    item jsonb;
    event __EVENTS__%ROWTYPE;
    quotes boolean;
    done integer := 0;
BEGIN
    IF jsonb_typeof(changes) IS DISTINCT FROM 'array' OR jsonb_array_length(changes) > 1000 THEN
        RAISE EXCEPTION 'changes must be a JSON list of at most 1000 events'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('gatehouse.evidence_change', 'rewrite', true);
    FOR item IN SELECT value FROM jsonb_array_elements(changes) LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object' OR NOT item ? 'id'
           OR (SELECT count(*) FROM jsonb_object_keys(item)) < 2
           OR EXISTS (
               SELECT FROM jsonb_object_keys(item) k
                WHERE k NOT IN ('id', 'actor_text', 'target_text', 'ip', 'user_agent', 'data')
           ) THEN
            RAISE EXCEPTION 'erasure changes only actor_text, target_text, ip, user_agent and '
                'data of an event (refused: %)', item USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT * INTO event FROM __EVENTS__ e WHERE e.id = (item->>'id')::uuid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no audit event %', item->>'id' USING ERRCODE = 'no_data_found';
        END IF;
        quotes := false;
        IF item ? 'actor_text' OR item ? 'target_text' OR item ? 'data' THEN
            IF (item ? 'actor_text' AND (jsonb_typeof(item->'actor_text') IS DISTINCT FROM 'string'
                                         OR strpos(item->>'actor_text', erasure_pseudonym) = 0))
               OR (item ? 'target_text'
                   AND (jsonb_typeof(item->'target_text') IS DISTINCT FROM 'string'
                        OR strpos(item->>'target_text', erasure_pseudonym) = 0))
               OR (item ? 'data' AND strpos((item->'data')::text, erasure_pseudonym) = 0) THEN
                RAISE EXCEPTION 'a rewritten quote must name the pseudonym % (event %)',
                    erasure_pseudonym, event.id USING ERRCODE = 'insufficient_privilege';
            END IF;
            quotes := true;
        END IF;
        IF (item ? 'ip' OR item ? 'user_agent')
           AND NOT (event.actor_id = person OR (event.actor_id IS NULL AND quotes)) THEN
            RAISE EXCEPTION 'the address and browser are erased only where the person acted '
                '(event %)', event.id USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF item ? 'ip' AND (
            event.ip IS NULL OR jsonb_typeof(item->'ip') IS DISTINCT FROM 'string'
            OR (item->>'ip')::inet <> host(network(set_masklen(
                event.ip, CASE family(event.ip) WHEN 4 THEN 24 ELSE 48 END)))::inet
        ) THEN
            RAISE EXCEPTION 'an IP address may only be cut to its network (event %)', event.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF item ? 'user_agent' AND item->'user_agent' IS DISTINCT FROM '""'::jsonb THEN
            RAISE EXCEPTION 'a browser may only be dropped (event %)', event.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE __EVENTS__ e SET
            actor_text = CASE WHEN item ? 'actor_text' THEN item->>'actor_text'
                              ELSE e.actor_text END,
            target_text = CASE WHEN item ? 'target_text' THEN item->>'target_text'
                               ELSE e.target_text END,
            ip = CASE WHEN item ? 'ip' THEN (item->>'ip')::inet ELSE e.ip END,
            user_agent = CASE WHEN item ? 'user_agent' THEN '' ELSE e.user_agent END,
            data = CASE WHEN item ? 'data' THEN item->'data' ELSE e.data END
         WHERE e.id = event.id;
        done := done + 1;
    END LOOP;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes(text, jsonb) FROM PUBLIC;
"""

DROP = """
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erase_audit_quotes(text, jsonb);
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erasure_subject(text);
"""

# The trigger function as consent migration 0002 left it, for going back.
OLD_TRIGGER = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_append_only() RETURNS trigger AS $$
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
"""


def _sql(apps, schema_editor, template):
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])

    def table(app_label, model):
        return f"{schema}.{quote(apps.get_model(app_label, model)._meta.db_table)}"

    return (
        template.replace("__SCHEMA__", schema)
        .replace("__EVENTS__", table("audit", "AuditEvent"))
        .replace("__REQUESTS__", table("consent", "DataSubjectRequest"))
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, TRIGGER + FUNCTIONS), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, DROP + OLD_TRIGGER), params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0011_erasable_columns"),
        ("consent", "0007_consent_event_erasable_actor"),
    ]

    operations = [migrations.RunPython(forward, backward)]
