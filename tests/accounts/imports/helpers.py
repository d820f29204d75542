"""Shared by the import tests: running an import from rows, and signing in through HTTP."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from accounts.imports import rows
from accounts.imports.services import Report, import_people

GATEHOUSE_HASH = "argon2$argon2id$v=19$m=19456,t=2,p=1$"


def run(people: list[dict[str, Any]], **options: Any) -> Report:
    """Import ``people`` (JSON rows) as the command would read them from a file."""
    lines = [json.dumps(person) + "\n" for person in people]
    options.setdefault("source", "test")
    return import_people(rows.read_jsonl(lines), actor=None, **options)


def sign_in(email: str, password: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": password})
    return client, response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session
