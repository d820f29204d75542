"""How a call to ``/scim/v2/`` is served, from the bearer token to the request log.

``ScimMiddleware`` sits right after ``SecurityMiddleware`` and answers every path under
``/scim/`` itself, as ``config.machine_endpoints`` does for the OAuth endpoints machines call:
directories use no session, no CSRF token, no signed-in person, and none of the gates that
send a person to a page first (MFA enrolment, consent, session lifetime). What it does, in
order:

1. authenticate the bearer token (``sso.scim.tokens``): a failure is a bare 401 with
   ``WWW-Authenticate``; repeated failures from one address are 429 for a while (counted in
   the shared cache), while a good token from that address still gets through;
2. a paused directory gets 503 with ``Retry-After``;
3. find the endpoint (an unknown path is a SCIM 404) and check its methods (405);
4. run it under the service's ``ScimPolicy``, turning every failure into a SCIM ``Error``;
5. write a ``ScimRequest`` row (no body, no personal data), outside any transaction, whatever
   the outcome (``sso.scim.tasks`` keeps the last 1,000 per directory).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError, IntegrityError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from pydantic import ValidationError
from scim2_models import (
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    PayloadTooLargeException,
    SCIMException,
    UniquenessException,
)

from accounts.ratelimits import Limit, spend
from audit import context
from config.api_framework import json_depth_exceeds
from config.refusals import Refusal
from organizations.services.members import SessionStoreDown
from sso.scim import tokens
from sso.scim.actor import DirectoryActor
from sso.scim.discovery import PROVIDER
from sso.scim.errors import AUTHENTICATE_CHALLENGE, error_response, response_for, to_error
from sso.scim.models import Directory, ScimRequest

logger = logging.getLogger(__name__)

PREFIX = "/scim/"
BASE_PATH = "/scim/v2/"
ACCEPTED_TYPES = {"application/scim+json", "application/json"}
# Failed authentications per client address, and how long the address then waits.
# Seconds a directory is asked to wait before sending a call again after a 503 that is not
# a pause (a session store or a database that failed the call).
RETRY_SOON = 5
FAILED_AUTH_LIMIT = Limit(attempts=20, window_seconds=300)
# How long a paused directory is asked to wait before trying again.
PAUSED_RETRY_AFTER = 300


@dataclass
class ScimCall:
    """One authenticated call: whose directory, and what the request log says about it."""

    request: HttpRequest
    directory: Directory
    base_url: str
    resource_type: str = ""
    resource_id: Any = None
    operation: str = ""
    scim_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> DirectoryActor:
        return DirectoryActor(self.directory)


Endpoint = Callable[..., HttpResponse]


def endpoint(*methods: str, resource_type: str = "") -> Callable[[Endpoint], Endpoint]:
    """Declare a view as a SCIM endpoint answering ``methods``."""

    def decorate(view: Endpoint) -> Endpoint:
        view.scim_methods = frozenset(methods)  # type: ignore[attr-defined]
        view.scim_resource_type = resource_type  # type: ignore[attr-defined]
        return view

    return decorate


class ScimMiddleware:
    """Every path under ``/scim/`` through the SCIM pipeline (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.user = AnonymousUser()
        return serve(request)


def serve(request: HttpRequest) -> HttpResponse:
    started = time.monotonic()
    caller = tokens.authenticate(request.headers.get("Authorization", ""))
    if caller is None:
        return _unauthenticated(context.current().ip or "unknown")
    call = ScimCall(request, caller.directory, request.build_absolute_uri(BASE_PATH))
    try:
        response = _dispatch(request, call)
    except (SCIMException, ValidationError, Refusal) as exc:
        response = _failed(call, exc)
    except IntegrityError:
        # Two writes raced for the same userName, displayName or externalId; the loser's
        # transaction rolled back whole.
        response = _failed(call, UniquenessException(detail="A resource with those values exists."))
    except DataError:
        # A value PostgreSQL cannot store or compare (a NUL character); nothing was written.
        response = _failed(call, InvalidValueException(detail="A value cannot be stored."))
    except OperationalError:
        # A lock wait that PostgreSQL ended (a deadlock, a timeout), or the database away:
        # nothing was written, and the directory retries a 503.
        logger.warning("SCIM call ended by the database; answered 503", exc_info=True)
        response = error_response(
            503, "The change could not be made now. Send it again.", Retry_After=str(RETRY_SOON)
        )
    except SessionStoreDown:
        # The change committed (the membership has ended and the org's tokens with it), but
        # the person's sessions could not be ended. The directory retries on a 503, and the
        # repeated deactivation runs the session step again.
        logger.warning("SCIM deactivation committed but the session store failed")
        response = error_response(
            503,
            "The change is saved, but signing the person out failed. Send it again.",
            Retry_After=str(RETRY_SOON),
        )
    _log(call, response, started)
    return response


def _failed(call: ScimCall, exc: Exception) -> HttpResponse:
    error = to_error(exc)
    call.scim_type = error.scim_type or ""
    return response_for(error, retry_after=getattr(exc, "retry_after", None))


def _dispatch(request: HttpRequest, call: ScimCall) -> HttpResponse:
    if call.directory.status == Directory.Status.PAUSED:
        return error_response(
            503,
            "This directory is paused by its organization.",
            Retry_After=str(PAUSED_RETRY_AFTER),
        )
    try:
        match = resolve(request.path_info)
    except Resolver404:
        raise NotFoundException(detail="No such endpoint.") from None
    view = match.func
    methods = getattr(view, "scim_methods", None)
    if methods is None:
        raise NotFoundException(detail="No such endpoint.")
    call.resource_type = view.scim_resource_type  # type: ignore[attr-defined]
    call.operation = request.method or ""
    if request.method not in methods:
        return error_response(
            405, f"{request.method} is not allowed here.", Allow=", ".join(sorted(methods))
        )
    with PROVIDER:
        return cast(HttpResponse, view(request, call, **match.kwargs))


# --- Authentication failures ---------------------------------------------------------------------


def _unauthenticated(address: str) -> HttpResponse:
    """401, and once an address has failed too often, 429 for its failing calls until the
    window ends. A call with a good token is never refused for its address's failures: Entra
    and Okta call from addresses many tenants share, and one tenant's broken token must not
    lock out the rest. Failures are logged, not audited one by one."""
    spent = spend(f"scim-auth-failed:{address}", FAILED_AUTH_LIMIT)
    logger.info("SCIM call with no usable token from %s", address)
    if not spent.allowed:
        return error_response(429, "Too many failed attempts.", Retry_After=str(spent.retry_after))
    return error_response(
        401, "A valid bearer token is required.", WWW_Authenticate=AUTHENTICATE_CHALLENGE
    )


# --- Bodies --------------------------------------------------------------------------------------


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The JSON object a write carries: SCIM's media type (or plain JSON), bounded in size and
    depth (``GATEHOUSE_SCIM_MAX_BODY_BYTES``, larger than the API's for groups pushed with their
    members, and the API's depth bound), never a ``RecursionError``."""
    media_type = request.content_type or ""
    if media_type.lower() not in ACCEPTED_TYPES:
        raise UnsupportedMediaTypeError(detail="Send application/scim+json.")
    limit = settings.GATEHOUSE_SCIM_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLargeException(detail=f"The body is larger than {limit} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLargeException(detail=f"The body is larger than {limit} bytes.") from None
    if len(raw) > limit:
        raise PayloadTooLargeException(detail=f"The body is larger than {limit} bytes.")
    try:
        data = json.loads(raw.decode(request.encoding or "utf-8"))
    except RecursionError:
        raise InvalidSyntaxException(detail="The JSON body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidSyntaxException(detail="The body is not valid JSON.") from None
    if json_depth_exceeds(data, settings.GATEHOUSE_API_MAX_JSON_DEPTH):
        raise InvalidSyntaxException(detail="The JSON body is nested too deeply.")
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    if _holds_nul(data):
        # PostgreSQL stores no NUL character, and no directory has a reason to send one.
        raise InvalidValueException(detail="A value cannot hold a NUL character.")
    return data


def _holds_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class UnsupportedMediaTypeError(SCIMException):
    """415: a body in a media type other than SCIM's (or plain JSON)."""

    status = 415


# --- The request log -----------------------------------------------------------------------------


def _log(call: ScimCall, response: HttpResponse, started: float) -> None:
    """One ``ScimRequest`` row, committed on its own (no transaction is open here)."""
    try:
        ScimRequest.objects.create(
            directory=call.directory,
            method=(call.request.method or "")[:8],
            resource_type=call.resource_type[:32],
            resource_public_id=call.resource_id,
            operation=call.operation[:120],
            status=response.status_code,
            scim_type=call.scim_type[:32],
            duration_ms=round((time.monotonic() - started) * 1000),
            request_id=getattr(call.request, "request_id", "")[:64],
        )
    except DatabaseError:
        logger.exception("SCIM request log not written")
