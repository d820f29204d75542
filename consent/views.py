"""Consent in the product: the person's privacy page, the re-acceptance page, receipts, and the
public pages anyone can check a receipt against (policy texts, the JWKS)."""

from __future__ import annotations

import uuid
from typing import Any

from allauth.account.internal.decorators import login_not_required
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods

from config.refusals import Refusal
from consent import keys, selectors, services
from consent.middleware import REACCEPTANCE_NOTED
from consent.models import ConsentEvent, Decision, Method, PolicyVersion, Purpose


def _user(request: HttpRequest) -> Any:
    return request.user


# --- Public: policy texts and the receipt keys ---------------------------------------------------


@login_not_required
@require_http_methods(["GET", "HEAD"])
@cache_control(public=True, max_age=300)
def jwks(request: HttpRequest) -> HttpResponse:
    return JsonResponse(keys.jwks(), content_type="application/jwk-set+json")


def _published(document_id: int, version_id: int) -> PolicyVersion:
    return get_object_or_404(
        PolicyVersion.objects.published().select_related("document"),
        pk=version_id,
        document_id=document_id,
    )


@login_not_required
@require_http_methods(["GET", "HEAD"])
def policy_version(request: HttpRequest, document_id: int, version_id: int) -> HttpResponse:
    version = _published(document_id, version_id)
    return render(request, "consent/policy_version.html", {"version": version})


@login_not_required
@require_http_methods(["GET", "HEAD"])
def policy_text(request: HttpRequest, document_id: int, version_id: int) -> HttpResponse:
    """The exact text that was hashed: ``sha256`` of this body is the receipt's content_sha256."""
    version = _published(document_id, version_id)
    response = HttpResponse(version.content.encode(), content_type="text/plain; charset=utf-8")
    response["X-Content-SHA256"] = version.content_sha256
    return response


# --- The person's privacy page -------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET"])
def privacy(request: HttpRequest) -> HttpResponse:
    return _render_privacy(request)


def _render_privacy(request: HttpRequest, status: int = 200) -> HttpResponse:
    user = _user(request)
    events = (
        ConsentEvent.objects.filter(user=user)
        .select_related("purpose", "version", "version__document")
        .order_by("-occurred_at", "-id")[:200]
    )
    return render(
        request,
        "consent/privacy.html",
        {"rows": selectors.consent_rows(user), "events": events},
        status=status,
    )


class DecisionForm(forms.Form):
    purpose = forms.UUIDField()
    decision = forms.ChoiceField(choices=Decision.choices)
    # The version the page showed, for a purpose with a document: a newer one is a 409.
    version = forms.IntegerField(required=False, min_value=1, max_value=2**62)


@login_required
@require_http_methods(["POST"])
def decide(request: HttpRequest) -> HttpResponse:
    """Give or withdraw one optional consent (or set "do not sell"): one click each way."""
    user = _user(request)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a purpose and whether you agree.")
        return _render_privacy(request, 400)
    purpose = Purpose.objects.filter(public_id=form.cleaned_data["purpose"]).first()
    if purpose is None:
        messages.error(request, "No such purpose.")
        return _render_privacy(request, 404)
    shown = form.cleaned_data["version"]
    try:
        _, created = services.record_consent(
            user=user,
            purpose=purpose,
            decision=form.cleaned_data["decision"],
            method=Method.SETTINGS,
            version=PolicyVersion.objects.filter(pk=shown).first() or PolicyVersion(pk=0)
            if shown
            else None,
        )
    except Refusal as refusal:  # shown above the choices, where the person made it
        messages.error(request, refusal.message)
        return _render_privacy(request, refusal.status)
    if created:
        messages.success(request, _said(purpose, form.cleaned_data["decision"]))
    return redirect("consent:privacy")


def _said(purpose: Purpose, decision: str) -> str:
    if purpose.kind == Purpose.Kind.OPT_OUT:
        return (
            f"Saved: {purpose.name.lower()}."
            if decision == Decision.GRANTED
            else f"Saved: you no longer opt out ({purpose.name.lower()})."
        )
    verb = "given" if decision == Decision.GRANTED else "withdrawn"
    return f"Your consent to {purpose.name.lower()} is {verb}."


@login_required
@require_http_methods(["GET"])
def receipt(request: HttpRequest, event_id: uuid.UUID) -> HttpResponse:
    event = ConsentEvent.objects.filter(user=_user(request), public_id=event_id).first()
    if event is None:
        raise Http404("No such receipt.")
    response = HttpResponse(event.receipt, content_type="application/jwt")
    response["Content-Disposition"] = f'attachment; filename="consent-receipt-{event_id}.jwt"'
    return response


# --- Re-acceptance -------------------------------------------------------------------------------


def safe_next(request: HttpRequest, raw: str | None) -> str:
    if raw and url_has_allowed_host_and_scheme(
        raw, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return raw
    return reverse("selfservice:profile")


def _shown_versions(request: HttpRequest, pending: list[Purpose]) -> dict[int, Any]:
    """The version of each purpose the page showed (a hidden field beside each box)."""
    shown: dict[int, Any] = {}
    for purpose in pending:
        raw = request.POST.get(f"version_{purpose.public_id}", "")
        version = (
            PolicyVersion.objects.filter(pk=int(raw), document_id=purpose.document_id).first()
            if raw.isascii() and raw.isdigit() and len(raw) < 19
            else None
        )
        # A missing or foreign version id is a page that did not say what it showed: refuse.
        shown[purpose.pk] = version or PolicyVersion(pk=0)
    return shown


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest) -> HttpResponse:
    """What someone who owes an acceptance sees before anything else (consent.middleware)."""
    user = _user(request)
    pending = list(selectors.pending_required(user).select_related("binding_version", "document"))
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not pending:
        return redirect(next_url)
    status = 200
    missing: list[Purpose] = []
    if request.method == "POST":
        missing = [p for p in pending if request.POST.get(f"accept_{p.public_id}") != "on"]
        shown = _shown_versions(request, pending)
        if not missing:
            try:
                services.accept_pending(user=user, purposes=pending, shown=shown)
            except Refusal:
                # A newer version was published while the page was open: show that one.
                messages.error(request, "This changed while you were reading. Please review it.")
                status = 409
            else:
                request.session.pop(REACCEPTANCE_NOTED, None)  # a later version is on record again
                messages.success(request, "Thank you. You can carry on.")
                return redirect(next_url)
        else:
            status = 400
    items = [
        {"purpose": p, "version": p.current_version(), "missing": p in missing} for p in pending
    ]
    return render(
        request,
        "consent/accept.html",
        {"items": items, "next": next_url, "missing": bool(missing)},
        status=status,
    )
