"""The pieces of Django REST framework that Gatehouse's management API is built on, each set to
keep the API's promises: how a caller proves who they are (and is told how when they have not),
how a body is read (bounded in size and depth), how lists are paged (a bad page number is the
caller's error, not a missing page), and the problem response every error is answered with.
How the OpenAPI schema describes those errors is in ``config/api_schema.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

PROBLEM_TYPE = "https://gatehouse.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
}
# How Gatehouse tells an anonymous caller how to authenticate (RFC 9110 §11.6.1): with the
# session cookie that signing in at /accounts/login/ sets.
AUTHENTICATE_CHALLENGE = 'Session realm="Gatehouse", login_url="/accounts/login/"'


class GatehouseSessionAuthentication(SessionAuthentication):
    """The browser session (with its CSRF token for writes). An anonymous call is a 401 with a
    ``WWW-Authenticate`` challenge, as HTTP asks, rather than DRF's default 403."""

    def authenticate_header(self, request: Request) -> str:
        return AUTHENTICATE_CHALLENGE


# --- Request bodies ------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` deep (walked without
    recursion, so that no input can exhaust the stack)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """JSON bodies of a bounded size and nesting depth.

    Django's own upload limit does not apply here (DRF reads the request stream itself), and
    Python's JSON decoder recurses once per level, so without these bounds a megabyte of
    ``{"a": `` would end in a ``RecursionError`` and a 500. No Gatehouse request needs more than
    a few levels.
    """

    # The setting that bounds the body: a view that takes larger bodies (an import) names
    # its own in a subclass.
    limit_setting = "GATEHOUSE_API_MAX_BODY_BYTES"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = getattr(settings, self.limit_setting)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding))
        except RecursionError:
            raise exceptions.ParseError("The JSON body is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None
        if json_depth_exceeds(data, settings.GATEHOUSE_API_MAX_JSON_DEPTH):
            raise exceptions.ParseError("The JSON body is nested too deeply.")
        return data


# A serializer mixin: JSON values must already have the type the schema gives them. DRF is
# lenient by default: it turns ``0`` into ``"0"`` for a text field, ``"yes"`` into ``True`` and
# ``"5"`` into ``5``. A client that sends the wrong type has a bug Gatehouse should tell it
# about, and the schema promises the types. (No docstring: the schema would show it as the
# description of every serializer that mixes this in.)
class StrictTypes:
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {}
            for field in self.fields.values():  # type: ignore[attr-defined]
                if field.read_only or field.field_name not in data:
                    continue
                value = data[field.field_name]
                if value is None:
                    continue  # the field's own allow_null decides
                expected = _json_type(field)
                if expected is not None and not isinstance(value, expected):
                    errors[field.field_name] = [f"Must be {_TYPE_NAMES[expected]}."]
                elif expected is int and isinstance(value, bool):
                    errors[field.field_name] = ["Must be a whole number."]
                elif _too_long(field, value):
                    # The schema's maxLength counts what was sent; DRF would count it after
                    # trimming leading and trailing whitespace and control characters.
                    errors[field.field_name] = [
                        f"Ensure this field has no more than {field.max_length} characters."
                    ]
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


def _too_long(field: Any, value: Any) -> bool:
    limit = getattr(field, "max_length", None)
    return (
        isinstance(field, serializers.CharField)
        and isinstance(value, str)
        and limit is not None
        and len(value) > limit
    )


class PatternField(serializers.RegexField):
    """Text that must match ``pattern`` whole, as sent (no trimming). The schema describes it
    by that pattern alone (config/api_schema.py), so an empty value is allowed exactly when the
    pattern allows it."""

    def __init__(self, pattern: str, **kwargs: Any) -> None:
        super().__init__(pattern, trim_whitespace=False, **kwargs)
        self.pattern = pattern
        self._allows_empty = re.match(pattern, "") is not None

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF's own blank rule would come first; here the pattern alone decides.
        if data == "":
            if not self._allows_empty:
                self.fail("invalid")
            return ""
        return super().run_validation(data)


_TYPE_NAMES: dict[type, str] = {str: "text", bool: "true or false", int: "a whole number"}


def _json_type(field: serializers.Field) -> type | None:
    if isinstance(field, serializers.CharField):
        return str
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField):
        return int
    return None


# --- Paging --------------------------------------------------------------------------------------


class Pagination(PageNumberPagination):
    """Numbered pages from 1, or keyset pages with ``cursor``.

    A page number that is not a positive whole number is a 400 on the ``page`` field; a page
    past the last one is a 404. ``?cursor=`` (empty: from the start) asks for keyset pages
    instead (config/keyset.py): ``next`` carries the cursor of the following page, so page 900
    costs what page 1 costs, where a page number is an ``OFFSET`` that reads every row before
    it; ``count`` is then PostgreSQL's estimate of the list's length, never a ``COUNT(*)``, and
    ``previous`` is null (walk forwards); ``page`` is ignored, though it must still be a
    number. A cursor this list did not make is a 404, like a page past the last one; one longer
    than the schema allows is a 400. A list whose order cannot be cut by key (a sort on a column
    that may be empty, such as consent purposes) answers numbered pages whatever the cursor.
    """

    page_size = 50
    last_page_strings = ()  # the schema promises a number: "last" is not one
    cursor_query_param = "cursor"
    max_cursor_length = 1000

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        from config import keyset

        cursor = request.query_params.get(self.cursor_query_param, "")
        if len(cursor) > self.max_cursor_length:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["Give the cursor from a page's next link."]}
            )
        # A page number that is not one is refused even beside a cursor, which ignores it.
        raw = request.query_params.get(self.page_query_param)
        valid = raw is None or (raw.isascii() and raw.isdigit() and len(raw) < 10 and int(raw))
        if not valid:
            raise exceptions.ValidationError(
                {self.page_query_param: ["Give a page number from 1."]}
            )
        cols = keyset.columns(queryset.model, list(queryset.query.order_by))
        self.keyset_mode = cols is not None and self.cursor_query_param in request.query_params
        if cols is not None and self.keyset_mode:
            return self._keyset_page(queryset, request, cols)
        return super().paginate_queryset(queryset, request, view)

    def _keyset_page(self, queryset: Any, request: Request, cols: list[Any]) -> list[Any]:
        from config import keyset
        from config.admin_scale import EstimatedCountPaginator

        wrong = exceptions.NotFound("No such page: give the cursor from a page's next link.")
        cursor = request.query_params.get(self.cursor_query_param, "")
        if "\x00" in cursor:
            raise wrong
        rows = keyset.ordered(queryset, cols)
        if cursor:
            try:
                start = keyset.parse(cursor, cols)
            except keyset.BadCursor:
                raise wrong from None
            if any("\x00" in value for value in start if isinstance(value, str)):
                raise wrong
            rows = keyset.after(rows, cols, start)
        size = self.get_page_size(request) or self.page_size
        found = list(rows[: size + 1])
        page = found[:size]
        self.request = request
        self.keyset_count = EstimatedCountPaginator(queryset, size).count
        self.keyset_next = keyset.token(page[-1], cols) if len(found) > size else None
        return page

    def get_paginated_response(self, data: Any) -> Any:
        if not getattr(self, "keyset_mode", False):
            return super().get_paginated_response(data)
        from rest_framework.response import Response

        return Response(
            {
                "count": self.keyset_count,
                "next": self.get_next_link(),
                "previous": None,
                "results": data,
            }
        )

    def get_next_link(self) -> str | None:
        if not getattr(self, "keyset_mode", False):
            return super().get_next_link()
        if self.keyset_next is None:
            return None
        from rest_framework.utils.urls import remove_query_param, replace_query_param

        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, self.keyset_next)

    def get_previous_link(self) -> str | None:
        if getattr(self, "keyset_mode", False):
            return None
        return super().get_previous_link()

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset pages: empty for the first page, then the cursor in the "
                "previous page's next link (page is then ignored, count is an estimate).",
                "schema": {"type": "string", "maxLength": self.max_cursor_length},
            }
        )
        return parameters


# --- Problem responses ---------------------------------------------------------------------------


def problem_body(status: int, detail: Any, **extra: Any) -> dict[str, Any]:
    """The JSON of a problem response: every API error is answered with one."""
    return {
        "type": f"{PROBLEM_TYPE}{status}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }


def problem_response(status: int, detail: str, **extra: Any) -> JsonResponse:
    """A problem response from plain Django code (middleware, URL-level 404s), outside DRF."""
    return JsonResponse(
        problem_body(status, detail, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site's 404: a problem response under /api/ (a path no route matches, such as a
    member id that is not a number), a SCIM error under /scim/ (RFC 7644 §3.12; the SCIM
    middleware answers its own paths, this covers a request that reached the full stack),
    Gatehouse's page everywhere else."""
    if request.path.startswith("/scim/"):
        return JsonResponse(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "404",
                "detail": "Not found.",
            },
            status=404,
            content_type="application/scim+json",
        )
    if is_api_request(request):
        return problem_response(404, "Not found.")
    return defaults.page_not_found(request, exception or Http404())
