"""An organization's audit log in the portal: filters, the actor search, keyset pages without a
count, and CSV/JSON exports (streamed, or built in the background), each export audited."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import exports
from audit.actions import Action
from audit.models import AuditEvent, AuditExport
from tests.audit.helpers import BASE, event, series
from tests.organizations.conftest import OrgWorld, signed_in


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


@pytest.fixture
def admin_a(world):
    return signed_in(world.a_admin)


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [str(e.pk) for e in response.context["page"].events]


def test_each_filter_returns_exactly_its_events_and_never_another_organizations(world, admin_a):
    pat = event(world.a, actor_text="Pat@Example.com")
    other_actor = event(world.a, actor_text="sam@example.com")
    failed = event(world.a, actor_text="pat@example.com", outcome="failure", action="login.failed")
    about_sam = event(world.a, action="org.member_removed", target_type="membership", target_id="7")
    old = event(world.a, at=BASE - timedelta(days=10))
    event(world.b, actor_text="pat@example.com")  # the same actor in org B never shows

    get = lambda **q: set(_ids(admin_a.get("/orgs/acme/audit/", q)))  # noqa: E731
    assert get(actor="PAT@") == {str(pat.pk), str(failed.pk), str(about_sam.pk), str(old.pk)}
    assert get(actor="sam@example.com") == {str(other_actor.pk)}
    assert get(action="login.failed") == {str(failed.pk)}
    assert get(outcome="failure") == {str(failed.pk)}
    assert get(target_type="membership", target_id="7") == {str(about_sam.pk)}
    ten_days_ago = {"since": BASE.date() - timedelta(11), "until": BASE.date() - timedelta(9)}
    assert get(**ten_days_ago) == {str(old.pk)}
    assert str(old.pk) not in get(since=BASE.date())


def test_an_actor_search_takes_percent_and_underscore_literally(world, admin_a):
    literal = event(world.a, actor_text="a_b%c@example.com")
    event(world.a, actor_text="axbyc@example.com")

    assert _ids(admin_a.get("/orgs/acme/audit/", {"actor": "a_b%"})) == [str(literal.pk)]


@pytest.mark.parametrize(
    "query",
    [
        {"action": "no.such_action"},
        {"outcome": "maybe"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"target_id": "7"},
        {"target_type": "Robert'); DROP TABLE"},
        {"older": "not-a-position"},
        {"newer": "MjAyNnxub3QtYS11dWlk"},
    ],
)
def test_bad_filters_or_positions_get_a_400_page_not_a_500(world, admin_a, query):
    event(world.a)
    response = admin_a.get("/orgs/acme/audit/", query)
    assert response.status_code == 400
    assert response.context["page"] is None


def test_keyset_pages_walk_the_whole_log_both_ways_without_gaps_or_repeats(world, admin_a):
    made = series(world.a, 70)
    # Ties: several events in the same microsecond, ordered by id.
    made += [event(world.a, at=BASE + timedelta(minutes=30)) for _ in range(40)]
    newest_first = [
        str(e.pk) for e in sorted(made, key=lambda e: (e.occurred_at, e.pk), reverse=True)
    ]

    pages, response = [], admin_a.get("/orgs/acme/audit/", {"actor": "pat@"})
    while True:
        pages.append(_ids(response))
        older = response.context["page"].older
        if older is None:
            break
        response = admin_a.get("/orgs/acme/audit/", {"actor": "pat@", "older": older})
    assert [len(p) for p in pages] == [50, 50, 10]
    assert [pk for page in pages for pk in page] == newest_first

    back = []
    while (newer := response.context["page"].newer) is not None:
        response = admin_a.get("/orgs/acme/audit/", {"actor": "pat@", "newer": newer})
        back.append(_ids(response))
    assert back == pages[:-1][::-1]


def test_a_page_counts_nothing_and_costs_the_same_however_long_the_log(world, admin_a):
    series(world.a, 5)
    admin_a.get("/orgs/acme/audit/")  # sessions, caches and the like warm up
    with CaptureQueriesContext(connection) as short:
        first = admin_a.get("/orgs/acme/audit/")
    series(world.a, 120, start=BASE + timedelta(days=1))
    older = admin_a.get("/orgs/acme/audit/").context["page"].older
    with CaptureQueriesContext(connection) as long:
        second = admin_a.get("/orgs/acme/audit/", {"older": older, "actor": "pat"})

    assert first.status_code == second.status_code == 200
    statements = [q["sql"] for q in [*short.captured_queries, *long.captured_queries]]
    assert not [s for s in statements if "COUNT(" in s.upper()]
    assert not [s for s in statements if "OFFSET" in s.upper()]
    assert len(long.captured_queries) <= len(short.captured_queries) <= 15
    reads = [s for s in statements if 'FROM "audit_auditevent"' in s]
    assert reads
    assert all("LIMIT 51" in s for s in reads)


def _csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_a_small_export_streams_the_filtered_events_as_csv_and_is_audited(world, admin_a):
    hostile = event(world.a, actor_text='=HYPERLINK("http://evil")', action="login.failed")
    event(world.a, action="logout")
    event(world.b, action="login.failed")

    response = admin_a.post("/orgs/acme/audit/export/", {"format": "csv", "action": "login.failed"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(b"".join(response.streaming_content))
    assert [r["event_id"] for r in rows] == [str(hostile.pk)]
    assert rows[0]["actor"] == '\'=HYPERLINK("http://evil")'  # no formula in a spreadsheet
    audited = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_EXPORTED)
    assert audited.actor_id == world.a_admin.pk
    assert audited.data == {"format": "csv", "filters": {"action": "login.failed"}}


def test_a_small_export_as_json_holds_every_event_of_the_range(world, admin_a):
    made = series(world.a, 3)
    event(world.a, at=BASE - timedelta(days=3))

    response = admin_a.post(
        "/orgs/acme/audit/export/",
        {"format": "json", "since": BASE.date().isoformat(), "until": BASE.date().isoformat()},
    )

    assert response["Content-Type"] == "application/json"
    rows = json.loads(b"".join(response.streaming_content))
    assert [r["event_id"] for r in rows] == [str(e.pk) for e in made]
    assert rows[0]["actor"] == "pat@example.com"
    assert rows[0]["data"] == {}


def test_an_export_in_an_unknown_format_is_refused_on_the_audit_page(world, admin_a):
    response = admin_a.post("/orgs/acme/audit/export/", {"format": "xlsx"}, follow=True)
    assert response.redirect_chain == [("/orgs/acme/audit/", 302)]
    assert "Choose CSV or JSON" in response.content.decode()
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORTED).exists()


def test_a_large_export_is_built_in_the_background_then_downloaded_and_expires(
    world, admin_a, settings, django_capture_on_commit_callbacks
):
    settings.GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS = 5
    made = series(world.a, 12)
    event(world.b)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_a.post("/orgs/acme/audit/export/", {"format": "csv", "actor": "pat"})
    assert response.status_code == 302

    export = AuditExport.objects.get(organization=world.a)
    assert export.status == AuditExport.Status.READY
    assert export.rows == 12
    assert b"pat@example.com" not in bytes(export.data)  # stored encrypted
    page = admin_a.get("/orgs/acme/audit/")
    assert str(export.public_id) in page.content.decode()

    download = admin_a.get(f"/orgs/acme/audit/exports/{export.public_id}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/gzip"
    rows = _csv(gzip.decompress(download.content))
    assert [r["event_id"] for r in rows] == [str(e.pk) for e in made]
    logged = set(AuditEvent.objects.for_org(world.a).values_list("action", flat=True))
    assert {"audit.export_requested", "audit.export_ready", "audit.export_downloaded"} <= logged

    assert exports.build(export.pk) == "skipped"  # a second run of the task does nothing
    AuditExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(1))
    assert exports.expire() == 1
    export.refresh_from_db()
    assert export.status == AuditExport.Status.EXPIRED
    assert bytes(export.data) == b""
    assert admin_a.get(f"/orgs/acme/audit/exports/{export.public_id}/").status_code == 404


def test_a_second_background_export_waits_for_the_first(world, admin_a, settings):
    settings.GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS = 1
    series(world.a, 3)
    AuditExport.objects.create(organization=world.a, format="csv")

    response = admin_a.post("/orgs/acme/audit/export/", {"format": "json"}, follow=True)

    assert AuditExport.objects.for_org(world.a).count() == 1
    assert "already being prepared" in response.content.decode()


def test_an_export_over_the_maximum_fails_with_a_reason(world, settings):
    settings.GATEHOUSE_AUDIT_EXPORT_MAX_ROWS = 2
    series(world.a, 3)
    export = AuditExport.objects.create(organization=world.a, format="json")

    assert exports.build(export.pk) == "failed"
    export.refresh_from_db()
    assert "narrow the date range" in export.last_error
