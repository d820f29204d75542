"""At 200,000 people and 200,000 audit events (built with bulk SQL in a few seconds), no admin
page counts either table without a bound, and a search by address or prefix is answered by an
index: each query the page ran is EXPLAINed and must not read the big tables in full.

PostgreSQL only: the estimate, the operator-class indexes and the plans are PostgreSQL's."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.admin_scale.world import staff_client
from tests.conftest import require

pytestmark = pytest.mark.django_db

ROWS = 200_000
BIG = ("accounts_user", "account_emailaddress", "audit_auditevent")

# Pages whose every query must avoid a sequential scan of a big table.
INDEXED_PAGES = [
    "/admin/accounts/user/",
    "/admin/accounts/user/?q=bulk123456%40big.example",
    "/admin/accounts/user/?q=BULK123456%40Big.Example",
    "/admin/accounts/user/?q=bulk12345",
    "/admin/accounts/user/?q=Bulk%2012345",
    "/admin/audit/auditevent/",
    "/admin/audit/auditevent/?q=bulk123456%40big.example",
    "/admin/audit/auditevent/?q=bulk1234",
]
# Pages that must not count a big table without a bound (their plans are the planner's call).
COUNTED_PAGES = [*INDEXED_PAGES, "/admin/accounts/user/?verified=yes"]


def _fill() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, public_id, email, display_name,"
            " is_active, is_staff, date_joined, is_blocked, blocked_reason, mfa_required)"
            " SELECT '!', false, gen_random_uuid(), 'bulk' || g || '@big.example',"
            " 'Bulk ' || g, true, false, now() - g * interval '1 second', false, '', false"
            " FROM generate_series(1, %s) g",
            [ROWS],
        )
        cursor.execute(
            'INSERT INTO account_emailaddress (user_id, email, verified, "primary")'
            " SELECT id, email, id % 2 = 0, true FROM accounts_user"
            " WHERE email LIKE 'bulk%%@big.example'"
        )
        cursor.execute(
            "INSERT INTO audit_auditevent (id, occurred_at, action, outcome, actor_text,"
            " target_type, target_id, target_text, user_agent, request_id, data)"
            " SELECT gen_random_uuid(), now() - g * interval '1 second', 'login.succeeded',"
            " 'success', 'bulk' || g || '@big.example', 'user', g::text, '', '', '', '{}'"
            " FROM generate_series(1, %s) g",
            [ROWS],
        )
        for table in BIG:
            cursor.execute(f"ANALYZE {table}")


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_admin_pages_neither_count_nor_scan_the_big_tables():
    require(connection.vendor == "postgresql", "the plans checked here are PostgreSQL's")
    client = staff_client()
    _fill()
    client.get("/admin/")

    captured: dict[str, list[str]] = {}
    for path in COUNTED_PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        captured[path] = [q["sql"] for q in queries.captured_queries]
        if "@big.example" in path or path.endswith("bulk12345"):
            assert response.context["cl"].result_list, path  # the search finds its person

    unbounded = {
        path: sql
        for path, sqls in captured.items()
        for sql in sqls
        if "COUNT(" in sql and any(t in sql for t in BIG) and not re.search(r"LIMIT \d+\)", sql)
    }
    assert not unbounded

    scans = {
        (path, table): sql[:300]
        for path in INDEXED_PAGES
        for sql in captured[path]
        if sql.lstrip().upper().startswith("SELECT")
        for table in BIG
        if f"Seq Scan on {table}" in _plan(sql)
    }
    assert not scans

    # The count a large list shows is the planner's estimate, said to be one.
    listing = client.get("/admin/accounts/user/")
    assert listing.context["cl"].count_is_estimate
    assert "about " in listing.content.decode()
