"""How Gatehouse says no, and how it writes.

Every app refuses with ``Refusal``: a message fit to show the person who asked, the HTTP status
it maps to, and, for refusals that must be on record, the audit action and its details. The
three places that turn one into a response are here too: ``refusal_page`` for HTML views (the
``RefusalMiddleware`` calls it for any view that does not catch the refusal itself),
``config.api.exception_handler`` for the API (problem+json) and ``admin_refusal`` for the admin.

Writes go through ``@service``: one durable transaction per call (requests are not wrapped in
one), and when the call refuses, its writes roll back and then the refusal's audit event is
written on its own, so no rollback can erase the record of a refused attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from django.contrib import messages
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.actions import Action, Outcome
from audit.services import record
from config.api_framework import is_api_request, problem_response

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

P = ParamSpec("P")
T = TypeVar("T")


class Refusal(Exception):
    """A request Gatehouse refuses, with a message fit to show the person who asked.

    ``action`` (with ``actor``, ``organization``, ``target`` and ``details``) puts the refused
    attempt on record as a failure. The event is written once, by ``record()``, after the
    transaction that refused has rolled back: ``@service`` calls it, and so does each
    translation to a response, for refusals raised outside a service.
    """

    # Subclasses may set their own default, e.g. 404 for NotFound.
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        code: str = "",
        action: Action | None = None,
        actor: Any = None,
        actor_text: str = "",
        organization: Any = None,
        target: Any = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        # Seconds to wait before trying again (a 429's Retry-After).
        self.retry_after = retry_after
        # A stable name for the reason, for code that must tell refusals apart (SSO checks).
        self.code = code
        self.action = action
        self.actor = actor
        self.actor_text = actor_text
        self.organization = organization
        self.target = target
        self.details = dict(details or {})
        self.recorded = action is None

    def record(self) -> None:
        """Write the refusal's audit event, once. Called only where no write is open, so the
        event commits on its own whatever happened to the refused change."""
        if self.recorded:
            return
        self.recorded = True
        record(
            self.action,  # type: ignore[arg-type]  # not None: recorded would be True
            actor=self.actor,
            actor_text=self.actor_text,
            organization=self.organization,
            target=self.target,
            outcome=Outcome.FAILURE,
            data=self.details,
        )


class NotFound(Refusal):
    status = 404

    def __init__(self, message: str = "Not found.", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


def inside_a_write() -> bool:
    """Whether the calling code runs inside a transaction of Gatehouse's own. The transaction a
    test case wraps around each test does not count: a service called from a test behaves as
    it does when called from a view."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@overload
def service(fn: Callable[P, T]) -> Callable[P, T]: ...


@overload
def service(*, durable: bool = True) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def service(fn: Callable[P, T] | None = None, *, durable: bool = True) -> Any:
    """The write path's transaction: the call commits as a whole or not at all.

    A durable service is the outermost transaction and fails loudly if called inside another
    one, so its caller can rely on it being committed when it returns. A service that other
    services build on is declared ``durable=False`` and joins its caller's transaction. When
    the call refuses, the refusal is recorded once no write of Gatehouse's is open any more,
    that is after the outermost service has rolled back.
    """

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                with transaction.atomic(durable=durable):
                    return fn(*args, **kwargs)
            except Refusal as refusal:
                if not inside_a_write():
                    refusal.record()
                raise

        return wrapper

    return decorate(fn) if fn is not None else decorate


# --- Translations into responses ---------------------------------------------------------------


def refusal_page(
    request: HttpRequest,
    refusal: Refusal,
    *,
    template: str = "errors/refusal.html",
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The HTML answer to a refusal: a page with its message and status."""
    refusal.record()
    response = render(
        request,
        template,
        {"message": refusal.message, "status": refusal.status, **(context or {})},
        status=refusal.status,
    )
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def admin_refusal(model_admin: ModelAdmin[Any], request: HttpRequest, refusal: Refusal) -> None:
    """The admin's answer to a refusal: its message at the top of the page it stays on."""
    refusal.record()
    model_admin.message_user(request, refusal.message, level=messages.ERROR)


class RefusalMiddleware:
    """Turns a refusal no view caught into its page (HTML) or problem (JSON under /api/)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Refusal):
            return None
        if is_api_request(request):
            exception.record()
            response = problem_response(exception.status, exception.message)
            if exception.retry_after is not None:
                response["Retry-After"] = str(exception.retry_after)
            return response
        return refusal_page(request, exception)
