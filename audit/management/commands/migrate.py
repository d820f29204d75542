"""``migrate``, run as the owner role when ``DATABASE_OWNER_URL`` is set (audit/db_roles.py).

Migrations change the schema, which only the owner may do; afterwards the application role is
given what it needs, and the command fails if that role could still change evidence (it owns
the tables, is a superuser or a member of the owner, or was granted more by hand) or lacks what
Gatehouse needs (the evidence functions, after migrating back past them).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands import migrate

from audit import db_roles


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as DATABASE_OWNER_URL's role when it is set."

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        with db_roles.as_owner(alias) as owner:
            super().handle(*args, **options)
            if not owner or options.get("plan") or options.get("check_unapplied"):
                return
            db_roles.grant_app_privileges(alias)
            app = db_roles.app_role(alias)
            problems = db_roles.privilege_problems(app, alias)
            if problems:
                raise CommandError(
                    f"The application role {app} is not set up as it must be: "
                    + "; ".join(problems)
                )
            if options["verbosity"] >= 1:
                self.stdout.write(f"Privileges of the application role {app} are in place.")
