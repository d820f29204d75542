"""POST /api/v1/users/import/: the import, for an operator's migration scripts.

Done while the caller waits, for at most ``IMPORT_API_MAX_ROWS`` people per call (1,000 by
default; the body at most ``IMPORT_API_MAX_BODY_BYTES``): no password is hashed on the way in,
so a full call takes seconds. Larger files go in several calls or through
``manage.py import_users``. Calls are safe to repeat: a retried call updates, never
duplicates. Bad rows are listed in the answer (200) with their position and the rest are
written; a body that is not an import at all is a 400 problem.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.imports import rows as import_rows
from accounts.imports.services import import_people
from config.api_framework import BoundedJSONParser, PatternField, StrictTypes
from config.refusals import Refusal
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, StaffPermission


class ImportBodyParser(BoundedJSONParser):
    limit_setting = "GATEHOUSE_IMPORT_API_MAX_BODY_BYTES"


class ImportRequestSerializer(StrictTypes, serializers.Serializer[Any]):
    source = PatternField(
        r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        required=False,
        default="import",
        help_text="The system the people come from (auth0, keycloak...): external ids are "
        "unique within it.",
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Say what would change; write nothing."
    )
    people = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        min_length=1,
        max_length=settings.GATEHOUSE_IMPORT_API_MAX_ROWS,
        help_text="The people, each an object as one line of a JSON Lines import file "
        "(docs/import.md). Give this or csv.",
    )
    csv = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="A CSV import file's text, header line first (docs/import.md). Give this "
        "or people.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("people" in attrs) == ("csv" in attrs):
            raise serializers.ValidationError({"people": ["Give people or csv, not both."]})
        return attrs


class RowErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="The person's position in people, or CSV line.")
    field = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()
    email = serializers.CharField(allow_blank=True)


class RowOutcomeSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    email = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    changes = serializers.ListField(child=serializers.CharField())


class ImportReportSerializer(serializers.Serializer[Any]):
    source = serializers.CharField()
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    refused = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)
    rows = RowOutcomeSerializer(many=True)


class UserImportView(APIView):
    """Import people from another system: create or update them with their addresses,
    names, organizations, password hashes and TOTP secrets. Bad rows are reported in
    ``errors`` and the others written."""

    permission_classes = (SignedInOrToken, StaffPermission)
    parser_classes = (ImportBodyParser,)
    required_scopes = {"POST": ["users:write"]}
    session_perms = {"POST": "accounts.add_user"}

    @extend_schema(request=ImportRequestSerializer, responses=ImportReportSerializer)
    def post(self, request: Request) -> Response:
        if bound_organization_id(request) is not None:
            raise Refusal(
                "An app bound to an organization cannot import people: imports reach every "
                "organization.",
                status=403,
            )
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "people" in data:
            rows = [
                import_rows.person_or_error(number, raw)
                for number, raw in enumerate(data["people"], start=1)
            ]
        else:
            rows = list(import_rows.read_csv(import_rows.text_lines(data["csv"])))
            if len(rows) > settings.GATEHOUSE_IMPORT_API_MAX_ROWS:
                raise exceptions.ValidationError(
                    {"csv": [f"At most {settings.GATEHOUSE_IMPORT_API_MAX_ROWS} people a call."]}
                )
        report = import_people(
            rows, actor=request.user, source=data["source"], dry_run=data["dry_run"]
        )
        body = {
            "source": report.source,
            "dry_run": report.dry_run,
            **report.counts(),
            "errors": [error.as_dict() for error in report.errors],
            "rows": [row.as_dict() for row in report.rows],
        }
        return Response(ImportReportSerializer(body).data)
