"""bench/scim_seed: the organizations, directories and people bench/scim.py measures against.

A dataset is a PostgreSQL database of its own (``<name>_10k``, ``<name>_1m``), owned by the
role of the bench's database URL and migrated as that role. Each organization has a verified
domain and an active SCIM directory for it, with a token; each of its people has what a
directory-provisioned person has in Gatehouse: an account (the unusable password marker, so no
Argon2 runs), a verified primary address, an active membership from SCIM and the directory's
record, linked to the account, with a SCIM document as Entra ID would have sent it.

The rows are streamed with psycopg 3's ``COPY ... FROM STDIN``: ids are reserved from each
table's sequence up front, so the foreign keys line up without reading anything back, and the
big tables' secondary indexes and constraints are dropped for the load and rebuilt after it,
all in one transaction (a failed load leaves nothing behind). A marker table records a
finished load, so a second run reuses the database; ``--reseed`` drops it and starts again.

    .venv/bin/python bench/scim_seed.py --database-url postgres://<owner>@127.0.0.1/gh_bench \
        [--dataset 10k|1m] [--reseed]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MARKER = "bench_scim_seed"
# Raised whenever what a load writes changes, so older databases are loaded again.
LAYOUT = 1
DOMAIN_SUFFIX = "scim-bench.example"  # .test is a special-use name email-validator refuses
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

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
# fmt: on
DEPARTMENTS = ("Sales", "Engineering", "Support", "Finance", "Operations", "Marketing")


@dataclass(frozen=True)
class Dataset:
    label: str
    organizations: int
    per_organization: int

    @property
    def users(self) -> int:
        return self.organizations * self.per_organization


DATASETS = {"10k": Dataset("10k", 10, 1000), "1m": Dataset("1m", 1000, 1000)}


def dataset_url(base_url: str, dataset: Dataset) -> str:
    """The dataset's own database beside ``base_url``'s: ``<name>_10k``, ``<name>_1m``."""
    return f"{base_url}_{dataset.label}"


def domain_of(org: int) -> str:
    return f"o{org:04d}.{DOMAIN_SUFFIX}"


def slug_of(org: int) -> str:
    return f"scim-bench-{org:04d}"


def person(org: int, index: int) -> tuple[str, str, str]:
    """(given name, family name, userName) of the ``index``-th person of organization ``org``:
    the same from every table and every run, so the bench can name people without a query."""
    given = GIVEN[index % len(GIVEN)]
    family = FAMILY[(index // len(GIVEN)) % len(FAMILY)]
    return given.title(), family.title(), f"{given}.{family}.{index}@{domain_of(org)}"


# --- The database: created, migrated, marked --------------------------------------------------


def _maintenance_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def database_exists(url: str) -> bool:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def create_database(url: str, *, drop: bool) -> None:
    """The dataset's database, owned by the URL's role (which migrates it and loads it)."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        if drop:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def seeded(url: str) -> dict[str, Any] | None:
    """The marker of a finished load, or None."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        if conn.execute("SELECT to_regclass(%s) AS t", [MARKER]).fetchone() == {"t": None}:
            return None
        row = conn.execute(f"SELECT * FROM {MARKER}").fetchone()  # noqa: S608
    return row if row is not None and row.get("layout") == LAYOUT else None


def migrate(url: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    db_env = {**env, "DATABASE_URL": url, "DATABASE_OWNER_URL": ""}
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=db_env, check=True
    )
    return time.perf_counter() - started


def ensure_dataset(url: str, dataset: Dataset, env: dict[str, str], *, reseed: bool) -> dict:
    """A migrated database at ``url`` holding ``dataset``: reused if a finished load of the same
    size is there (and migrated, should the code have migrations it lacks), else (or with
    ``reseed``) dropped, created, migrated and loaded."""
    if not reseed and database_exists(url):
        marker = seeded(url)
        if marker and (marker["organizations"], marker["per_organization"]) == (
            dataset.organizations,
            dataset.per_organization,
        ):
            migrate(url, env)
            name = url.rsplit("/", 1)[1]
            print(f"{dataset.label}: reusing {name} (seeded in {marker['seconds']:.1f} s)")
            return marker
    create_database(url, drop=True)
    migrated = migrate(url, env)
    print(
        f"{dataset.label}: migrated in {migrated:.0f} s; loading {dataset.users:,} people ...",
        flush=True,
    )
    subprocess.run(
        [PYTHON, __file__, "--load", str(dataset.organizations), str(dataset.per_organization)],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url, "DATABASE_OWNER_URL": ""},
        check=True,
    )
    marker = seeded(url)
    if marker is None:
        raise SystemExit(f"{dataset.label}: the load finished without its marker")
    return marker


# --- The load (run inside Django, with DATABASE_URL naming the dataset's database) ------------

# Every column of every table written, in the order the rows give them: checked against the
# table before the load, so a migration that adds a column fails here rather than in COPY.
COLUMNS = {
    "organizations_organization": (
        "id", "public_id", "name", "slug", "logo_url", "brand_colour", "display_name",
        "brand_background", "brand_text", "logo_id", "created_at",
    ),
    "organizations_organizationpolicy": (
        "id", "organization_id", "require_mfa", "allowed_login_methods", "sso_only",
        "session_lifetime_minutes", "auto_join_verified_domains", "default_role", "updated_at",
    ),
    "organizations_domain": (
        "id", "organization_id", "name", "verification_token", "created_at", "verified_at",
        "last_checked_at", "last_check_result",
    ),
    "sso_directory": (
        "id", "organization_id", "public_id", "status", "default_role",
        "put_without_active_deactivates", "user_count", "group_count", "created_at", "paused_at",
        "created_by_id",
    ),
    "sso_directory_domains": ("id", "directory_id", "domain_id"),
    "accounts_user": (
        "id", "password", "last_login", "is_superuser", "public_id", "email", "display_name",
        "is_active", "is_staff", "date_joined", "is_blocked", "blocked_reason", "blocked_at",
        "mfa_required", "erased_at",
    ),
    "account_emailaddress": ("id", "user_id", "email", "verified", "primary"),
    "organizations_membership": (
        "id", "organization_id", "user_id", "role", "status", "source", "created_at", "ended_at",
        "deprovisioned_at",
    ),
    "sso_scimuser": (
        "id", "directory_id", "organization_id", "public_id", "external_id", "user_name",
        "user_name_key", "work_email", "display_name", "active", "document", "version",
        "user_id", "link_state", "created_at", "updated_at",
    ),
}  # fmt: skip
# The tables with a row per person: their indexes are rebuilt once after the load rather
# than kept up to date row by row.
PER_PERSON = ("accounts_user", "account_emailaddress", "organizations_membership", "sso_scimuser")

DOCUMENT = (
    '{"schemas": ["' + CORE + '", "' + ENTERPRISE + '"], "externalId": "%s", "userName": "%s", '
    '"name": {"givenName": "%s", "familyName": "%s", "formatted": "%s %s"}, '
    '"displayName": "%s %s", "emails": [{"value": "%s", "type": "work", "primary": true}], '
    '"active": true, "title": "%s", "' + ENTERPRISE + '": {"employeeNumber": "%d", '
    '"department": "%s"}}'
)


def check_columns(cursor: Any) -> None:
    """Each table's columns are exactly the ones the load writes (NOT NULL ones included)."""
    for table, columns in COLUMNS.items():
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        )
        actual = {row[0] for row in cursor.fetchall()}
        if actual != set(columns):
            raise SystemExit(
                f"{table}: the load writes {sorted(set(columns))} but the table has "
                f"{sorted(actual)}; update bench/scim_seed.py"
            )


def reserve_ids(cursor: Any, table: str, count: int) -> int:
    """The first of ``count`` consecutive ids taken from ``table``'s sequence (nothing else
    writes to the database during the load)."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def detach_indexes(cursor: Any, tables: tuple[str, ...]) -> list[str]:
    """Drops every constraint but the primary key and every index not behind a constraint on
    ``tables``; returns the statements that put them back, foreign keys last."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f', 'x')",
        [list(tables)],
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
    unique = [c for c in constraints if c[2] != "f"]
    for table, name, _, _ in foreign + unique:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    restore = [f"{definition}" for _, definition in indexes]
    restore += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, _, d in unique + foreign]
    return restore


def copy_rows(cursor: Any, table: str, rows: Iterator[tuple]) -> int:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
    )
    count = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _users(ids: dict[str, int], dataset: Dataset, now: Any) -> Iterator[tuple]:
    for org in range(dataset.organizations):
        for index in range(dataset.per_organization):
            given, family, user_name = person(org, index)
            n = org * dataset.per_organization + index
            yield (
                ids["accounts_user"] + n, "!" + secrets.token_hex(20), None, False, uuid.uuid4(),
                user_name, f"{given} {family}", True, False, now, False, "", None, False, None,
            )  # fmt: skip


def _addresses(ids: dict[str, int], dataset: Dataset) -> Iterator[tuple]:
    for org in range(dataset.organizations):
        for index in range(dataset.per_organization):
            n = org * dataset.per_organization + index
            yield (
                ids["account_emailaddress"] + n,
                ids["accounts_user"] + n,
                person(org, index)[2],
                True,
                True,
            )


def _memberships(ids: dict[str, int], dataset: Dataset, now: Any) -> Iterator[tuple]:
    for org in range(dataset.organizations):
        for index in range(dataset.per_organization):
            n = org * dataset.per_organization + index
            yield (
                ids["organizations_membership"] + n, ids["organizations_organization"] + org,
                ids["accounts_user"] + n, "member", "active", "scim", now, None, None,
            )  # fmt: skip


def _records(ids: dict[str, int], dataset: Dataset, now: Any) -> Iterator[tuple]:
    for org in range(dataset.organizations):
        directory = ids["sso_directory"] + org
        for index in range(dataset.per_organization):
            n = org * dataset.per_organization + index
            given, family, user_name = person(org, index)
            external = str(uuid.uuid4())  # Entra's objectId
            title = DEPARTMENTS[index % len(DEPARTMENTS)]
            document = DOCUMENT % (
                external, user_name, given, family, given, family, given, family, user_name,
                f"{title} associate", index, title,
            )  # fmt: skip
            yield (
                ids["sso_scimuser"] + n, directory, ids["organizations_organization"] + org,
                uuid.uuid4(), external, user_name, user_name, user_name, f"{given} {family}",
                True, document, 1, ids["accounts_user"] + n, "linked", now, now,
            )  # fmt: skip


def _organization_rows(ids: dict[str, int], dataset: Dataset, now: Any) -> dict[str, Iterator]:
    from organizations.models import all_login_methods

    orgs = range(dataset.organizations)
    methods = json.dumps(all_login_methods())
    return {
        "organizations_organization": (
            (ids["organizations_organization"] + o, uuid.uuid4(), f"SCIM bench {o:04d}",
             slug_of(o), "", "", "", "", "", None, now) for o in orgs
        ),
        "organizations_organizationpolicy": (
            (ids["organizations_organizationpolicy"] + o, ids["organizations_organization"] + o,
             False, methods, False, None, False, "member", now) for o in orgs
        ),
        "organizations_domain": (
            (ids["organizations_domain"] + o, ids["organizations_organization"] + o, domain_of(o),
             secrets.token_hex(16), now, now, now, "verified") for o in orgs
        ),
        "sso_directory": (
            (ids["sso_directory"] + o, ids["organizations_organization"] + o, uuid.uuid4(),
             "active", "member", False, dataset.per_organization, 0, now, None, None) for o in orgs
        ),
        "sso_directory_domains": (
            (ids["sso_directory_domains"] + o, ids["sso_directory"] + o,
             ids["organizations_domain"] + o) for o in orgs
        ),
    }  # fmt: skip


def load(dataset: Dataset) -> None:
    """Writes ``dataset`` into the (migrated, empty) database of this process's settings."""
    from django.db import connection, transaction
    from django.utils import timezone

    from sso.scim.models import Directory
    from sso.scim.tokens import new_token

    started, now = time.perf_counter(), timezone.now()
    timings: dict[str, float] = {}
    with transaction.atomic():
        cursor = connection.connection.cursor()
        check_columns(cursor)
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        sizes = dict.fromkeys(COLUMNS, dataset.organizations)
        sizes.update(dict.fromkeys(PER_PERSON, dataset.users))
        ids = {table: reserve_ids(cursor, table, size) for table, size in sizes.items()}
        # Before any row: a table with pending foreign-key checks cannot be altered.
        restore = detach_indexes(cursor, PER_PERSON)
        for table, rows in _organization_rows(ids, dataset, now).items():
            copy_rows(cursor, table, rows)
        for table, rows in (
            ("accounts_user", _users(ids, dataset, now)),
            ("account_emailaddress", _addresses(ids, dataset)),
            ("organizations_membership", _memberships(ids, dataset, now)),
            ("sso_scimuser", _records(ids, dataset, now)),
        ):
            mark = time.perf_counter()
            copy_rows(cursor, table, rows)
            timings[f"copy {table}"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for statement in restore:
            cursor.execute(statement)
        timings["indexes and constraints"] = time.perf_counter() - mark
        # Each directory's token, as the portal issues them (bench/scim.py issues fresh ones for
        # the directories it measures: each run digests under keys of its own).
        for directory in Directory.objects.filter(pk__gte=ids["sso_directory"]):
            new_token(directory)
        cursor.execute(
            f"CREATE TABLE {MARKER} (organizations integer, per_organization integer, "
            "seconds double precision, seeded_at timestamptz, layout integer)"
        )
        cursor.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, %s, now(), %s)",  # noqa: S608
            [
                dataset.organizations,
                dataset.per_organization,
                time.perf_counter() - started,
                LAYOUT,
            ],
        )
    mark = time.perf_counter()
    with connection.connection.cursor() as cursor:  # autocommit again: VACUUM may run
        for table in COLUMNS:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum analyze"] = time.perf_counter() - mark
    total = time.perf_counter() - started
    with connection.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {MARKER} SET seconds = %s", [total])  # noqa: S608
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"loaded {dataset.users:,} people in {total:.1f} s ({steps})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="the base: datasets go in <name>_10k, <name>_1m")
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    parser.add_argument("--reseed", action="store_true", help="drop and load again")
    parser.add_argument("--load", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        import django

        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        organizations, per_organization = args.load
        load(Dataset("load", organizations, per_organization))
        return
    if not args.database_url:
        parser.error("--database-url is required")
    env = {**os.environ, "GATEHOUSE_EMBEDDED": "0", "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    for label in args.dataset or sorted(DATASETS):
        url = dataset_url(args.database_url, DATASETS[label])
        ensure_dataset(url, DATASETS[label], env, reseed=args.reseed)


if __name__ == "__main__":
    main()
