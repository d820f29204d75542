"""The two findings of the review of audit migrations 0026 and 0027 that 0028 left open
(docs/events.md, "Left, and what a review found", item 9):

* **Every purge is in the log.** ``gatehouse_purge_audit_events`` takes any cutoff at least 28
  days old, and the application role may call it: whatever the organization chose, it could
  cut the chain at a genuine checkpoint, and nothing showed it, because retention's
  ``audit.purged`` event was written by the Python side (audit/retention.py), which such a
  call skips. Now the function writes that event itself, as the owner, in the transaction that
  deletes: for each call that removed anything, one ``audit.purged`` event in the chain it cut,
  with ``actor_text`` "system" and ``data`` ``{"before": <cutoff, ISO 8601 in UTC>, "deleted":
  <positions removed>}``, as audit/retention.py wrote it. It is an ordinary row (its
  ``txid`` is the transaction's, by the column's default), so the sealer seals it after the
  rest of the transaction, and log streams send it. The function also refuses an
  organization whose policy keeps its log for ever (``audit_retention_days`` empty): not a
  guard against the application role, which may write the policy, but a mistake it catches.
* **A quote cut to its column loses only what did not fit.** ``gatehouse_erasure_rewrites_text``
  took any text exactly as long as its column as "cut to fit" and then checked only that the
  old text began with what came before the pseudonym, so any quote of 300 to 320 characters
  could lose its last words to the pseudonym, in any event. A cut is now accepted only where
  erasure's whole rewrite of the old text was longer than the column: the cut falls in kept
  text and the old text goes on past it, or inside a replacement (the new text ends with the
  start of the pseudonym's address) whose replaced part (an address; in an event about the
  person, any text) is there in the old text. The shapes are those of
  ``consent.erasure.quotes._fit``: the rewrite's first ``column_length`` characters, or, when
  those hold no whole pseudonym, the first ``column_length`` minus the pseudonym's length,
  then the pseudonym.

SQLite has no functions: audit/retention.py writes the ``audit.purged`` event there, one per
batch as here, and refuses an organization that keeps its log for ever the same way.
"""

import importlib

from django.db import migrations

_erasure = importlib.import_module("audit.migrations.0027_erasure_subject_and_sealing_lock")
_previous = importlib.import_module("audit.migrations.0028_erasure_names_only_its_person")

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
    removed integer;
BEGIN
    IF cutoff IS NULL OR cutoff > now() - interval '28 days' THEN
        RAISE EXCEPTION 'audit events are kept at least 28 days (cutoff %)', cutoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
        RAISE EXCEPTION 'a batch is 1 to 10000 events (got %)', batch
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Retention never runs for an organization that keeps its log for ever. The application
    -- role may change the policy, so this only catches a mistake; what stops a purge from
    -- going unnoticed is its record, below.
    IF EXISTS (SELECT FROM __POLICIES__ p
                WHERE p.organization_id = chain_id AND p.audit_retention_days IS NULL) THEN
        RAISE EXCEPTION 'organization % keeps its audit log for ever', chain_id
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
    removed := (up_to - from_position)::integer;
    -- The cut's record, in the chain it cut, whoever called: what audit/retention.py wrote
    -- before (audit.services.record with no request: no address, browser or request id), the
    -- cutoff as Python's isoformat() gives it in UTC. The txid column's default makes it a row
    -- of this transaction, which the sealer seals once it commits.
    INSERT INTO __EVENTS__ (id, occurred_at, action, outcome, actor_id, actor_text,
                            organization_id, target_type, target_id, target_text, ip,
                            user_agent, request_id, data)
    VALUES (gen_random_uuid(), clock_timestamp(), 'audit.purged', 'success', NULL, 'system',
            nullif(chain_id, 0), '', '', '', NULL, '', '',
            jsonb_build_object(
                'before',
                to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                || CASE WHEN extract(microseconds FROM cutoff)::bigint % 1000000 = 0 THEN ''
                        ELSE to_char(cutoff AT TIME ZONE 'UTC', '.US') END
                || '+00:00',
                'deleted', removed));
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_purge_audit_events(bigint, timestamptz, integer)
    FROM PUBLIC;
"""

CHECKS = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_quote_pattern(
    head text, erasure_pseudonym text, about_them boolean
) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
-- A regular expression, anchored at the start only, that the old text matches where erasure
-- could have rewritten its beginning into ``head``: each of the pseudonym's address in place of
-- an address (a word with an @), or in an event about the person of any text; each bare
-- pseudonym in place of any text, only in an event about the person (otherwise NULL, which
-- matches nothing); everything else kept character for character.
DECLARE
    address text := erasure_pseudonym || '@erased.invalid';
    rest text := head;
    pattern text := '^';
    at integer;
BEGIN
    LOOP
        at := strpos(rest, erasure_pseudonym);
        EXIT WHEN at = 0;
        pattern := pattern || regexp_replace(left(rest, at - 1), '([^[:alnum:]])', '\\\1', 'g');
        IF substr(rest, at, char_length(address)) = address THEN
            pattern := pattern || CASE WHEN about_them THEN '(.+)'
                                       ELSE '([^[:space:]]*@[^[:space:]]*)' END;
            rest := substr(rest, at + char_length(address));
        ELSIF about_them THEN
            pattern := pattern || '(.+)';
            rest := substr(rest, at + char_length(erasure_pseudonym));
        ELSE
            RETURN NULL;
        END IF;
    END LOOP;
    RETURN pattern || regexp_replace(rest, '([^[:alnum:]])', '\\\1', 'g');
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erasure_quote_pattern(text, text, boolean)
    FROM PUBLIC;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_rewrites_text(
    old text, new text, erasure_pseudonym text, about_them boolean, column_length integer
) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
-- Whether ``new`` is ``old`` with parts replaced as erasure replaces them: an address (a word
-- with an @ in it) by the pseudonym's address; in an event about the person, any part (their
-- name, an address of theirs) by the pseudonym or its address. A text as long as its column
-- (``column_length``) may be such a rewrite cut to fit, but only if the whole rewrite was
-- longer than the column (consent.erasure.quotes._fit makes the cuts accepted here).
DECLARE
    address text := erasure_pseudonym || '@erased.invalid';
    replaced text := CASE WHEN about_them THEN '(.+)' ELSE '([^[:space:]]*@[^[:space:]]*)' END;
    whole text;
    head text;
    start text;
BEGIN
    IF old IS NULL OR new IS NULL OR old = new THEN
        RETURN old IS NOT DISTINCT FROM new;
    END IF;
    whole := __SCHEMA__.gatehouse_erasure_quote_pattern(new, erasure_pseudonym, about_them);
    IF old ~ (whole || '$') THEN
        RETURN true;
    END IF;
    IF column_length IS NULL OR char_length(new) <> column_length THEN
        RETURN false;
    END IF;
    -- Cut in text erasure kept: the old text goes on past what the new one keeps of it.
    IF old ~ (whole || '.') THEN
        RETURN true;
    END IF;
    -- Cut inside a replacement: the new text ends with the start of the pseudonym's address,
    -- which never fits in what is left, and the old text has, there, what it replaced. When
    -- the rewrite's first column_length characters hold no whole pseudonym, erasure ends the
    -- text with the pseudonym instead, in place of the last characters of kept text before
    -- the replacement: then the replaced part comes later in the old text.
    FOR kept IN 1 .. char_length(address) - 1 LOOP
        CONTINUE WHEN right(new, kept) <> left(address, kept);
        head := left(new, -kept);
        start := __SCHEMA__.gatehouse_erasure_quote_pattern(head, erasure_pseudonym, about_them);
        IF old ~ (start || replaced) THEN
            RETURN true;
        END IF;
        IF kept = char_length(erasure_pseudonym) AND strpos(head, erasure_pseudonym) = 0
           AND old ~ (start || '.*' || replaced) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
EXCEPTION WHEN invalid_regular_expression THEN
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION
    __SCHEMA__.gatehouse_erasure_rewrites_text(text, text, text, boolean, integer) FROM PUBLIC;
"""

DROP_PATTERN = """
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erasure_quote_pattern(text, text, boolean);
"""


def _sql(apps, schema_editor, template):
    policies = apps.get_model("organizations", "OrganizationPolicy")._meta.db_table
    with_policies = template.replace(
        "__POLICIES__", f"__SCHEMA__.{schema_editor.quote_name(policies)}"
    )
    return _previous._sql(apps, schema_editor, with_policies)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, PURGE + CHECKS), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # 0027's checks (its JSON one is unchanged here), then the helper they no longer call.
        schema_editor.execute(
            _sql(apps, schema_editor, _previous.PURGE + _erasure.CHECKS + DROP_PATTERN),
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0029_audit_verification")]

    operations = [migrations.RunPython(forward, backward)]
