"""The OpenAPI schema of the management API describes every answer the server gives: besides
each operation's success, the errors it can answer with, each a problem response (RFC 9457).
``tests/api/test_schema_contract.py`` holds the server to it."""

from __future__ import annotations

from typing import Any

from django.core.validators import EmailValidator, RegexValidator, URLValidator
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from config.api_framework import PROBLEM_CONTENT_TYPE, PatternField


class ProblemSerializer(serializers.Serializer):
    """An error, as RFC 9457 describes it."""

    type = serializers.URLField(help_text="Names the kind of problem.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    errors = serializers.DictField(
        required=False, help_text="Per field, what is wrong with it (400 on invalid fields)."
    )
    consent_url = serializers.URLField(
        required=False, help_text="Where the person accepts updated terms (403)."
    )
    security_url = serializers.URLField(
        required=False, help_text="Where the person adds a required second factor (403)."
    )


_ERROR_DESCRIPTIONS = {
    "400": "The request is malformed or has invalid fields.",
    "401": "Not signed in.",
    "403": "Not allowed: the caller's role, or a gate they must pass first (updated terms to "
    "accept, a second factor to add).",
    "404": "No such object, or not one the caller may see.",
    "409": "Conflicts with the current state (already exists, last owner...).",
    "410": "Gone: what the request points at (a feed cursor) is older than what is kept.",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "429": "Too many requests: wait for the number of seconds in Retry-After.",
}
NON_BLANK_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
ANY_TEXT = r"^[^\x00]*$"
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class GatehouseAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the errors every operation can answer with, so that the
    schema describes every status the server sends (each as a problem response), and text
    fields that say what DRF refuses: an empty or blank value where blank is not allowed."""

    def _get_serializer_field_meta(self, field: Any, direction: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        if isinstance(field, PatternField):
            meta.pop("minLength", None)  # its pattern alone says whether empty is allowed
        return meta

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            isinstance(field, serializers.CharField)
            and not field.read_only
            and schema.get("type") == "string"
            and "enum" not in schema
        ):
            has_own_rule = (
                "pattern" in schema
                or "format" in schema
                or any(
                    isinstance(validator, RegexValidator | EmailValidator | URLValidator)
                    for validator in field.validators
                )
            )
            if not has_own_rule:
                # DRF refuses NUL characters in text, and trims surrounding spaces before it
                # checks for blanks: a value of spaces only is empty.
                if field.allow_blank:
                    schema["pattern"] = ANY_TEXT
                else:
                    schema["minLength"] = max(1, schema.get("minLength", 1))
                    schema["pattern"] = NON_BLANK_TEXT
        return schema

    def _error_statuses(self) -> list[str]:
        statuses = ["401", "403"]
        has_path_parameters = "{" in self.path
        is_paginated = self._is_list_view() and self._get_paginator() is not None
        has_query = is_paginated or bool(self._get_filter_parameters())
        if self.method in _WRITES:
            statuses += ["400", "409", "429"]
            if self.method != "DELETE":
                statuses += ["413", "415"]
        elif has_query or self._request_parameters():
            statuses.append("400")
        if has_path_parameters or is_paginated:
            statuses.append("404")
        if "429" not in statuses and getattr(self.view, "required_scopes", None) is not None:
            statuses.append("429")  # an app's calls a minute (provider/api/ratelimits.py)
        statuses += getattr(self.view, "extra_error_statuses", ())
        return statuses

    def _request_parameters(self) -> list[Any]:
        """Parameters the caller sends (a response header declared here is not one)."""
        return [
            parameter
            for parameter in self.get_override_parameters()
            if not (isinstance(parameter, OpenApiParameter) and parameter.response)
        ]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in self._error_statuses():
            if status in responses:
                continue
            response: dict[str, Any] = {
                "description": _ERROR_DESCRIPTIONS[status],
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
            }
            if status == "401":
                response["headers"] = {
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": "How to authenticate.",
                    }
                }
            if status == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before trying again.",
                    }
                }
            responses[status] = response
        return dict(sorted(responses.items()))


class SessionCookieScheme(OpenApiAuthenticationExtension):
    """How to call the API with Gatehouse's session, as the schema tells it: the session
    cookie; writes also send the CSRF cookie and the same token in the ``X-CSRFToken`` header."""

    target_class = "config.api_framework.GatehouseSessionAuthentication"
    name = ["sessionCookie", "csrfCookie", "csrfHeader"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        from django.conf import settings

        return [
            {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME},
            {"type": "apiKey", "in": "cookie", "name": settings.CSRF_COOKIE_NAME},
            {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
        ]

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]]:
        if auto_schema.method in _WRITES:
            return {name: [] for name in self.name}
        return {"sessionCookie": []}


class PatternFieldSchema(OpenApiSerializerFieldExtension):
    """A ``PatternField`` is its pattern: one rule, no separate length or blank rules."""

    target_class = "config.api_framework.PatternField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": self.target.pattern}
