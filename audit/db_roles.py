"""Two PostgreSQL roles, so that the application cannot rewrite its own evidence.

Triggers alone cannot keep the audit log append-only against the application: whoever owns a
table can disable its triggers, and a trigger that lets some session setting through can be
talked round by any session. So production connects as two roles:

* the **owner** (``DATABASE_OWNER_URL``) runs ``migrate``: it owns every table, the triggers,
  and the ``SECURITY DEFINER`` functions through which erasure and retention change evidence
  (audit migration 0012, consent migration 0008);
* the **application** (``DATABASE_URL``), which web processes and workers use, may read and add
  audit and consent events (and read, but not add, erasure marks) but not update, delete or
  truncate them, and cannot touch triggers (only an owner can). The hash chain's working state
  (chains, checkpoint keys) it may read, add and update but not delete, and a trigger lets
  through only the updates Gatehouse makes. Every other table it uses freely, including the
  ones later migrations create (default privileges).

``migrate`` and ``flush`` (audit/management/commands/) switch to the owner for their run, and
``migrate`` then grants the application what it needs (``grant_app_privileges``) and refuses
to finish if the application could still change evidence. Without ``DATABASE_OWNER_URL``
(SQLite, or one PostgreSQL role for everything) nothing switches; the deploy check
(audit/checks.py) reports that a single role can rewrite the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

# Tables that hold evidence: the application may only read and add rows (or, for the tables
# in OWNER_WRITTEN_EVIDENCE, only read them). Each has the gatehouse_append_only trigger (audit
# migrations 0003/0011/0022/0026/0027, consent migrations 0002/0007).
EVIDENCE_TABLES = (
    "audit_auditevent",
    "consent_consentevent",
    "audit_auditseal",
    "audit_auditsalt",
    "audit_auditerasuremark",
    "audit_auditcheckpoint",
    "audit_erasuresubject",
)
# Evidence that only the owner's functions add: an erasure mark tells the verifier to accept an
# event it can no longer check, so only the erase function, which checks the event is about
# the person erased, may leave one (audit migration 0027).
OWNER_WRITTEN_EVIDENCE = ("audit_auditerasuremark",)
# Working state the application must update (the sealer advances chains, rotation retires
# keys), so it keeps UPDATE, never DELETE; each table's trigger refuses every change Gatehouse
# does not make (audit migration 0026). Table: the triggers it must have, enabled.
GUARDED_TABLES = {
    "audit_auditchain": ("audit_auditchain_guard",),
    "audit_checkpointkey": ("audit_checkpointkey_guard",),
}
# Triggers evidence tables rely on besides their grants (audit migrations 0026 and 0028).
_EVIDENCE_TRIGGERS = {
    "audit_auditcheckpoint": (
        "audit_auditcheckpoint_append_only",
        "audit_auditcheckpoint_states_the_chain",
    ),
    "audit_erasuresubject": (
        "audit_erasuresubject_append_only",
        "audit_erasuresubject_names_its_things",
    ),
}
# The only ways evidence changes, each a SECURITY DEFINER function owned by the owner role.
DEFINER_FUNCTIONS = (
    "gatehouse_erase_audit_quotes",
    "gatehouse_purge_audit_events",
    "gatehouse_erase_consent_actor",
    "gatehouse_erase_consent_origin",
    "gatehouse_purge_consent_evidence",
)
# What the application may do with evidence and with guarded tables; anything more is a
# problem.
_EVIDENCE_ALLOWED = ("SELECT", "INSERT")
_EVIDENCE_REFUSED = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
_GUARDED_ALLOWED = ("SELECT", "INSERT", "UPDATE")
_GUARDED_REFUSED = ("DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


def _allowed(table: str) -> tuple[str, ...]:
    return ("SELECT",) if table in OWNER_WRITTEN_EVIDENCE else _EVIDENCE_ALLOWED


def _refused(table: str) -> tuple[str, ...]:
    return _EVIDENCE_REFUSED + tuple(p for p in _EVIDENCE_ALLOWED if p not in _allowed(table))


# Where a connection keeps the application's settings while it acts as the owner.
_APP_SETTINGS = "_gatehouse_app_settings"


def owner_credentials() -> dict[str, str] | None:
    return getattr(settings, "GATEHOUSE_DATABASE_OWNER", None)


def roles_are_split(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether ``alias`` is PostgreSQL with a separate owner role configured."""
    return connections[alias].vendor == "postgresql" and owner_credentials() is not None


def app_role(alias: str = DEFAULT_DB_ALIAS) -> str:
    """The application's role: the user of ``DATABASE_URL``, whatever this thread acts as."""
    connection = connections[alias]
    return str(getattr(connection, _APP_SETTINGS, connection.settings_dict)["USER"])


def acting_as_owner(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether this thread's connection to ``alias`` acts as the owner (``become_owner``)."""
    return hasattr(connections[alias], _APP_SETTINGS)


def become_owner(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Reconnect this thread's connection to ``alias`` as the owner role. Returns False (and
    changes nothing) when there is no separate owner or the connection already acts as it.

    Only this thread's connection changes: its settings are replaced by a copy with the owner's
    user and password, and the shared settings (what other threads connect with) stay the
    application's. A test database's name, set on both while it is created, carries over."""
    owner = owner_credentials()
    connection = connections[alias]
    if owner is None or connection.vendor != "postgresql" or acting_as_owner(alias):
        return False
    if connection.in_atomic_block:
        raise RuntimeError("cannot change database roles inside a transaction")
    connection.close()
    setattr(connection, _APP_SETTINGS, connection.settings_dict)
    connection.settings_dict = {**connection.settings_dict, **owner}
    return True


def become_app(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Undo ``become_owner``: the next query connects as the application again."""
    connection = connections[alias]
    app_settings = getattr(connection, _APP_SETTINGS, None)
    if app_settings is None:
        return
    connection.close()
    connection.settings_dict = app_settings
    delattr(connection, _APP_SETTINGS)


@contextmanager
def as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Run a block as the owner role (if one is configured); yields whether the block acts as
    the owner, having switched here or before (the test database's setup)."""
    switched = become_owner(alias)
    try:
        yield acting_as_owner(alias)
    finally:
        if switched:
            become_app(alias)


def grant_app_privileges(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Give the application role what it needs and nothing more; run as the owner, after
    migrating. Idempotent: every ``migrate`` applies it again, so it also repairs a grant that
    was added by hand."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    app = quote(app_role(alias))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        # After migrating back, some evidence tables may not exist: the check after this one
        # says so (privilege_problems), rather than a GRANT failing on them.
        cursor.execute(
            "SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL",
            [list(EVIDENCE_TABLES)],
        )
        present = [row[0] for row in cursor.fetchall()]
        evidence = ", ".join(f"{schema}.{quote(table)}" for table in present)
        added = [t for t in present if t not in OWNER_WRITTEN_EVIDENCE]
        read_only = [t for t in present if t in OWNER_WRITTEN_EVIDENCE]
        guarded = ", ".join(f"{schema}.{quote(table)}" for table in GUARDED_TABLES)
        statements = [
            f"GRANT USAGE ON SCHEMA {schema} TO {app}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
            # Tables and sequences that later migrations create are usable without a grant.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {app}",
            # A function nobody granted stays the owner's (PostgreSQL lets everyone call new
            # functions otherwise); definer functions are granted one by one below.
            "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            # The chain's working state: read, add and update (the triggers judge how).
            f"REVOKE ALL ON TABLE {guarded} FROM PUBLIC, {app}",
            f"GRANT {', '.join(_GUARDED_ALLOWED)} ON TABLE {guarded} TO {app}",
        ]
        if present:
            # Evidence: read and add, nothing else (only read what the owner's functions add).
            statements.append(f"REVOKE ALL ON TABLE {evidence} FROM PUBLIC, {app}")
        for tables, privileges in ((added, _EVIDENCE_ALLOWED), (read_only, ("SELECT",))):
            if tables:
                names = ", ".join(f"{schema}.{quote(table)}" for table in tables)
                statements.append(f"GRANT {', '.join(privileges)} ON TABLE {names} TO {app}")
        for statement in statements:
            cursor.execute(statement)
        for function in _definer_functions(cursor):
            cursor.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app}")


def _definer_functions(cursor: Any) -> list[str]:
    """Gatehouse's SECURITY DEFINER functions in the current schema, as signatures."""
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "WHERE p.pronamespace = current_schema()::regnamespace AND p.prosecdef "
        "AND p.proname = ANY(%s) ORDER BY 1",
        [list(DEFINER_FUNCTIONS)],
    )
    return [row[0] for row in cursor.fetchall()]


def privilege_problems(role: str | None = None, alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """What ``role`` (by default the connected one) could do to evidence that it must not, or
    lacks to do its work; empty when it is a proper application role. PostgreSQL only."""
    with connections[alias].cursor() as cursor:
        if role is None:
            cursor.execute("SELECT current_user")
            role = str(cursor.fetchone()[0])
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found is None:
            return [f"role {role} does not exist"]
        problems: list[str] = []
        if found[0]:
            problems.append(f"{role} is a superuser: it can do anything to the audit log")
        cursor.execute("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')", [role])
        if cursor.fetchone()[0]:
            problems.append(f"{role} may create objects in the schema")
        for table in EVIDENCE_TABLES:
            problems += _table_problems(cursor, role, table, _allowed(table), _refused(table))
        for table in GUARDED_TABLES:
            problems += _table_problems(cursor, role, table, _GUARDED_ALLOWED, _GUARDED_REFUSED)
        for table, triggers in (_EVIDENCE_TRIGGERS | GUARDED_TABLES).items():
            problems += _trigger_problems(cursor, table, triggers)
        problems += _definer_function_problems(cursor, role)
    return problems


def _trigger_problems(cursor: Any, table: str, triggers: tuple[str, ...]) -> list[str]:
    """Which of ``table``'s guard ``triggers`` are missing or disabled."""
    cursor.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgenabled <> 'D'",
        [table],
    )
    present = {row[0] for row in cursor.fetchall()}
    return [
        f"{table} lacks its trigger {trigger} (run migrate)"
        for trigger in triggers
        if trigger not in present
    ]


def _table_problems(
    cursor: Any, role: str, table: str, allowed: tuple[str, ...], refused: tuple[str, ...]
) -> list[str]:
    """What ``role`` may do to ``table`` (evidence, or guarded working state) that it must
    not, or may not do that Gatehouse needs."""
    cursor.execute(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)", [table]
    )
    owned = cursor.fetchone()
    if owned is None:
        return [f"{table} does not exist (run migrate)"]
    owner = str(owned[0])
    if owner == role:
        return [f"{role} owns {table}: it can disable or drop its triggers"]
    problems: list[str] = []
    cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [role, owner])
    if cursor.fetchone()[0]:
        problems.append(f"{role} is a member of {owner}, which owns {table}")
    for privilege in (*refused, *allowed):
        cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
        granted = bool(cursor.fetchone()[0])
        if granted and privilege in refused:
            problems.append(f"{role} may {privilege} {table}")
        elif not granted and privilege in allowed:
            problems.append(f"{role} may not {privilege} {table}: Gatehouse needs it")
    return problems


def _definer_function_problems(cursor: Any, role: str) -> list[str]:
    """Whether the evidence functions exist, ``role`` may call them, and nobody else may."""
    problems: list[str] = []
    functions = _definer_functions(cursor)
    if len(functions) < len(DEFINER_FUNCTIONS):
        problems.append("the evidence functions are missing (run migrate)")
    for function in functions:
        cursor.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, function])
        if not cursor.fetchone()[0]:
            problems.append(f"{role} may not call {function}: erasure needs it")
        cursor.execute(
            "SELECT coalesce(bool_or(a.grantee = 0), true) FROM pg_proc p "
            "LEFT JOIN LATERAL aclexplode(p.proacl) a ON true "
            "WHERE p.oid = %s::regprocedure",
            [function],
        )
        if cursor.fetchone()[0]:
            problems.append(f"every role may call {function}")
    return problems
