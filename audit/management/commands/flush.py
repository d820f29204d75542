"""``flush``, run as the owner role when ``DATABASE_OWNER_URL`` is set (audit/db_roles.py).

Emptying every table includes the audit log, which the application role may not truncate. The
test suite flushes between tests this way too.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from audit import db_roles


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with db_roles.as_owner(options["database"]):
            super().handle(**options)
