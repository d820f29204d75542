"""bench/scim_app: the parts of bench/scim.py that run inside Gatehouse, one dataset at a time
(DATABASE_URL and REDIS_URL name that dataset's database and its server's Redis).

    prepare N K   the directories measured (N, spread over the dataset), each with a fresh
                  token (shown once, kept by the bench for the run), random userNames to filter
                  on, and K fresh people to deactivate, each signed in once (a browser session
                  in Redis and its row), as a person the directory deactivates would be; and
                  the last directory, with a token, for the creations (if it is not measured);
    explain       one request of each kind (and a creation) through Django's test client:
                  EXPLAIN (ANALYZE, BUFFERS) of every statement it sent to sso_scimuser, and
                  of any other that reads a per-person table from end to end;
    sessions      how many of the deactivated people still have a session.

Each prints one JSON document on its last line.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATCH_BODY = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}
FILTER_NAMES = 200
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
# The tables with a row per person: a sequential scan of one grows with the whole dataset.
PER_PERSON = ("accounts_user", "account_emailaddress", "organizations_membership", "sso_scimuser")
# More rows than a directory holds, thrown away by one filter: the statement reads everyone.
FULL_SCAN_ROWS = 5000


def sign_in(user: Any) -> str:
    """A browser session for ``user`` as a login leaves it: the session in the store (Redis)
    and its row on the sessions page. Returns its key."""
    from allauth.usersessions.models import UserSession
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    UserSession.objects.create(
        user=user, session_key=store.session_key, ip="192.0.2.10", user_agent="bench/scim"
    )
    return str(store.session_key)


def prepare(directories: int, targets: int) -> dict:
    from django.db import transaction

    from sso.scim.models import Directory, LinkState, ScimUser
    from sso.scim.tokens import new_token

    every = list(Directory.objects.filter(status=Directory.Status.ACTIVE).order_by("id"))
    chosen = [every[i * len(every) // directories] for i in range(directories)]
    measured = []
    for directory in chosen:
        with transaction.atomic():
            _, token = new_token(directory)
        names = list(
            ScimUser.objects.for_directory(directory)
            .order_by("?")
            .values_list("user_name", flat=True)[:FILTER_NAMES]
        )
        fresh = list(
            ScimUser.objects.for_directory(directory)
            .filter(active=True, link_state=LinkState.LINKED, user__isnull=False)
            .exclude(user_name__startswith="bench-create-")
            .select_related("user")
            .order_by("?")[: targets // directories + 1]
        )
        for record in fresh:
            sign_in(record.user)
        measured.append(
            {
                "token": token,
                "domain": directory.domains.get().name,
                "user_count": directory.user_count,
                "names": names,
                "targets": [str(record.public_id) for record in fresh],
            }
        )
    # Creations go to a directory of their own (the last), so the ones measured keep their size;
    # where every directory is measured (10,000 people), none are made.
    world: dict[str, Any] = {"directories": measured, "creations": None}
    if every[-1] not in chosen:
        with transaction.atomic():
            _, token = new_token(every[-1])
        world["creations"] = {"token": token, "domain": every[-1].domains.get().name}
    return world


def explain(world: dict) -> dict:
    """Each kind's request once, in this process: the plans of what it asked sso_scimuser, and
    any statement of it that reads a per-person table from end to end (writes are explained
    inside a transaction that is rolled back)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    directory = world["directories"][0]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {directory['token']}")
    offset = random.randrange(1, max(directory["user_count"] - 100, 2))
    requests = {
        "filter": lambda: client.get(
            "/scim/v2/Users", {"filter": f'userName eq "{directory["names"][0]}"'}
        ),
        "page": lambda: client.get("/scim/v2/Users", {"startIndex": offset, "count": 100}),
        "patch": lambda: client.patch(
            f"/scim/v2/Users/{world['explain_target']}",
            json.dumps(PATCH_BODY),
            content_type="application/scim+json",
        ),
    }
    if world["creations"]:
        creator = Client(
            HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {world['creations']['token']}"
        )
        name = f"bench-create-explain-{uuid.uuid4().hex[:12]}@{world['creations']['domain']}"
        body = {"schemas": [CORE], "userName": name, "externalId": name, "active": True}
        requests["create"] = lambda: creator.post(
            "/scim/v2/Users", json.dumps(body), content_type="application/scim+json"
        )
    plans: dict[str, Any] = {}
    for kind, send in requests.items():
        with CaptureQueriesContext(connection) as queries:
            response = send()
        explained: dict[str, Any] = {
            "status": response.status_code,
            "statements": len(queries),
            "plans": [],
            "full_scans": [],
        }
        for query in queries.captured_queries:
            statement = query["sql"]
            if not statement.lstrip().upper().startswith(EXPLAINABLE):
                continue
            plan = _plan(statement)
            if "sso_scimuser" in statement:
                explained["plans"].append({"sql": statement, "plan": plan})
            elif reads_everyone(plan):
                explained["full_scans"].append({"sql": statement, "plan": plan})
        plans[kind] = explained
    return plans


def reads_everyone(plan: str) -> bool:
    """Whether a plan reads a per-person table from end to end: a sequential scan, or an index
    walked for its order while a filter throws most of it away (``ORDER BY id LIMIT 1`` on a
    condition no index serves)."""
    if any(f"Seq Scan on {table}" in plan for table in PER_PERSON):
        return True
    removed = re.findall(r"Rows Removed by Filter: (\d+)", plan)
    return any(int(count) > FULL_SCAN_ROWS for count in removed)


class _Rollback(Exception):
    pass


def _plan(statement: str) -> str:
    from django.db import DatabaseError, connection, transaction

    lines: list[str] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            lines = [row[0] for row in cursor.fetchall()]
            raise _Rollback
    except _Rollback:
        pass
    except DatabaseError as error:  # an INSERT again, say, on a row the request already wrote
        return f"(not explained: {str(error).splitlines()[0]})"
    return "\n".join(lines)


def sessions_left(public_ids: list[str]) -> dict:
    from allauth.usersessions.models import UserSession

    from sso.scim.models import ScimUser

    users = ScimUser.objects.filter(public_id__in=public_ids).values_list("user_id", flat=True)
    rows = list(UserSession.objects.filter(user_id__in=list(users)))
    alive = sum(1 for row in rows if row.exists())
    inactive = ScimUser.objects.filter(public_id__in=public_ids, active=False).count()
    return {"deactivated": inactive, "session_rows": len(rows), "sessions_in_store": alive}


def main() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    command, *rest = sys.argv[1:]
    if command == "prepare":
        result = prepare(int(rest[0]), int(rest[1]))
    elif command == "explain":
        result = explain(json.loads(sys.stdin.read()))
    elif command == "sessions":
        result = sessions_left(json.loads(sys.stdin.read()))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
