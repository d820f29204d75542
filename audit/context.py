"""Where an audit event happened: the request it belongs to, if any.

The middleware puts the request's id, client address and user agent in a context variable so
that services deep in the call stack record them without having the request passed down.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""


_NO_REQUEST = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "gatehouse_audit_request", default=None
)


def current() -> RequestContext:
    return _current.get() or _NO_REQUEST


def activate(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
