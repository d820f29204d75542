"""The person's side of data export: asking for one from the privacy page, and the page the
emailed link opens. That page only shows a Download button on GET: mail scanners fetch links
in incoming mail, and a GET that spent the single-use token would leave the person nothing."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.mfa.stepup import stepup_required
from config.refusals import Refusal
from consent.export import requesting
from consent.export.download import find_download, spend_download
from consent.models import DataSubjectRequest


def _user(request: HttpRequest) -> Any:
    return request.user


@login_required
@require_http_methods(["POST"])
def request_export(request: HttpRequest) -> HttpResponse:
    try:
        found = requesting.request_export(user=_user(request), via=DataSubjectRequest.Via.SELF)
    except Refusal as refusal:  # the privacy page says why, where the button is
        messages.error(request, refusal.message)
        return redirect("consent:privacy")
    found.refresh_from_db(fields=["status"])
    if found.status == DataSubjectRequest.Status.READY:
        messages.info(request, "Your export is ready: we have emailed you a link to download it.")
    else:
        messages.success(
            request,
            "We are preparing a copy of your data and will email you a link when it is ready.",
        )
    return redirect("consent:privacy")


@never_cache
@login_required
@stepup_required
@require_http_methods(["GET", "POST"])
def download(request: HttpRequest, public_id: uuid.UUID, token: str) -> HttpResponse:
    user = _user(request)
    if request.method == "GET":
        found = find_download(user=user, public_id=public_id, token=token)
        if found is None:
            raise Http404("No such export.")
        return render(request, "consent/export_download.html", {"export": found})
    spent = spend_download(user=user, public_id=public_id, token=token)
    if spent is None:
        raise Http404("No such export.")
    _, payload = spent
    if payload is None:
        messages.error(
            request,
            "That copy of your data can no longer be read. Please ask for a new one below.",
        )
        return redirect("consent:privacy")
    filename = f"gatehouse-export-{timezone.localdate():%Y-%m-%d}.zip"
    response = HttpResponse(payload, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
