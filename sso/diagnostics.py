"""What a refused or tested SSO sign-in shows.

"Test connection" runs a real sign-in through a connection and ends on a diagnostic page
instead of a session: which step failed (the step table of ``sso.checks``), why, what the IdP
sent, and what Gatehouse would do with it. Outside a test, a refused sign-in ends on the refusal
page with the check's name for the IT team, and its audit event.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.refusals import Refusal, refusal_page
from sso import checks, entry
from sso.admission import admit, claims_of, groups_of, idp_reported_mfa
from sso.models import Connection
from sso.services.logins import record_test

logger = logging.getLogger(__name__)


def answer_refusal(
    request: HttpRequest,
    connection: Connection,
    refusal: Refusal,
    *,
    details: dict | None = None,
) -> HttpResponse:
    """The answer to a sign-in through ``connection`` that ``refusal`` stopped: the diagnostic
    when it was an admin's test (which records the test, not a failed sign-in; ``details`` is
    what the IdP had sent), otherwise the refusal page, with the refusal's audit event."""
    if entry.is_test(request, connection):
        entry.end_test(request)
        refusal.recorded = True  # the test's own event says what failed
        return connection_test_result(request, connection, refusal=refusal, details=details)
    logger.info("SSO sign-in refused on %s: %s", connection.slug, refusal.code)
    return refusal_page(
        request,
        refusal,
        template="sso/login_failed.html",
        context={"connection": connection, "check": refusal.code, "reason": refusal.message},
    )


def checklist(connection: Connection, failed: str) -> list[dict[str, str]]:
    """Each step of the connection's protocol with "passed", "failed" or "not reached"."""
    check = checks.by_code(connection.protocol, failed) if failed else None
    if failed and check is None:
        # Every check is enumerated (tests/sso/test_checks.py): this would be a new one that
        # was not, shown rather than hidden.
        return [{"label": f"Check “{failed}”", "state": "failed"}]
    states, state = [], "passed"
    for step in checks.steps(connection.protocol):
        if check is not None and step in check.steps:
            states.append({"label": step.label, "state": "failed"})
            state = "not reached"
            continue
        states.append({"label": step.label, "state": state})
    return states


def _outcome(request: HttpRequest, connection: Connection, login: Any) -> tuple[dict, str, str]:
    """What Gatehouse would do with a login that passed every protocol check, and the rule
    that would refuse it (its name and reason), if one would."""
    check = reason = ""
    outcome: dict[str, Any] = {}
    try:
        admission = admit(request, connection, login)
        outcome = {
            "decision": admission.kind,
            "role": admission.role,
            "email": admission.email or getattr(admission.user, "email", ""),
        }
    except Refusal as refusal:
        check, reason = refusal.code, refusal.message
    return outcome, check, reason


def connection_test_result(
    request: HttpRequest,
    connection: Connection,
    *,
    login: Any = None,
    refusal: Refusal | None = None,
    details: dict | None = None,
) -> HttpResponse:
    """The "Test connection" page for a login that passed the protocol checks (``login``) or
    was refused (``refusal``). No session, no account, no membership is created."""
    details = dict(details or {})
    check, reason = (refusal.code, refusal.message) if refusal is not None else ("", "")
    outcome: dict[str, Any] = {}
    if login is not None and refusal is None:
        outcome, check, reason = _outcome(request, connection, login)
        outcome["subject"] = login.account.uid
        outcome["emails"] = [a.email for a in login.email_addresses]
        outcome["groups"] = groups_of(connection, login)
        outcome["idp_mfa"] = idp_reported_mfa(connection, login, details)
        details.setdefault("attributes", claims_of(connection, login))
    record_test(connection, request.user, check=check, reason=reason)
    failed = checks.by_code(connection.protocol, check) if check else None
    return render(
        request,
        "sso/test_result.html",
        {
            "connection": connection,
            "org": connection.organization,
            "ok": not check,
            "check": check,
            "reason": reason,
            "hint": failed.message if failed is not None and failed.message != reason else "",
            "outcome": outcome,
            "steps": checklist(connection, check),
            "attributes": {
                name: ", ".join(map(str, value)) if isinstance(value, list) else value
                for name, value in (details.get("attributes") or {}).items()
            },
        },
    )
