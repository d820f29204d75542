"""The only ways consent evidence changes: three functions held by the owner role.

The application role may read and insert consent events but not update or delete them
(audit/db_roles.py), and the trigger ``gatehouse_append_only`` no longer listens to session
settings (audit migration 0012). What erasure and retention need instead, each a
``SECURITY DEFINER`` function that checks its arguments:

* ``gatehouse_erase_consent_actor(pseudonym, changes)``: consent the person recorded for others
  (an operator's staff) names them in ``actor_text``; ``changes`` is a JSON list of
  ``{"id": ..., "actor_text": ...}``, for events they recorded, and each new text must quote the
  pseudonym of their erasure, which must be under way.
* ``gatehouse_erase_consent_origin(pseudonym)``: clears the IP address and browser of the
  person's own consent events, kept as evidence; which rows is decided here, from the erasure.
* ``gatehouse_purge_consent_evidence(cutoff, batch)``: deletes up to ``batch`` (1 to 10,000)
  consent events of people erased before ``cutoff`` (not in the future), with any current-state
  rows still pointing at them. Returns how many events went.
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_consent_actor(
    erasure_pseudonym text, changes jsonb
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person bigint := __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym);
    item jsonb;
    done integer := 0;
BEGIN
    IF jsonb_typeof(changes) IS DISTINCT FROM 'array' OR jsonb_array_length(changes) > 1000 THEN
        RAISE EXCEPTION 'changes must be a JSON list of at most 1000 events'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('gatehouse.evidence_change', 'rewrite', true);
    FOR item IN SELECT value FROM jsonb_array_elements(changes) LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object'
           OR (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(item) k)
              IS DISTINCT FROM ARRAY['actor_text', 'id']
           OR jsonb_typeof(item->'actor_text') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'erasure changes only actor_text of a consent event (refused: %)',
                item USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF strpos(item->>'actor_text', erasure_pseudonym) = 0 THEN
            RAISE EXCEPTION 'a rewritten quote must name the pseudonym % (consent event %)',
                erasure_pseudonym, item->>'id' USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE __EVENTS__ e SET actor_text = item->>'actor_text'
         WHERE e.id = (item->>'id')::bigint AND e.actor_id = person;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'consent event % was not recorded by the person erased', item->>'id'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        done := done + 1;
    END LOOP;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erase_consent_actor(text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_consent_origin(erasure_pseudonym text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person bigint := __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym);
    done integer;
BEGIN
    PERFORM set_config('gatehouse.evidence_change', 'rewrite', true);
    UPDATE __EVENTS__ e SET ip = NULL, user_agent = '' WHERE e.user_id = person;
    GET DIAGNOSTICS done = ROW_COUNT;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erase_consent_origin(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_purge_consent_evidence(
    cutoff timestamptz, batch integer
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doomed bigint[];
    done integer;
BEGIN
    IF cutoff IS NULL OR cutoff > now() THEN
        RAISE EXCEPTION 'the cutoff must be a time in the past (got %)', cutoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
        RAISE EXCEPTION 'a batch is 1 to 10000 events (got %)', batch
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(id) INTO doomed FROM (
        SELECT e.id FROM __EVENTS__ e JOIN __USERS__ u ON u.id = e.user_id
         WHERE u.erased_at IS NOT NULL AND u.erased_at < cutoff
         ORDER BY e.id LIMIT batch
    ) picked;
    IF doomed IS NULL THEN
        RETURN 0;
    END IF;
    -- Erasure deleted their current-state rows already; any left would point at the events.
    DELETE FROM __STATES__ s WHERE s.event_id = ANY(doomed);
    PERFORM set_config('gatehouse.evidence_change', 'purge', true);
    DELETE FROM __EVENTS__ e WHERE e.id = ANY(doomed);
    GET DIAGNOSTICS done = ROW_COUNT;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_purge_consent_evidence(timestamptz, integer)
    FROM PUBLIC;
"""

DROP = """
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_purge_consent_evidence(timestamptz, integer);
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erase_consent_origin(text);
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erase_consent_actor(text, jsonb);
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
        .replace("__EVENTS__", table("consent", "ConsentEvent"))
        .replace("__STATES__", table("consent", "ConsentState"))
        .replace("__USERS__", table("accounts", "User"))
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, FUNCTIONS), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, DROP), params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0007_consent_event_erasable_actor"),
        ("audit", "0012_evidence_functions"),
    ]

    operations = [migrations.RunPython(forward, backward)]
