"""How the consent API answers beyond JSON: receipts as issued (``application/jwt``), the status
of a recorded decision, and the responses the OpenAPI schema documents for them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import renderers, status
from rest_framework.request import Request
from rest_framework.response import Response

from consent.api.serializers import ConsentEventSerializer
from consent.models import ConsentEvent


class JWTRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``application/jwt``. Receipts themselves are sent as they were
    issued; anything else through this renderer (a problem response) is JSON."""

    media_type = "application/jwt"
    format = "jwt"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, str):
            return data.encode("ascii")
        return renderers.JSONRenderer().render(data)


def receipt_response(event: ConsentEvent) -> HttpResponse:
    return HttpResponse(event.receipt, content_type="application/jwt")


def recorded(request: Request, event: ConsentEvent, created: bool, subject: Any) -> Response:
    context = {"request": request, "subject": subject}
    return Response(
        ConsentEventSerializer(event, context=context).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


RECEIPT_RESPONSES = {
    (200, "application/jwt"): OpenApiResponse(
        OpenApiTypes.STR, description="The receipt as issued (compact JWS, ES256)."
    ),
    404: OpenApiResponse(description="No such event of this person."),
}
# The receipt views accept two renderers only so that either Accept header is answered; there is
# no ?format= choice to document.
NO_FORMAT_PARAMETER = [OpenApiParameter("format", exclude=True)]
EVENT_WRITE_RESPONSES = {
    201: ConsentEventSerializer,
    200: OpenApiResponse(ConsentEventSerializer, description="Nothing changed: the event on file."),
    404: OpenApiResponse(description="No such purpose, or it does not apply to the person."),
    409: OpenApiResponse(
        description="Refused: a required purpose cannot be withdrawn, the version is out of "
        "date, or the purpose is archived."
    ),
}
