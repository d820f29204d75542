"""What every /o/ endpoint refuses before DOT or oauthlib sees the request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from oauthlib.common import urldecode


def well_formed(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A query string oauthlib cannot decode (``%zz``) makes it raise while building its
    request object, which DOT does not catch: a 500 for anyone who asks. Answer 400 first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            urldecode(request.META.get("QUERY_STRING", ""))
        except ValueError:
            response = JsonResponse(
                {"error": "invalid_request", "error_description": "The query string is malformed."},
                status=400,
            )
            response["Cache-Control"] = "no-store"
            return response
        return view(request, *args, **kwargs)

    return wrapped
