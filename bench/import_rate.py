"""bench/import_rate: people imported per second with bcrypt hashes (issue 19).

Writes a JSON Lines file of ``--people`` generated people (default 20,000), each with a
verified address, a name, a membership of one organization and a bcrypt hash at cost 10 as
Auth0 exports them (a handful computed once and reused: making 20,000 would take minutes and
is not what is measured; an import never hashes), then times ``manage.py import_users`` on
it, in-process, against PostgreSQL: the first run (every person created) and a second run of
the same file (every person found again and left unchanged).

The run uses a database of its own (``<name>_import_bench`` beside DATABASE_URL's,
created and migrated first and dropped at the end unless ``--keepdb``), so nothing is left in
the database it points at.

    DATABASE_URL=postgres://<owner>@127.0.0.1/<db> .venv/bin/python bench/import_rate.py \
        [--people 20000] [--keepdb]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BCRYPT_COST = 10
DISTINCT_HASHES = 8


def write_file(path: Path, people: int) -> None:
    import bcrypt

    hashes = [
        bcrypt.hashpw(f"password {n}".encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
        for n in range(DISTINCT_HASHES)
    ]
    with path.open("w") as out:
        for n in range(people):
            row = {
                "external_id": f"auth0|{n:08d}",
                "email": f"person{n}@import-bench.example",
                "email_verified": True,
                "given_name": "Person",
                "family_name": str(n),
                "organizations": [{"slug": "bench", "role": "member"}],
                "password": {"format": "bcrypt", "hash": hashes[n % DISTINCT_HASHES]},
            }
            out.write(json.dumps(row) + "\n")


def timed_import(path: Path) -> tuple[float, str]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command(
        "import_users", str(path), "--source", "auth0", "--progress-every", "0", stdout=out
    )
    return time.perf_counter() - started, out.getvalue().strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--keepdb", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    from django.db import connection
    from django.test.utils import setup_test_environment

    if connection.vendor != "postgresql":
        sys.exit("bench/import_rate.py measures PostgreSQL: set DATABASE_URL.")
    logging.getLogger("gatehouse.imports").setLevel(logging.WARNING)
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_import_bench"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keepdb)
    try:
        from accounts.models import User
        from organizations import services

        owner, _ = User.objects.get_or_create(email="owner@import-bench.example")
        from organizations.models import Organization

        if not Organization.objects.filter(slug="bench").exists():
            services.create_organization(actor=owner, name="Bench", slug="bench")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "people.jsonl"
            started = time.perf_counter()
            write_file(path, args.people)
            print(f"file of {args.people} people written in {time.perf_counter() - started:.1f} s")
            first, summary = timed_import(path)
            print(f"first run:  {summary}")
            second, summary = timed_import(path)
            print(f"second run: {summary}")
        print(
            f"import rate (bcrypt cost {BCRYPT_COST}): {args.people / first:,.0f} people/s "
            f"created; {args.people / second:,.0f} people/s found again unchanged"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=args.keepdb)


if __name__ == "__main__":
    main()
