"""The person's side of erasure: the page that asks them to confirm deleting their account (after
a step-up, typing the word "delete"), and calling a scheduled deletion off. The privacy page shows
where a request stands (templates/consent/erasure_panel.html)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.mfa.stepup import stepup_required
from config.refusals import Refusal
from consent.erasure import schedule
from consent.models import DataSubjectRequest


class ConfirmErasureForm(forms.Form):
    confirm = forms.CharField(
        label=f'Type "{schedule.CONFIRMATION}" to confirm',
        max_length=20,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value.lower() != schedule.CONFIRMATION:
            raise forms.ValidationError(f'Type the word "{schedule.CONFIRMATION}" to confirm.')
        return value


@never_cache
@login_required
@stepup_required
@require_http_methods(["GET", "POST"])
def request_erasure(request: HttpRequest) -> HttpResponse:
    user = request.user
    existing = schedule.open_erasure(user)  # type: ignore[arg-type]
    if existing is not None:
        return redirect("consent:privacy")
    form = ConfirmErasureForm(request.POST or None)
    blocking = schedule.blocking_organizations(user)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        try:
            schedule.request_erasure(
                user=user,  # type: ignore[arg-type]
                via=DataSubjectRequest.Via.SELF,
            )
        except Refusal as refusal:  # shown on the form, beside what to do about it
            form.add_error(None, refusal.message)
        else:
            # The banner above every account page says when; this says what happens next.
            messages.info(request, "We have emailed you the date and how to keep your account.")
            return redirect("consent:privacy")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "consent/erasure_confirm.html",
        {
            "form": form,
            "blocking": blocking,
            "grace_days": settings.GATEHOUSE_ERASURE_GRACE_DAYS,
        },
        status=status,
    )


@login_required
@require_http_methods(["POST"])
def cancel_erasure(request: HttpRequest) -> HttpResponse:
    try:
        schedule.cancel_erasure(user=request.user)  # type: ignore[arg-type]
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Your account will not be deleted.")
    return redirect("consent:privacy")
