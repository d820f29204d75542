"""Who may start or finish a login through a connection, and the "Test connection" mode.

A connection's protocol URLs resolve whatever its status (the IdP needs a draft's metadata
before anyone turns it on), so every way in asks here. An active connection logs people in.
A draft or disabled one is only usable by an org admin's "Test connection", marked in that
admin's session: the login runs every check, then shows a diagnostic instead of a session.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from django.http import HttpRequest
from django.shortcuts import render

from sso.models import Connection

TEST_SESSION_KEY = "gatehouse_sso_test"
TEST_TTL_SECONDS = 15 * 60


def start_test(request: HttpRequest, connection: Connection) -> None:
    request.session[TEST_SESSION_KEY] = {"slug": connection.slug, "started": int(time.time())}


def is_test(request: HttpRequest, connection: Connection) -> bool:
    marker = request.session.get(TEST_SESSION_KEY)
    return (
        isinstance(marker, dict)
        and marker.get("slug") == connection.slug
        and time.time() - float(marker.get("started", 0)) < TEST_TTL_SECONDS
    )


def end_test(request: HttpRequest) -> None:
    request.session.pop(TEST_SESSION_KEY, None)


def unavailable(
    request: HttpRequest, connection: Connection | None = None
) -> ImmediateHttpResponse:
    return ImmediateHttpResponse(
        render(request, "sso/unavailable.html", {"connection": connection}, status=404)
    )


def check_can_start(request: HttpRequest, connection: Connection, data: Any = None) -> None:
    if not (connection.is_active or is_test(request, connection)):
        raise unavailable(request, connection)
