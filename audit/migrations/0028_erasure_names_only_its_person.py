"""What a review of audit migrations 0026 and 0027 found (docs/events.md, "Left, and what a
review found", item 9), closed where the database can close it:

* **An erasure's record names only the person's own things.** ``audit_erasuresubject`` takes
  rows the application role writes, and its ``targets`` decide which events count as "about
  the person": the erase function replaces any text of those with the pseudonym and leaves a
  mark the verifier accepts. Any target was taken, so an erasure could claim an organization,
  another user or anyone's membership, and wipe what their events say without a trace. Now a
  new row's targets (``gatehouse_erasure_subject_names_its_things``) are ``[kind, id]`` pairs
  of the kinds the erasure job records (``PERSONS_THINGS``, the same list as
  ``consent.erasure.identifiers.owned_target_models``), each a row of the person's at the time
  (its ``user_id`` is theirs), and ``user`` only for the person's own account.
* **The address and browser go only where the person acted.** In
  ``gatehouse_erase_audit_quotes`` the test "the person caused it, or it is anonymous and
  quoted them" compared a NULL actor with ``=``; ``NOT (NULL OR false)`` is NULL, which IF
  treats as "not refused", so any anonymous event had its address cut and browser dropped.
* **Retention cuts only what it checked.** ``gatehouse_purge_audit_events`` checked the seals
  it found in a batch, then collected the events to delete with a second query. A position
  with no seal (only where the application role grew the chain itself) was never checked, and
  a seal added there between the two queries had its event deleted, however recent. The cut
  now stops before the first position with no seal, as before one whose event is missing or
  not older than the cutoff, or (new) whose event belongs to another organization: every
  position in the batch is then taken, so both queries see the same seals.

SQLite has no roles and no triggers: retention's stop is mirrored in audit/retention.py.
"""

import importlib

from django.db import migrations

_chain = importlib.import_module("audit.migrations.0026_checkpoints_are_evidence")
_erasure = importlib.import_module("audit.migrations.0027_erasure_subject_and_sealing_lock")

# The kinds of audit target an erasure may claim, besides the person's account ("user"), and
# their tables; each has ``id`` and ``user_id``. The erasure job records exactly these
# (consent.erasure.identifiers.owned_target_models; a test in
# tests/audit/test_owner_functions_against_the_app.py checks that the two agree).
PERSONS_THINGS = {
    "emailaddress": "account_emailaddress",
    "membership": "organizations_membership",
    "socialaccount": "socialaccount_socialaccount",
    "usersession": "usersessions_usersession",
    "datasubjectrequest": "consent_datasubjectrequest",
    "webauthncredential": "django_otp_webauthn_webauthncredential",
    "totpdevice": "otp_totp_totpdevice",
    "emaildevice": "otp_email_emaildevice",
    "backupcodedevice": "accounts_backupcodedevice",
}

SUBJECT_GUARD = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_subject_names_its_things()
RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target jsonb;
    kind text;
    key text;
    things text;
    theirs boolean;
BEGIN
    IF jsonb_typeof(NEW.targets) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION '% is not a thing of the person erased (targets are [kind, id] pairs)',
            NEW.targets USING ERRCODE = 'check_violation';
    END IF;
    FOR target IN SELECT value FROM jsonb_array_elements(NEW.targets) LOOP
        kind := NULL;
        IF jsonb_typeof(target) = 'array' THEN
            IF jsonb_array_length(target) = 2 AND jsonb_typeof(target -> 0) = 'string'
               AND jsonb_typeof(target -> 1) = 'string' THEN
                kind := target ->> 0;
                key := target ->> 1;
            END IF;
        END IF;
        theirs := false;
        IF kind = 'user' THEN
            theirs := key = NEW.user_id::text;
        ELSIF kind IS NOT NULL AND key ~ '^[0-9]{1,18}$' THEN
            things := CASE kind __KINDS__ END;
            IF things IS NOT NULL THEN
                EXECUTE format(
                    'SELECT EXISTS (SELECT FROM %s t WHERE t.id = $1 AND t.user_id = $2)', things
                ) INTO theirs USING key::bigint, NEW.user_id;
            END IF;
        END IF;
        IF NOT coalesce(theirs, false) THEN
            RAISE EXCEPTION '% is not a thing of the person erased (user %)',
                target, NEW.user_id USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erasure_subject_names_its_things() FROM PUBLIC;

CREATE TRIGGER audit_erasuresubject_names_its_things BEFORE INSERT ON __SUBJECTS__
    FOR EACH ROW EXECUTE FUNCTION __SCHEMA__.gatehouse_erasure_subject_names_its_things();
"""

UNGUARD_SUBJECT = """
DROP TRIGGER IF EXISTS audit_erasuresubject_names_its_things ON __SUBJECTS__;
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erasure_subject_names_its_things();
"""

PURGE = r"""
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
    -- Whatever the checkpoint row says, the batch ends before the first position that has no
    -- seal, or whose event is missing, is another organization's, or is not older than the
    -- cutoff. Every position before it is sealed, and a sealed position takes no second seal,
    -- so the query below finds exactly the seals checked here.
    SELECT p.position INTO first_kept
      FROM generate_series(from_position + 1, up_to) AS p(position)
      LEFT JOIN __SEALS__ s ON s.chain = chain_id AND s.position = p.position
      LEFT JOIN __EVENTS__ e ON e.id = s.event_id
     WHERE s.id IS NULL OR e.id IS NULL OR e.occurred_at >= cutoff
        OR coalesce(e.organization_id, 0) <> chain_id
     ORDER BY p.position LIMIT 1;
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

# The one test in gatehouse_erase_audit_quotes that let a NULL through (audit migration 0027).
_ACTED = "AND NOT (event.actor_id = person OR (event.actor_id IS NULL AND quotes)) THEN"
_ACTED_FIXED = (
    "AND NOT (coalesce(event.actor_id = person, false)\n"
    "                   OR (event.actor_id IS NULL AND quotes)) THEN"
)


def _erase_function() -> str:
    if _erasure.ERASE.count(_ACTED) != 1:
        raise RuntimeError("audit migration 0027's erase function is not the one this fixes")
    return _erasure.ERASE.replace(_ACTED, _ACTED_FIXED)


def _sql(apps, schema_editor, template):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
    kinds = " ".join(
        f"WHEN '{kind}' THEN '{schema}.{quote(table)}'" for kind, table in PERSONS_THINGS.items()
    )
    return _chain._sql(
        apps, schema_editor, _erasure._sql(apps, schema_editor, template.replace("__KINDS__", kinds))
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            _sql(apps, schema_editor, SUBJECT_GUARD + PURGE + _erase_function()), params=None
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            _sql(apps, schema_editor, UNGUARD_SUBJECT + _chain.FUNCTION + _erasure.ERASE),
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0027_erasure_subject_and_sealing_lock")]

    operations = [migrations.RunPython(forward, backward)]
