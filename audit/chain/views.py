"""Where people meet the chain: the public JWKS of checkpoint keys, the management API's
``POST /api/v1/organizations/<slug>/audit/verify``, and the audit page's checkpoint download
and verify form (behind ``Perm.VIEW_AUDIT``, scoped to the page's organization)."""

from __future__ import annotations

import json
from typing import Any

from allauth.account.internal.decorators import login_not_required
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimits import Limit, spend
from audit.actions import Action
from audit.chain import checkpoints
from audit.chain.models import AuditChain
from audit.chain.verify import Report, verify
from audit.services import record
from config.refusals import service
from organizations.api.views import OrgScopedMixin
from organizations.models import Membership, Organization
from organizations.pages import org_page, signed_in_user
from organizations.permissions import Perm, is_app
from organizations.services.guards import require

# A checkpoint is a few hundred bytes; anything much larger is not one.
MAX_CHECKPOINT_BYTES = 16 * 1024
# Checking reads the organization's whole chain, in the request: so many checks per
# organization per window, the API and the audit page together.
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
    """What the audit page says about the chain: how far it is sealed, the last checkpoint."""
    chain = AuditChain.objects.filter(chain=org.pk).first()
    newest = checkpoints.newest_checkpoint(org.pk)
    return {
        "chain_size": chain.size if chain else 0,
        "sealed_through": chain.sealed_through_at if chain else None,
        "last_checkpoint": newest,
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


def _check(org: Organization, raw: Any) -> tuple[checkpoints.Claim, Report]:
    claim = checkpoints.read(raw)
    if claim.chain != org.pk:
        raise checkpoints.CheckpointInvalid("The checkpoint is for another organization's log.")
    _spend_a_check(org)  # only a checkpoint that could be checked counts
    return claim, verify(org.pk, claim)


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


class AuditVerifyView(OrgScopedMixin, APIView):
    """Check the organization's audit log against a checkpoint (the JSON the audit page
    downloads). 200 with ``ok`` and the first problem, naming its position and event; 400 when
    the checkpoint itself cannot be trusted (malformed, unknown key, bad signature)."""

    required_scopes = {"POST": ["audit:read"]}
    perm = Perm.VIEW

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if isinstance(self.actor, Membership):
            require(self.actor, self.org, Perm.VIEW_AUDIT, "api verify audit")

    @extend_schema(
        operation_id="audit_verify", request=CheckpointSerializer, responses=OpenApiTypes.OBJECT
    )
    def post(self, request: Request, org_slug: str) -> Response:
        try:
            claim, report = _check(self.org, request.data)
        except checkpoints.CheckpointInvalid as exc:
            raise exceptions.ValidationError({"checkpoint": [str(exc)]}) from None
        except TooManyChecks as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        _verified(self.org, self.actor, report, claim)
        return Response(report.as_json())


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
    """Check the log against an uploaded checkpoint; the answer comes back as a message."""
    upload = request.FILES.get("checkpoint")
    if upload is None or upload.size is None or upload.size > MAX_CHECKPOINT_BYTES:
        messages.error(request, "Choose a checkpoint file (the JSON this page downloads).")
        return redirect("orgs:audit", slug=org.slug)
    try:
        claim, report = _check(org, upload.read())
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
    _verified(org, membership, report, claim)
    if report.ok:
        messages.success(
            request,
            f"The log verifies: {report.checked} events up to position {report.size} lead to "
            f"the checkpoint of {claim.size} events.",
        )
    else:
        messages.error(request, f"The log does not verify: {report.summary()}")
    return redirect("orgs:audit", slug=org.slug)
