"""bench/admin_seed: the people, organizations and audit log bench/admin.py measures the admin on.

A dataset is a PostgreSQL database of its own, owned by the role of the bench's database URL
and migrated as that role (one role for everything, as the other benches: no
``DATABASE_OWNER_URL``). It holds:

* ``users`` people: an account with the unusable password marker (no Argon2 runs), joined over
  the last three years, a primary address (verified for 70%, not for the rest) and, for one
  in ten, a second address that is not verified, as allauth's ``EmailAddress`` rows;
* one large organization whose members fill the management API's deep pages (``members``
  people, 45,050 by default: 900 pages of 50 and one more), and one small organization per
  2,000 people, which a quarter of everyone belongs to (a few as admins), each with its policy;
* ``events`` audit events over the last two years, oldest first, each naming a person as actor
  and target (their id and address, as ``audit.services.record`` writes them), a real action
  name, one in twenty a failure, one in four in an organization, with an address, a user agent
  and a request id.

The rows are written by ``INSERT ... SELECT`` over ``generate_series`` inside PostgreSQL (nothing
crosses the wire but the statements), into ids reserved from each table's sequence, with the big
tables' secondary indexes and constraints (and the audit log's primary key) dropped for the
load and rebuilt after it, in one transaction; then ``VACUUM (ANALYZE)``, so the planner and the
visibility map are as a long-running database has them. Columns the load does not name get
NULL, or, where the table refuses NULL and has no default, a neutral value of their type
(false, '', 0, '{}', now()): a migration that adds a column does not break the load.

The audit log: audit events are append-only (a trigger refuses UPDATE and DELETE, and in
production the application role lacks those privileges, audit/db_roles.py); INSERT is what
the application itself does, so the load is allowed as any role that may write the table.
The seeded events are not sealed: the hash chain (audit/chain/) seals new events in a worker,
and no worker runs here. The admin pages read the events alone, so they work on them; a chain
verification of a seeded organization would report the events as unsealed, which is true.

A marker table records a finished load and its sizes: a second run with the same sizes reuses
the database (migrated again, a no-op unless the code has new migrations); other sizes, or
``--reseed``, drop it and load again.

    .venv/bin/python bench/admin_seed.py --database-url postgres://postgres@127.0.0.1/gh_bench \
        --users 200000 --events 1000000 [--reseed]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from scim_seed import PYTHON, create_database, database_exists, migrate  # noqa: E402

MARKER = "bench_admin_seed"
# Raised whenever what a load writes changes, so older databases are loaded again.
LAYOUT = 1
DEEP_PAGE = 900  # the management API's page the bench asks for
API_PAGE_SIZE = 50  # config.api_framework.Pagination.page_size when this was written
DEFAULT_MEMBERS = DEEP_PAGE * API_PAGE_SIZE + API_PAGE_SIZE
BIG_ORG_SLUG = "admin-bench-large"
PER_SMALL_ORG = 2000
VERIFIED_SHARE = 0.7
EVENT_SPAN_DAYS = 730
JOIN_SPAN_DAYS = 1095
DOMAINS = (
    "example.com", "example.org", "example.net", "mail.example", "post.example",
    "inbox.example", "corp.example", "shop.example",
)  # fmt: skip
# fmt: off
GIVEN = (
    "ada", "alan", "anna", "boris", "chen", "dana", "elif", "emma", "farid", "grace", "hana",
    "ines", "ivan", "jamal", "joao", "kai", "lena", "liam", "maya", "mei", "nadia", "noah",
    "olga", "omar", "paula", "priya", "quinn", "rafael", "rosa", "sam", "sara", "tariq", "uma",
    "vera", "wei", "yara", "yusuf", "zoe",
)
FAMILY = (
    "abe", "bauer", "costa", "diallo", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
    "kim", "lopez", "martin", "nakamura", "novak", "okafor", "petrov", "quist", "rossi", "silva",
    "tanaka", "urban", "varga", "wagner", "xu", "yilmaz", "zhang",
)
# Actions people's own events name most (audit.actions.Action values; checked at load).
ACTIONS = (
    "login.succeeded", "login.succeeded", "login.succeeded", "login.failed", "logout",
    "session.revoked", "password.changed", "email.verified", "email.added", "mfa.verified",
    "mfa.device_added", "profile.updated", "user.signed_up", "login.new_device_notice",
)
# fmt: on
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
# Tables whose rows grow with the dataset: their indexes are rebuilt after the load.
BIG_TABLES = (
    "accounts_user",
    "account_emailaddress",
    "organizations_membership",
    "audit_auditevent",
)
# Their primary keys are dropped too where no foreign key needs them during the load (a random
# UUID key maintained row by row is the slowest part of a large insert).
DROP_PRIMARY_KEY = ("audit_auditevent",)


@dataclass(frozen=True)
class Size:
    label: str
    users: int
    events: int
    members: int

    @classmethod
    def of(cls, label: str, users: int, events: int, members: int | None = None) -> Size:
        if users < 10 or events < 1:
            raise SystemExit(f"{label}: at least 10 people and 1 event")
        return cls(label, users, events, min(users, members or DEFAULT_MEMBERS))

    @property
    def small_organizations(self) -> int:
        return max(1, self.users // PER_SMALL_ORG)


def dataset_url(base_url: str, label: str) -> str:
    return f"{base_url}_{label}"


def seeded(url: str) -> dict[str, Any] | None:
    """The marker of a finished load of this layout, or None."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        if conn.execute("SELECT to_regclass(%s) AS t", [MARKER]).fetchone() == {"t": None}:
            return None
        row = conn.execute(f"SELECT * FROM {MARKER}").fetchone()  # noqa: S608
    return row if row is not None and row.get("layout") == LAYOUT else None


def ensure_dataset(url: str, size: Size, env: dict[str, str], *, reseed: bool) -> dict:
    """A migrated database at ``url`` holding ``size``: reused when a finished load of the same
    sizes is there, else (or with ``reseed``) dropped, created, migrated and loaded. Returns
    the marker (with ``seconds``, the load's time)."""
    name = url.rsplit("/", 1)[1]
    if not reseed and database_exists(url):
        marker = seeded(url)
        if marker and (marker["users"], marker["events"], marker["members"]) == (
            size.users,
            size.events,
            size.members,
        ):
            migrate(url, env)
            print(f"{size.label}: reusing {name} (loaded in {marker['seconds']:.0f} s)")
            return {**marker, "reused": True}
    create_database(url, drop=True)
    migrated = migrate(url, env)
    print(
        f"{size.label}: {name} migrated in {migrated:.0f} s; loading {size.users:,} people, "
        f"{size.events:,} audit events ...",
        flush=True,
    )
    subprocess_env = {**env, "DATABASE_URL": url, "DATABASE_OWNER_URL": ""}
    import subprocess

    subprocess.run(
        [PYTHON, __file__, "--load", str(size.users), str(size.events), str(size.members)],
        cwd=ROOT,
        env=subprocess_env,
        check=True,
    )
    marker = seeded(url)
    if marker is None:
        raise SystemExit(f"{size.label}: the load finished without its marker")
    return {**marker, "reused": False}


# --- The load (inside Django, DATABASE_URL naming the dataset's database) ---------------------


def _sql_array(values: tuple[str, ...]) -> str:
    return "(ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "])"


NEUTRAL = {
    "boolean": "false",
    "character varying": "''",
    "text": "''",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "double precision": "0",
    "numeric": "0",
    "jsonb": "'{}'::jsonb",
    "json": "'{}'::json",
    "timestamp with time zone": "now()",
    "date": "current_date",
    "uuid": "gen_random_uuid()",
}


def insert_select(cursor: Any, table: str, given: dict[str, str], source: str) -> float:
    """``INSERT INTO table (...) SELECT ... FROM source``: the ``given`` column expressions,
    plus a neutral value for any other column that refuses NULL and has no default (a
    migration newer than this script). Returns the seconds it took."""
    cursor.execute(
        "SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS NULL "
        "AND is_generated = 'NEVER' AND identity_generation IS NULL "
        "FROM information_schema.columns WHERE table_name = %s AND table_schema = 'public'",
        [table],
    )
    columns = {name: (kind, required) for name, kind, required in cursor.fetchall()}
    unknown = set(given) - set(columns)
    if unknown:
        raise SystemExit(f"{table} has no column {sorted(unknown)}; update bench/admin_seed.py")
    values = dict(given)
    for name, (kind, required) in columns.items():
        if name in values or not required:
            continue
        if kind not in NEUTRAL:
            raise SystemExit(
                f"{table}.{name} ({kind}) refuses NULL and has no default; "
                "give it a value in bench/admin_seed.py"
            )
        values[name] = NEUTRAL[kind]
        print(f"  {table}.{name}: not named by the load, set to {NEUTRAL[kind]}", flush=True)
    names = ", ".join(f'"{name}"' for name in values)
    started = time.perf_counter()
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {', '.join(values.values())} FROM {source}"  # noqa: S608
    )
    return time.perf_counter() - started


def reserve_ids(cursor: Any, table: str, count: int) -> int:
    """The first of ``count`` consecutive ids taken from ``table``'s sequence (nothing else
    writes during the load)."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count])
    return int(first)


def detach_indexes(cursor: Any, tables: tuple[str, ...]) -> list[str]:
    """Drops every constraint (the primary keys of ``DROP_PRIMARY_KEY`` included) and every
    other index of ``tables``, whatever the migrations made (h1's trigram or partial indexes
    as well as Django's); returns the statements that put them back, foreign keys last."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) "
        "AND (contype IN ('u', 'f', 'x') OR (contype = 'p' AND conrelid = ANY(%s::regclass[])))",
        [list(tables), list(DROP_PRIMARY_KEY)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    foreign = [c for c in constraints if c[2] == "f"]
    others = [c for c in constraints if c[2] != "f"]
    for table, name, _, _ in foreign + others:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    restore = [definition for _, definition in indexes]
    restore += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, _, d in others + foreign]
    return restore


def _check_actions() -> None:
    from audit.actions import Action

    unknown = set(ACTIONS) - set(Action.values)
    if unknown:
        raise SystemExit(f"bench/admin_seed.py names actions Gatehouse lacks: {sorted(unknown)}")


def load(size: Size) -> None:
    """Writes ``size`` into the (migrated, empty) database of this process's settings."""
    from django.db import connection, transaction

    from organizations.models import all_login_methods

    _check_actions()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    users, events, orgs = size.users, size.events, size.small_organizations
    with transaction.atomic():
        cursor = connection.connection.cursor()
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        user0 = reserve_ids(cursor, "accounts_user", users)
        address0 = reserve_ids(cursor, "account_emailaddress", users + users // 10 + 1)
        org0 = reserve_ids(cursor, "organizations_organization", orgs + 1)
        policy0 = reserve_ids(cursor, "organizations_organizationpolicy", orgs + 1)
        member0 = reserve_ids(cursor, "organizations_membership", size.members + users // 4 + 1)
        restore = detach_indexes(cursor, BIG_TABLES)

        # People: g from 0 to users - 1 is the person's number; their id is user0 + g.
        given, family, domains = _sql_array(GIVEN), _sql_array(FAMILY), _sql_array(DOMAINS)
        email = (
            f"{given}[1 + g % {len(GIVEN)}] || '.' || {family}[1 + (g / {len(GIVEN)}) % "
            f"{len(FAMILY)}] || g || '@' || {domains}[1 + (g / 7) % {len(DOMAINS)}]"
        )
        joined = f"now() - interval '{JOIN_SPAN_DAYS} days' * (({users} - g)::float8 / {users})"
        timings["users"] = insert_select(
            cursor,
            "accounts_user",
            {
                "id": f"{user0} + g",
                "password": "'!bench' || md5(g::text)",  # Django's unusable-password marker
                "last_login": f"CASE WHEN g % 3 = 0 THEN NULL ELSE {joined} "
                "+ interval '1 day' * (g % 300) END",
                "is_superuser": "false",
                "public_id": "gen_random_uuid()",
                "email": email,
                "display_name": f"initcap({given}[1 + g % {len(GIVEN)}]) || ' ' || "
                f"initcap({family}[1 + (g / {len(GIVEN)}) % {len(FAMILY)}])",
                "is_active": "true",
                "is_staff": "false",
                "date_joined": joined,
                "is_blocked": "g % 997 = 0",
                "blocked_reason": "CASE WHEN g % 997 = 0 THEN 'bench: blocked' ELSE '' END",
                "blocked_at": "CASE WHEN g % 997 = 0 THEN now() ELSE NULL END",
                "mfa_required": "false",
            },
            f"generate_series(0, {users - 1}) AS g",
        )
        verified_below = round(VERIFIED_SHARE * 10)
        timings["addresses"] = insert_select(
            cursor,
            "account_emailaddress",
            {
                "id": f"{address0} + g",
                "email": email,
                "verified": f"g % 10 < {verified_below}",
                "primary": "true",
                "user_id": f"{user0} + g",
            },
            f"generate_series(0, {users - 1}) AS g",
        )
        timings["addresses"] += insert_select(
            cursor,
            "account_emailaddress",
            {
                "id": f"{address0} + {users} + g / 10",
                "email": f"'alt.' || g || '@' || {domains}[1 + g % {len(DOMAINS)}]",
                "verified": "false",
                "primary": "false",
                "user_id": f"{user0} + g",
            },
            f"generate_series(0, {users - 1}, 10) AS g",
        )

        # Organizations: o = 0 is the large one, 1..orgs the small ones.
        methods = json.dumps(all_login_methods()).replace("'", "''")
        timings["organizations"] = insert_select(
            cursor,
            "organizations_organization",
            {
                "id": f"{org0} + o",
                "public_id": "gen_random_uuid()",
                "name": "CASE WHEN o = 0 THEN 'Admin bench large' ELSE 'Admin bench ' || o END",
                "slug": f"CASE WHEN o = 0 THEN '{BIG_ORG_SLUG}' ELSE 'admin-bench-' || o END",
                "logo_url": "''",
                "brand_colour": "''",
                "display_name": "''",
                "brand_background": "''",
                "brand_text": "''",
                "created_at": "now() - interval '1000 days'",
            },
            f"generate_series(0, {orgs}) AS o",
        )
        timings["organizations"] += insert_select(
            cursor,
            "organizations_organizationpolicy",
            {
                "id": f"{policy0} + o",
                "organization_id": f"{org0} + o",
                "require_mfa": "false",
                "allowed_login_methods": f"'{methods}'::jsonb",
                "sso_only": "false",
                "auto_join_verified_domains": "false",
                "default_role": "'member'",
                "risk_step_up": "false",
                "updated_at": "now()",
            },
            f"generate_series(0, {orgs}) AS o",
        )
        member = {
            "role": "CASE WHEN g = 0 THEN 'owner' WHEN g % 100 = 1 THEN 'admin' ELSE 'member' END",
            "status": "'active'",
            "source": "'invitation'",
            "created_at": f"{joined} + interval '1 day'",
            "user_id": f"{user0} + g",
        }
        timings["memberships"] = insert_select(
            cursor,
            "organizations_membership",
            {"id": f"{member0} + g", "organization_id": str(org0), **member},
            f"generate_series(0, {size.members - 1}) AS g",
        )
        timings["memberships"] += insert_select(
            cursor,
            "organizations_membership",
            {
                "id": f"{member0} + {size.members} + g / 4",
                "organization_id": f"{org0} + 1 + (g / 4) % {orgs}",
                **member,
            },
            f"generate_series(1, {users - 1}, 4) AS g",
        )

        # Audit events: e from 0 (oldest) to events - 1 (newest); its person is e % users, so
        # everyone has events across the whole span.
        actions, agents = _sql_array(ACTIONS), _sql_array(USER_AGENTS)
        timings["audit events"] = insert_select(
            cursor,
            "audit_auditevent",
            {
                "id": "gen_random_uuid()",
                "occurred_at": f"now() - interval '{EVENT_SPAN_DAYS} days' * "
                f"(({events} - e)::float8 / {events})",
                "action": f"{actions}[1 + e % {len(ACTIONS)}]",
                "outcome": "CASE WHEN e % 20 = 7 THEN 'failure' ELSE 'success' END",
                "actor_id": "u.id",
                "actor_text": "u.email",
                "organization_id": f"CASE WHEN e % 4 = 1 THEN {org0} + (e / 4) % {orgs + 1} END",
                "target_type": "'user'",
                "target_id": "u.id::text",
                "target_text": "u.email",
                "ip": "('10.' || (e / 65536) % 256 || '.' || (e / 256) % 256 || '.' || "
                "e % 256)::inet",
                "user_agent": f"{agents}[1 + e % {len(USER_AGENTS)}]",
                "request_id": "md5(e::text)",
                "data": "'{}'::jsonb",
            },
            f"generate_series(0, {events - 1}) AS e JOIN accounts_user u "
            f"ON u.id = {user0} + e % {users}",
        )
        mark = time.perf_counter()
        for statement in restore:
            cursor.execute(statement)
        timings["indexes and constraints"] = time.perf_counter() - mark
        cursor.execute(
            f"CREATE TABLE {MARKER} (users bigint, events bigint, members bigint, "
            "first_user bigint, large_org_slug text, seconds double precision, "
            "seeded_at timestamptz, layout integer)"
        )
        cursor.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, %s, %s, %s, 0, now(), %s)",  # noqa: S608
            [users, events, size.members, user0, BIG_ORG_SLUG, LAYOUT],
        )
    mark = time.perf_counter()
    with connection.connection.cursor() as cursor:  # autocommit again: VACUUM may run
        for table in (*BIG_TABLES, "organizations_organization"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum analyze"] = time.perf_counter() - mark
    total = time.perf_counter() - started
    with connection.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {MARKER} SET seconds = %s", [total])  # noqa: S608
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"loaded {users:,} people and {events:,} events in {total:.1f} s ({steps})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="the base: the dataset goes in <name>_<label>")
    parser.add_argument("--label", default="big")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--reseed", action="store_true", help="drop and load again")
    parser.add_argument("--load", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        import django

        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        users, events, members = args.load
        load(Size.of("load", users, events, members))
        return
    if not args.database_url:
        parser.error("--database-url is required")
    env = {**os.environ, "GATEHOUSE_EMBEDDED": "0", "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    size = Size.of(args.label, args.users, args.events, args.members)
    ensure_dataset(dataset_url(args.database_url, args.label), size, env, reseed=args.reseed)


if __name__ == "__main__":
    main()
