"""Request-wide plumbing that every other layer relies on."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from config.api_framework import is_api_request, problem_response

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id (from a trusted load balancer) is kept only if it looks like one:
# it ends up in audit rows and logs, so arbitrary text is not welcome.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id (``request.request_id``) and echoes it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = (  # type: ignore[attr-defined]
            incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        )
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        return response


class APIMethodMiddleware:
    """Under /api/, a method the endpoint does not have is a 405 before anything else: DRF
    would authenticate first and tell an anonymous caller 401 for a method that never works."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        view_class = getattr(view_func, "cls", None)
        if view_class is None or not is_api_request(request):
            return None
        actions = getattr(view_func, "actions", None)  # a viewset bound to its methods
        methods = (
            {method.upper() for method in actions}
            if actions
            else {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
        )
        methods.add("OPTIONS")
        if "GET" in methods:
            methods.add("HEAD")
        if request.method in methods:
            return None
        response = problem_response(405, f'Method "{request.method}" not allowed.')
        response["Allow"] = ", ".join(sorted(methods))
        return response
