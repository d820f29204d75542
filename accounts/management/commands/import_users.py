"""``manage.py import_users FILE``: bring people in from another system (docs/import.md)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.imports import rows as import_rows
from accounts.imports.services import Report, import_people

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class Command(BaseCommand):
    help = (
        "Import people from a JSON Lines or CSV file: addresses, names, organizations, "
        "password hashes (bcrypt, PBKDF2, Firebase scrypt, Argon2, or checked by the old "
        "system at first sign-in) and TOTP secrets. Safe to run again: it updates, never "
        "duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The file to read; - reads standard input.")
        parser.add_argument(
            "--format",
            choices=("jsonl", "csv"),
            help="The file's format (default: from its name, .csv or else JSON Lines).",
        )
        parser.add_argument(
            "--source",
            default="import",
            help="A name for the system the people come from (auth0, keycloak...): external "
            "ids are unique within it. Default: import.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change and which rows are refused; write nothing.",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=1000,
            help="Print progress after this many rows (default 1000; 0: never).",
        )
        parser.add_argument(
            "--actor",
            default="",
            help="Who runs the import, for the audit log (default: the command).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["source"]
        if not SOURCE_NAME.match(source):
            raise CommandError("--source: lower-case letters, digits, '.', '_' or '-'.")
        path = options["file"]
        fmt = options["format"] or ("csv" if str(path).lower().endswith(".csv") else "jsonl")
        every = max(0, options["progress_every"])
        verbose = options["verbosity"] >= 2
        started = time.monotonic()
        last = [0]

        def progress(report: Report) -> None:
            if every and report.seen - last[0] >= every:
                last[0] = report.seen
                rate = report.seen / max(time.monotonic() - started, 1e-9)
                self.stderr.write(f"{report.seen} rows ({rate:.0f}/s): {_counts(report)}")

        try:
            handle = (
                sys.stdin if path == "-" else Path(path).open(encoding="utf-8-sig", newline="")  # noqa: SIM115  (closed below)
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        with handle:
            report = import_people(
                import_rows.read(handle, fmt),
                actor=None,
                actor_text=options["actor"] or "manage.py import_users",
                source=source,
                dry_run=options["dry_run"],
                keep_rows=options["dry_run"] or verbose,
                batch_size=min(500, every) if every else 500,
                progress=progress,
            )
        for row in report.rows:
            if row.outcome != "unchanged":
                changes = "; ".join(row.changes)
                self.stdout.write(f"line {row.line} {row.email}: {row.outcome}: {changes}")
        for error in report.errors:
            who = f" {error.email}" if error.email else ""
            where = f" {error.field}" if error.field else ""
            self.stdout.write(f"line {error.line}{who}: refused:{where}: {error.reason}")
        seconds = time.monotonic() - started
        prefix = "Dry run, nothing written: would have " if report.dry_run else ""
        self.stdout.write(f"{prefix}{_counts(report)} ({report.seen} rows in {seconds:.1f} s)")
        if report.refused:
            raise CommandError(f"{report.refused} rows refused (see above).", returncode=2)


def _counts(report: Report) -> str:
    return ", ".join(f"{name} {count}" for name, count in report.counts().items())
