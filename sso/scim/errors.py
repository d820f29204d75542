"""SCIM error responses (RFC 7644 §3.12): every failure under ``/scim/v2/`` is answered with an
``Error`` body carrying its HTTP status and, where RFC 7644 names one, its ``scimType``.

Three kinds of failure reach the transport: a ``SCIMException`` (raised by scim2-models or by
Gatehouse's own checks), a pydantic ``ValidationError`` (a payload scim2-models refused, each
error already labelled with its scimType) and a ``Refusal`` (Gatehouse's shared refusal type,
from a service further down). ``to_error`` turns any of them into one ``Error``.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from pydantic import ValidationError
from scim2_models import Error, SCIMException

from config.refusals import Refusal

SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8"
# How a caller without a usable token is told to authenticate (RFC 6750 §3).
AUTHENTICATE_CHALLENGE = 'Bearer realm="Gatehouse SCIM"'


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    return Error(status=status, scim_type=scim_type or None, detail=detail).model_dump()


def scim_response(body: Any, *, status: int = 200) -> HttpResponse:
    """A response in SCIM's media type (``body`` None: no content)."""
    if body is None:
        return HttpResponse(status=status, content_type=SCIM_CONTENT_TYPE)
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=SCIM_CONTENT_TYPE
    )


def error_response(
    status: int, detail: str, scim_type: str | None = None, **headers: str
) -> HttpResponse:
    response = scim_response(error_body(status, detail, scim_type), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def to_error(exc: Exception) -> Error:
    """The ``Error`` a failure stands for. A payload refused for several reasons is answered
    with the first; the others would only repeat its kind."""
    if isinstance(exc, SCIMException):
        return exc.to_error()
    if isinstance(exc, ValidationError):
        errors = Error.from_validation_errors(exc)
        first = errors[0] if errors else Error(status=400, scim_type="invalidValue")
        first.status = first.status or 400
        return first
    if isinstance(exc, Refusal):
        exc.record()
        return Error(status=exc.status, scim_type=exc.code or None, detail=exc.message)
    raise TypeError(f"not a SCIM failure: {type(exc).__name__}")


def response_for(error: Error, *, retry_after: int | None = None) -> HttpResponse:
    """The response that carries ``error``."""
    status = int(error.status or 400)
    response = error_response(status, error.detail or "", error.scim_type)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
