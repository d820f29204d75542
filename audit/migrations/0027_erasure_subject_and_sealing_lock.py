"""Erasure is tied to its person, and takes turns with sealing (docs/events.md, "Left, and what a
review found", items 2 and 3).

* ``audit_erasuresubject`` (``ErasureSubject``): whom an erasure's pseudonym stands for, and the
  audit targets that are theirs, written once when the erasure job starts. Evidence like the
  audit log: the append-only trigger, and the application role may only read and add rows
  (audit/db_roles.py). Existing erasures are copied from their requests once, here.
* ``gatehouse_erasure_subject(pseudonym)`` (audit migration 0012) takes the person from that
  row, no longer from ``consent_datasubjectrequest``, which the application updates as the job
  runs and could point at anyone; the request must still be under way, for the same person.
  The consent functions (consent migration 0008) call it too.
* ``gatehouse_erase_audit_quotes`` (audit migrations 0012 and 0023) is written out afresh, with
  the same name and arguments. Before, any event could have its quotes replaced by anything
  that named the pseudonym, and lose its salt: the verifier then accepted whatever the row said.
  Now a rewritten quote must be the old one with parts of it replaced by the pseudonym's
  address (where it quoted an address: a word with an @) or, in an event about the person (they
  caused it, or its target is theirs), by the pseudonym or its address (their name, an address
  of theirs); ``data`` keeps its shape, keys and every value that is not text. A text as long as
  its column may have been cut to fit, keeping the pseudonym at its end. The address and
  browser rules are unchanged. It also takes the advisory lock the sealer takes
  (``audit.chain.sealer.SEAL_OR_ERASE_LOCK``, the number below) before anything else, so that a
  sealing batch and an erasure never overlap: whichever comes second waits for the first to
  commit, and sees what it wrote.
* The application role may no longer add erasure marks (``OWNER_WRITTEN_EVIDENCE``): only this
  function leaves one.

SQLite has no roles and no functions: the trigger, the functions and the copy of existing
erasures are PostgreSQL's; embedded mode checks in Python (audit.services.rewrite_events).
"""

import importlib

import django.utils.timezone
from django.db import migrations, models

_original = importlib.import_module("audit.migrations.0012_evidence_functions")
_previous = importlib.import_module("audit.migrations.0023_erasure_keeps_the_chain")

# audit.chain.sealer.SEAL_OR_ERASE_LOCK; tests/audit/chain/test_seal_and_erase.py checks that
# the two agree.
SEAL_OR_ERASE_LOCK = -718604662479446142

SUBJECT = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym text)
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person bigint;
BEGIN
    IF erasure_pseudonym IS NULL OR erasure_pseudonym !~ '^erased-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'not an erasure pseudonym: %', erasure_pseudonym
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Whom the pseudonym stands for comes from evidence nobody changes; the request, which the
    -- application updates, only says whether that person's erasure is under way.
    SELECT s.user_id INTO person FROM __SUBJECTS__ s WHERE s.pseudonym = erasure_pseudonym;
    IF person IS NULL OR NOT EXISTS (
        SELECT FROM __REQUESTS__ r
         WHERE r.pseudonym = erasure_pseudonym AND r.user_id = person
           AND r.kind = 'erasure' AND r.status = 'erasing'
    ) THEN
        RAISE EXCEPTION 'no erasure is under way with pseudonym %', erasure_pseudonym
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN person;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erasure_subject(text) FROM PUBLIC;
"""

CHECKS = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_rewrites_text(
    old text, new text, erasure_pseudonym text, about_them boolean, column_length integer
) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
-- Whether ``new`` is ``old`` with parts replaced as erasure replaces them: an address (a word
-- with an @ in it) by the pseudonym's address; in an event about the person, any part (their
-- name, an address of theirs) by the pseudonym or its address. A text as long as its column
-- (``column_length``) may have been cut to fit, keeping the pseudonym at its end.
DECLARE
    address text := erasure_pseudonym || '@erased.invalid';
    rest text := new;
    pattern text := '^';
    cut boolean := false;
    at integer;
BEGIN
    IF old IS NULL OR new IS NULL OR old = new THEN
        RETURN old IS NOT DISTINCT FROM new;
    END IF;
    IF column_length IS NOT NULL AND char_length(new) = column_length THEN
        cut := true;
        IF right(rest, char_length(erasure_pseudonym)) = erasure_pseudonym THEN
            rest := left(rest, -char_length(erasure_pseudonym));
        END IF;
        FOR k IN REVERSE char_length(address) - 1 .. 1 LOOP
            IF right(rest, k) = left(address, k) THEN
                rest := left(rest, -k);
                EXIT;
            END IF;
        END LOOP;
    END IF;
    LOOP
        at := strpos(rest, erasure_pseudonym);
        EXIT WHEN at = 0;
        -- What comes before stays as it was, character for character.
        pattern := pattern || regexp_replace(left(rest, at - 1), '([^[:alnum:]])', '\\\1', 'g');
        IF substr(rest, at, char_length(address)) = address THEN
            pattern := pattern || CASE WHEN about_them THEN '(.+)'
                                       ELSE '([^[:space:]]*@[^[:space:]]*)' END;
            rest := substr(rest, at + char_length(address));
        ELSIF about_them THEN
            pattern := pattern || '(.+)';
            rest := substr(rest, at + char_length(erasure_pseudonym));
        ELSE
            RETURN false;
        END IF;
    END LOOP;
    pattern := pattern || regexp_replace(rest, '([^[:alnum:]])', '\\\1', 'g')
        || CASE WHEN cut THEN '' ELSE '$' END;
    RETURN old ~ pattern;
EXCEPTION WHEN invalid_regular_expression THEN
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION
    __SCHEMA__.gatehouse_erasure_rewrites_text(text, text, text, boolean, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erasure_rewrites_json(
    old jsonb, new jsonb, erasure_pseudonym text, about_them boolean
) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
-- The same for JSON: the same shape and keys, every value that is not text unchanged, and each
-- text rewritten as above.
DECLARE
    kind text := jsonb_typeof(old);
    entry record;
BEGIN
    IF old IS NULL OR new IS NULL OR old = new OR kind IS DISTINCT FROM jsonb_typeof(new) THEN
        RETURN old IS NOT DISTINCT FROM new;
    END IF;
    IF kind = 'string' THEN
        RETURN __SCHEMA__.gatehouse_erasure_rewrites_text(
            old #>> '{}', new #>> '{}', erasure_pseudonym, about_them, NULL);
    ELSIF kind = 'object' THEN
        IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(old) k)
           IS DISTINCT FROM (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(new) k) THEN
            RETURN false;
        END IF;
        FOR entry IN SELECT e.key, e.value FROM jsonb_each(old) e LOOP
            IF NOT __SCHEMA__.gatehouse_erasure_rewrites_json(
                entry.value, new -> entry.key, erasure_pseudonym, about_them) THEN
                RETURN false;
            END IF;
        END LOOP;
        RETURN true;
    ELSIF kind = 'array' THEN
        IF jsonb_array_length(old) <> jsonb_array_length(new) THEN
            RETURN false;
        END IF;
        FOR i IN 0 .. jsonb_array_length(old) - 1 LOOP
            IF NOT __SCHEMA__.gatehouse_erasure_rewrites_json(
                old -> i, new -> i, erasure_pseudonym, about_them) THEN
                RETURN false;
            END IF;
        END LOOP;
        RETURN true;
    END IF;
    RETURN false;  -- a number, true, false or null that changed
END
$$;
REVOKE ALL ON FUNCTION
    __SCHEMA__.gatehouse_erasure_rewrites_json(jsonb, jsonb, text, boolean) FROM PUBLIC;
"""

ERASE = r"""
CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes(
    erasure_pseudonym text, changes jsonb
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person bigint := __SCHEMA__.gatehouse_erasure_subject(erasure_pseudonym);
    their_targets jsonb;
    item jsonb;
    event __EVENTS__%ROWTYPE;
    about_them boolean;
    quotes boolean;
    done integer := 0;
BEGIN
    -- Wait for a sealing batch under way, and keep the next one waiting until this
    -- transaction ends (audit.chain.sealer.SEAL_OR_ERASE_LOCK).
    PERFORM pg_advisory_xact_lock(__LOCK__);
    IF jsonb_typeof(changes) IS DISTINCT FROM 'array' OR jsonb_array_length(changes) > 1000 THEN
        RAISE EXCEPTION 'changes must be a JSON list of at most 1000 events'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.targets INTO their_targets FROM __SUBJECTS__ s
     WHERE s.pseudonym = erasure_pseudonym;
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
        -- The person caused it, or it is about them or one of their things (as recorded when
        -- their erasure began).
        about_them := coalesce(event.actor_id = person, false)
            OR (event.target_type = 'user' AND event.target_id = person::text)
            OR EXISTS (
                SELECT FROM jsonb_array_elements(coalesce(their_targets, '[]'::jsonb)) t
                 WHERE jsonb_typeof(t) = 'array'
                   AND t->>0 = event.target_type AND t->>1 = event.target_id
            );
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
            IF (item ? 'actor_text' AND NOT __SCHEMA__.gatehouse_erasure_rewrites_text(
                    event.actor_text, item->>'actor_text', erasure_pseudonym, about_them,
                    __ACTOR_TEXT_LENGTH__))
               OR (item ? 'target_text' AND NOT __SCHEMA__.gatehouse_erasure_rewrites_text(
                    event.target_text, item->>'target_text', erasure_pseudonym, about_them,
                    __TARGET_TEXT_LENGTH__))
               OR (item ? 'data' AND NOT __SCHEMA__.gatehouse_erasure_rewrites_json(
                    event.data, item->'data', erasure_pseudonym, about_them)) THEN
                RAISE EXCEPTION 'erasure only puts the pseudonym % where the person was quoted '
                    '(an address; their name only in events about them) (event %)',
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
        -- A sealed event loses its salt and gets a mark; one not sealed yet is sealed later
        -- with its new values.
        IF EXISTS (SELECT FROM __SALTS__ s WHERE s.event_id = event.id) THEN
            PERFORM set_config('gatehouse.evidence_change', 'purge', true);
            DELETE FROM __SALTS__ s WHERE s.event_id = event.id;
            PERFORM set_config('gatehouse.evidence_change', 'rewrite', true);
            INSERT INTO __MARKS__ (event_id, pseudonym, at)
                 VALUES (event.id, erasure_pseudonym, now()) ON CONFLICT DO NOTHING;
        END IF;
        done := done + 1;
    END LOOP;
    PERFORM set_config('gatehouse.evidence_change', '', true);
    RETURN done;
END
$$;
REVOKE ALL ON FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes(text, jsonb) FROM PUBLIC;
"""

DROP_CHECKS = """
DROP FUNCTION IF EXISTS __SCHEMA__.gatehouse_erasure_rewrites_json(jsonb, jsonb, text, boolean);
DROP FUNCTION IF EXISTS
    __SCHEMA__.gatehouse_erasure_rewrites_text(text, text, text, boolean, integer);
"""


def _sql(apps, schema_editor, template):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
    events = apps.get_model("audit", "AuditEvent")
    return (
        _previous._sql(apps, schema_editor, template)
        .replace("__SUBJECTS__", f"{schema}.{quote('audit_erasuresubject')}")
        .replace("__LOCK__", str(SEAL_OR_ERASE_LOCK))
        .replace("__ACTOR_TEXT_LENGTH__", str(events._meta.get_field("actor_text").max_length))
        .replace("__TARGET_TEXT_LENGTH__", str(events._meta.get_field("target_text").max_length))
    )


def _guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            _sql(
                apps,
                schema_editor,
                "CREATE TRIGGER audit_erasuresubject_append_only BEFORE UPDATE OR DELETE "
                "ON __SUBJECTS__ FOR EACH ROW EXECUTE FUNCTION __SCHEMA__.gatehouse_append_only()",
            ),
            params=None,
        )


def _unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS audit_erasuresubject_append_only ON audit_erasuresubject",
            params=None,
        )


def _targets(request) -> list[list[str]]:
    """The audit targets an erasure under way is rewriting (its identifiers, encrypted on the
    request); for a finished one only the account itself."""
    targets = [["user", str(request.user_id)]]
    if request.identifiers is not None:
        try:
            from consent.erasure.identifiers import Identifiers

            found = Identifiers.loads(bytes(request.identifiers)).targets
        except Exception:  # noqa: BLE001  (a key since retired: the account alone)
            return targets
        targets = [[str(kind), str(key)] for kind, key in found]
    return targets


def _copy_existing(apps, schema_editor):
    """Erasures already begun: their pseudonyms stand for whom their requests say today."""
    requests = apps.get_model("consent", "DataSubjectRequest")
    subjects = apps.get_model("audit", "ErasureSubject")
    begun = requests.objects.filter(kind="erasure").exclude(pseudonym="").order_by("pk")
    subjects.objects.bulk_create(
        [
            subjects(
                pseudonym=request.pseudonym,
                user_id=request.user_id,
                request_id=request.public_id,
                targets=_targets(request),
            )
            for request in begun.iterator()
        ],
        ignore_conflicts=True,
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sql(apps, schema_editor, SUBJECT + CHECKS + ERASE), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # 0012's gatehouse_erasure_subject, which comes before its erase function.
        erase_starts = _original.FUNCTIONS.index(
            "CREATE OR REPLACE FUNCTION __SCHEMA__.gatehouse_erase_audit_quotes("
        )
        subject = _original.FUNCTIONS[:erase_starts]
        schema_editor.execute(
            _sql(apps, schema_editor, subject + _previous._erase_function(True) + DROP_CHECKS),
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0026_checkpoints_are_evidence"),
        ("consent", "0009_oauth_consent_purposes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ErasureSubject",
            fields=[
                (
                    "pseudonym",
                    models.CharField(max_length=32, primary_key=True, serialize=False),
                ),
                ("user_id", models.BigIntegerField()),
                ("request_id", models.UUIDField()),
                ("targets", models.JSONField(default=list)),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.RunPython(_guard, _unguard),
        migrations.RunPython(_copy_existing, migrations.RunPython.noop),
        migrations.RunPython(forward, backward),
    ]
