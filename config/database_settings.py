"""The database connections: PostgreSQL from ``DATABASE_URL``, else the embedded SQLite file,
and the schema owner's credentials from ``DATABASE_OWNER_URL``. Read by config/settings.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def databases(url: str, *, data_dir: Path, conn_max_age: int) -> dict[str, dict[str, Any]]:
    if url:
        default: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
        )
        # Server-side cursors cost extra round trips for the small result sets Gatehouse
        # iterates, and break behind a transaction-pooling PgBouncer.
        default["DISABLE_SERVER_SIDE_CURSORS"] = True
        return {"default": default}
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "gatehouse.sqlite3"),
            # IMMEDIATE: a transaction takes the write lock when it starts, so two requests
            # racing to use the same one-time code queue up instead of failing with
            # "database is locked" halfway through.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }


def owner_credentials(url: str, app: dict[str, Any]) -> dict[str, str] | None:
    """The credentials of the role that owns the schema, for the commands that change it.

    Production connects as two PostgreSQL roles (audit/db_roles.py): ``DATABASE_URL`` is the
    application's (``app``), which may add audit and consent evidence but never change or
    remove it; ``DATABASE_OWNER_URL`` is the owner's, which runs migrations and owns the
    functions that erasure and retention go through. Give the owner's URL only to the process
    that migrates: a web or worker process holding it could do everything the owner can.
    """
    if not url:
        return None
    owner = dj_database_url.parse(url)
    if "postgresql" not in str(owner["ENGINE"]) or "postgresql" not in str(app["ENGINE"]):
        raise ImproperlyConfigured("DATABASE_OWNER_URL and DATABASE_URL must be PostgreSQL.")
    place = ("HOST", "PORT", "NAME")
    if [str(owner.get(k) or "") for k in place] != [str(app.get(k) or "") for k in place]:
        raise ImproperlyConfigured(
            "DATABASE_OWNER_URL must name the same host, port and database as DATABASE_URL; "
            "only the role differs."
        )
    if not owner.get("USER") or owner["USER"] == app.get("USER"):
        raise ImproperlyConfigured(
            "DATABASE_OWNER_URL must connect as another role than DATABASE_URL: the application "
            "role must not own the tables (it could then rewrite the audit log)."
        )
    return {"USER": str(owner["USER"]), "PASSWORD": str(owner.get("PASSWORD") or "")}
