"""Deploy check: the database role Gatehouse runs as cannot change audit or consent evidence.

Run by ``manage.py check --deploy --database default`` with the environment of the web
processes (no ``DATABASE_OWNER_URL``); see audit/db_roles.py for the two roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DEFAULT_DB_ALIAS, connections

from audit import db_roles


@register(Tags.database, deploy=True)
def check_evidence_privileges(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return []  # the embedded SQLite mode has only the ORM's guards
    return [
        Error(
            f"The database role Gatehouse runs as can change evidence: {problem}.",
            hint="Connect DATABASE_URL as the application role and run migrate with "
            "DATABASE_OWNER_URL set (README, 'Run it in production').",
            id="audit.E001",
        )
        for problem in db_roles.privilege_problems()
    ]
