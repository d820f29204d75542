"""Where people meet the chain: the public JWKS of checkpoint keys, the management API's
``POST /api/v1/organizations/<slug>/audit/verify`` (and ``GET .../audit/verify/<id>`` for a
check running in the background, audit/chain/verifications.py), and the audit page's
checkpoint download, verify form and background checks (behind ``Perm.VIEW_AUDIT``, scoped to
the page's organization)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from allauth.account.internal.decorators import login_not_required
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimits import Limit, spend
from audit.actions import Action
from audit.chain import checkpoints, verifications
from audit.chain.models import AuditChain, AuditVerification
from audit.chain.verify import Report, verify
from audit.services import record
from config.refusals import Refusal, service
from organizations.api.views import OrgScopedMixin
from organizations.models import Membership, Organization
from organizations.pages import org_page, page_context, signed_in_user
from organizations.permissions import Perm, is_app
from organizations.services.guards import require

# A checkpoint is a few hundred bytes; anything much larger is not one.
MAX_CHECKPOINT_BYTES = 16 * 1024
# Checking reads the organization's whole chain: so many checks started per organization per
# window, the API and the audit page together, in the request or in the background (polling a
# check and asking while one is under way cost nothing).
VERIFY_LIMIT = Limit(attempts=10, window_seconds=600)


class TooManyChecks(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _spend_a_check(org: Organization) -> None:
    spent = spend(f"audit-verify:org:{org.pk}", VERIFY_LIMIT)
    if not spent.allowed:
        raise TooManyChecks(spent.retry_after)


@login_not_required
@require_http_methods(["GET", "HEAD"])
@cache_control(public=True, max_age=300)
def jwks(request: HttpRequest) -> HttpResponse:
    """Every checkpoint key, active and retired (public, like the consent receipt keys)."""
    return JsonResponse(checkpoints.jwks(), content_type="application/jwk-set+json")


def status(org: Organization) -> dict[str, Any]:
    """What the audit page says about the chain: how far it is sealed, the last checkpoint,
    and the recent background checks."""
    chain = AuditChain.objects.filter(chain=org.pk).first()
    newest = checkpoints.newest_checkpoint(org.pk)
    return {
        "chain_size": chain.size if chain else 0,
        "sealed_through": chain.sealed_through_at if chain else None,
        "last_checkpoint": newest,
        "checks": verifications.recent(org),
    }


@service
def _verified(org: Organization, actor: Any, report: Report, claim: checkpoints.Claim) -> None:
    """The check itself is on the record, with what it found."""
    membership = actor if isinstance(actor, Membership) else None
    record(
        Action.AUDIT_VERIFIED,
        actor=membership.user if membership else None,
        actor_text=actor.audit_text if is_app(actor) else "",
        organization=org,
        data={"size": claim.size, "ok": report.ok, "problems": len(report.problems)},
    )


@dataclass(frozen=True)
class CheckedNow:
    """A check run in the request (a chain short enough)."""

    claim: checkpoints.Claim
    report: Report


def _check(
    org: Organization, actor: Any, raw: Any, *, in_background: bool = False
) -> CheckedNow | verifications.Started:
    """Check ``org``'s log against the checkpoint ``raw``: in the request when the chain is
    short enough, else (or when asked) in the background. While a background check of ``org``
    is under way, every request answers with that one, and costs nothing of the quota."""
    claim = checkpoints.read(raw)
    if claim.chain != org.pk:
        raise checkpoints.CheckpointInvalid("The checkpoint is for another organization's log.")
    running = verifications.under_way(org)
    if running is not None:
        return verifications.Started(running, new=False)
    length = verifications.length_to_check(org)
    _spend_a_check(org)  # only a checkpoint that could be checked counts
    if in_background or verifications.too_long_for_a_request(length):
        return verifications.start(
            org=org,
            actor=actor,
            claim=claim,
            checkpoint=verifications.signed_parts(raw),
            length=length,
        )
    report = verify(org.pk, claim)
    _verified(org, actor, report, claim)
    return CheckedNow(claim, report)


class CheckpointSerializer(serializers.Serializer):
    """A checkpoint as the audit page downloads it (for the schema: the view reads the body
    itself, so that a checkpoint it cannot trust gets one clear message)."""

    origin = serializers.CharField()
    chain = serializers.IntegerField()
    size = serializers.IntegerField()
    head_hash = serializers.CharField()
    signed_at = serializers.CharField()
    kid = serializers.CharField()
    signature = serializers.CharField()
    note = serializers.CharField(help_text="The signed text; what the checkpoint vouches for.")


class ProblemFoundSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What is wrong, naming the position and event.")
    position = serializers.IntegerField(allow_null=True)
    event_id = serializers.CharField(allow_null=True, help_text="The audit event's id.")


class ReportSerializer(serializers.Serializer):
    """What a check found (for the schema: the view answers with ``Report.as_json``)."""

    chain = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="Whether the log verifies against the checkpoint.")
    checked = serializers.IntegerField(help_text="Events checked.")
    size = serializers.IntegerField(help_text="The last position checked.")
    pruned_through = serializers.IntegerField(help_text="Where retention last cut the chain.")
    first_problem = serializers.CharField(allow_null=True)
    problems = ProblemFoundSerializer(many=True, help_text="The first 100 problems.")
    problem_count = serializers.IntegerField()


class VerificationSerializer(serializers.Serializer):
    """A check of the log run in the background (a chain too long to check in a request)."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(
        choices=AuditVerification.Status.choices,
        help_text="queued, running, done (see result) or failed (see error: the check could "
        "not finish; start another).",
    )
    url = serializers.SerializerMethodField(help_text="Where to poll the check.")
    checkpoint_size = serializers.IntegerField(help_text="The size the checkpoint vouches for.")
    to_check = serializers.IntegerField(help_text="Events to check, when it was asked for.")
    checked = serializers.IntegerField(help_text="Events checked so far.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    result = ReportSerializer(allow_null=True, help_text="When done: what the check found.")
    error = serializers.SerializerMethodField(help_text="When failed: why.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, verification: AuditVerification) -> str:
        request = self.context["request"]
        return str(request.build_absolute_uri(verification_path(verification)))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, verification: AuditVerification) -> str | None:
        return verification.last_error or None


def verification_path(verification: AuditVerification) -> str:
    return reverse(
        "api:audit-verification",
        kwargs={"org_slug": verification.organization.slug, "check_id": verification.public_id},
    )


def _poll_later(response: Response, verification: AuditVerification) -> Response:
    if verification.is_active:
        response["Retry-After"] = str(verifications.POLL_SECONDS)
    return response


def _respond_async(request: Request) -> bool:
    """``Prefer: respond-async`` (RFC 7240): the caller wants a check to poll, whatever the
    chain's length."""
    preferences = request.headers.get("Prefer", "")
    return any(
        part.split(";")[0].strip().lower() == "respond-async" for part in preferences.split(",")
    )


class _AuditAPI(OrgScopedMixin, APIView):
    perm = Perm.VIEW

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if isinstance(self.actor, Membership):
            require(self.actor, self.org, Perm.VIEW_AUDIT, f"api {self.__class__.__name__}")


_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[202],
    description="Where to poll the check.",
)


def _retry_after(status: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[status],
        description="While the check is queued or running: seconds to wait before polling.",
    )


class AuditVerifyView(_AuditAPI):
    """Check the organization's audit log against a checkpoint (the JSON the audit page
    downloads). A chain of up to ``GATEHOUSE_AUDIT_VERIFY_SYNC_MAX`` events is checked at once:
    200 with ``ok`` and the first problem, naming its position and event. A longer one (or any,
    with ``Prefer: respond-async``) is checked in the background: 202 with the check and its
    ``Location`` to poll; while one is queued or running, every request answers with it. 400
    when the checkpoint itself cannot be trusted (malformed, unknown key, bad signature); 429
    past the organization's quota of checks started."""

    required_scopes = {"POST": ["audit:read"]}

    @extend_schema(
        operation_id="audit_verify",
        request=CheckpointSerializer,
        parameters=[
            OpenApiParameter(
                "Prefer",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="respond-async: check in the background even a short chain.",
            ),
            _LOCATION,
            _retry_after(202),
        ],
        responses={
            200: OpenApiResponse(ReportSerializer, description="Checked at once."),
            202: OpenApiResponse(
                VerificationSerializer,
                description="Being checked in the background (or already being checked).",
            ),
        },
    )
    def post(self, request: Request, org_slug: str) -> Response:
        in_background = _respond_async(request)
        try:
            checked = _check(self.org, self.actor, request.data, in_background=in_background)
        except checkpoints.CheckpointInvalid as exc:
            raise exceptions.ValidationError({"checkpoint": [str(exc)]}) from None
        except TooManyChecks as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        if isinstance(checked, CheckedNow):
            return Response(checked.report.as_json())
        verification = checked.verification
        verification.refresh_from_db()  # run already, where tasks run eagerly (embedded mode)
        body = VerificationSerializer(verification, context={"request": request}).data
        response = Response(body, status=202)
        response["Location"] = body["url"]
        if in_background:
            response["Preference-Applied"] = "respond-async"
        return _poll_later(response, verification)


class AuditVerificationView(_AuditAPI):
    """One background check of the organization's log: its status, progress and, once done,
    what it found (as a check in the request answers). Polling costs nothing of the quota."""

    required_scopes = {"GET": ["audit:read"]}

    @extend_schema(
        operation_id="audit_verification",
        parameters=[_retry_after(200)],
        responses={
            200: OpenApiResponse(
                VerificationSerializer, description="The check: queued, running, done or failed."
            )
        },
    )
    def get(self, request: Request, org_slug: str, check_id: uuid.UUID) -> Response:
        verification = verifications.find(self.org, check_id)
        if verification is None:
            raise exceptions.NotFound("No such check of this organization's log.")
        body = VerificationSerializer(verification, context={"request": request}).data
        return _poll_later(Response(body), verification)


# --- The audit page -------------------------------------------------------------------------------


@org_page(Perm.VIEW_AUDIT)
@require_POST
def download_checkpoint(
    request: HttpRequest, org: Organization, membership: Membership
) -> HttpResponse:
    """A checkpoint of the chain as it stands now (signed on request if it grew), as JSON."""
    user = signed_in_user(request)
    checkpoint = checkpoints.sign(org.pk, actor=user)
    if checkpoint is None:
        messages.error(request, "Nothing is sealed yet: try again in a minute.")
        return redirect("orgs:audit", slug=org.slug)
    _downloaded(org, user, checkpoint.size)
    body = json.dumps(checkpoints.as_json(checkpoint), indent=2) + "\n"
    response = HttpResponse(body, content_type="application/json")
    stamp = timezone.localtime(checkpoint.signed_at)
    name = f"audit-checkpoint-{org.slug}-{checkpoint.size}-{stamp:%Y%m%d-%H%M}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@service
def _downloaded(org: Organization, user: Any, size: int) -> None:
    record(Action.AUDIT_CHECKPOINT_DOWNLOADED, actor=user, organization=org, data={"size": size})


@org_page(Perm.VIEW_AUDIT)
@require_POST
def verify_upload(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    """Check the log against an uploaded checkpoint; the answer comes back as a message, or,
    for a long chain, as a check listed on the audit page."""
    upload = request.FILES.get("checkpoint")
    if upload is None or upload.size is None or upload.size > MAX_CHECKPOINT_BYTES:
        messages.error(request, "Choose a checkpoint file (the JSON this page downloads).")
        return redirect("orgs:audit", slug=org.slug)
    try:
        checked = _check(org, membership, upload.read())
    except checkpoints.CheckpointInvalid as exc:
        messages.error(request, str(exc))
        return redirect("orgs:audit", slug=org.slug)
    except TooManyChecks as exc:
        minutes = max(1, round(exc.retry_after / 60))
        messages.error(
            request,
            f"This organization's log has been checked {VERIFY_LIMIT.attempts} times in the "
            f"last {VERIFY_LIMIT.window_seconds // 60} minutes. Try again in about {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
        )
        return redirect("orgs:audit", slug=org.slug)
    if isinstance(checked, verifications.Started):
        _started_message(request, checked)
        return redirect("orgs:audit", slug=org.slug)
    report, claim = checked.report, checked.claim
    if report.ok:
        messages.success(
            request,
            f"The log verifies: {report.checked} events up to position {report.size} lead to "
            f"the checkpoint of {claim.size} events.",
        )
    else:
        messages.error(request, f"The log does not verify: {report.summary()}")
    return redirect("orgs:audit", slug=org.slug)


def _started_message(request: HttpRequest, started: verifications.Started) -> None:
    verification = started.verification
    if not started.new:
        messages.info(
            request,
            "A check of this log is already under way (against the checkpoint of "
            f"{verification.checkpoint_size} events); its result will be listed below. Start "
            "another once it has finished.",
        )
    else:
        messages.info(
            request,
            f"This log has {verification.to_check} events, too many to check while you wait: "
            "it is being checked in the background. Reload this page to follow the check "
            "below.",
        )


@org_page(Perm.VIEW_AUDIT)
@require_http_methods(["GET"])
def verification_detail(
    request: HttpRequest, org: Organization, membership: Membership, public_id: uuid.UUID
) -> HttpResponse:
    """One background check: how far it has got and, once done, every problem it found."""
    verification = verifications.find(org, public_id)
    if verification is None:
        raise Refusal("No such check of this organization's log.", status=404)
    context = page_context(org, membership, verification=verification)
    return render(request, "organizations/audit_verification.html", context)
