"""The audit log in the admin stays fast at tens of millions of events: no unbounded count, no
date hierarchy, no facets, and a search box whose every branch an index answers (checked with
EXPLAIN on a table large enough for the planner to care)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.search import actor_prefix, filter_events, keyset_page, search_term
from tests.audit.helpers import event, series
from tests.conftest import force_login_verified, require
from tests.factories import UserFactory

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def _listed(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [str(e.pk) for e in response.context["cl"].result_list]


def test_the_changelist_counts_at_most_the_cap_and_costs_the_same_however_long_the_log(
    staff_client,
):
    series(1, 3)
    staff_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as short:
        staff_client.get(CHANGELIST, {"o": "1"})
    series(1, 80)
    with CaptureQueriesContext(connection) as long:
        response = staff_client.get(CHANGELIST, {"p": "2", "action__exact": "login.succeeded"})

    assert (
        len(_listed(response)) == AuditEvent.objects.filter(action="login.succeeded").count() - 50
    )
    assert len(long.captured_queries) <= len(short.captured_queries) + 1
    counts = [
        q["sql"] for q in [*short.captured_queries, *long.captured_queries] if "COUNT(" in q["sql"]
    ]
    assert counts, "the paginator counts, within its cap"
    assert all(re.search(r"LIMIT 10000\)", sql) for sql in counts), counts
    assert not [q for q in long.captured_queries if "DISTINCT" in q["sql"]]  # no date hierarchy


def test_the_search_box_finds_by_email_prefix_event_id_target_and_organization(staff_client):
    pat = event(7, actor_text="Pat.Lee@Example.com")
    sam = event(8, actor_text="sam@example.com", target_type="user", target_id="42")
    ghost = event(None, actor_text="someone", request_id="req-abc")

    assert _listed(staff_client.get(CHANGELIST, {"q": "pat.lee@"})) == [str(pat.pk)]
    assert _listed(staff_client.get(CHANGELIST, {"q": str(sam.pk)})) == [str(sam.pk)]
    assert _listed(staff_client.get(CHANGELIST, {"q": "user:42"})) == [str(sam.pk)]
    assert _listed(staff_client.get(CHANGELIST, {"q": "org:7"})) == [str(pat.pk)]
    assert _listed(staff_client.get(CHANGELIST, {"q": "req-abc"})) == [str(ghost.pk)]
    assert _listed(staff_client.get(CHANGELIST, {"organization": "8"})) == [str(sam.pk)]
    # No substring search: the middle of an address finds nothing (it would need a scan).
    assert _listed(staff_client.get(CHANGELIST, {"q": "lee@"})) == []


# --- The planner's view on a large table --------------------------------------------------------

ROWS = 300_000


@pytest.fixture
def big_log():
    """300,000 events in 500 organizations, 2,000 actors, over a year; inserted in one
    statement (the test's transaction rolls them back)."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (id, occurred_at, action, outcome, actor_text, "
            "organization_id, target_type, target_id, target_text, user_agent, request_id, data) "
            "SELECT gen_random_uuid(), now() - (i || ' minutes')::interval, 'login.succeeded', "
            "'success', 'user' || (i %% 2000) || '@example.com', i %% 500, 'user', "
            "(i %% 2000)::text, '', '', md5(i::text), '{}'::jsonb "
            "FROM generate_series(1, %s) AS i",
            [ROWS],
        )


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_admins_email_search_uses_the_actor_prefix_index(big_log):
    plan = _plan(search_term(AuditEvent.objects.all(), "user1234@"))
    assert "audit_actor_prefix" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_the_portals_actor_filter_and_pages_use_the_organizations_indexes(big_log):
    org_log = AuditEvent.objects.for_org(42)
    filtered = filter_events(org_log, {"actor": "user42@"})
    plan = _plan(filtered.order_by("-occurred_at", "-id")[:51])
    assert re.search(r"audit_org_(actor_prefix|when)", plan), plan
    assert "Seq Scan" not in plan, plan

    page = keyset_page(org_log, size=50)
    assert len(page.events) == 50
    plan = _plan(org_log.order_by("-occurred_at", "-id")[:51])
    assert "Index Scan Backward using audit_org_when" in plan, plan
    assert "Sort" not in plan, plan


def test_an_actor_prefix_is_a_range_on_the_index_not_a_filter(big_log):
    plan = _plan(actor_prefix(AuditEvent.objects.all(), "user77"))
    assert re.search(r"Index Cond: \(\(lower\(\(actor_text\)::text\) ~>=~", plan), plan
