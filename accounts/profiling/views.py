"""The questions page: the profile fields due now, after a sign-in or for an app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts.profiling import forms as profile_forms
from accounts.profiling import prompts
from accounts.profiling.services import save_answers

SCOPES_MAX = 20


def _next_url(request: HttpRequest) -> str:
    candidate = request.GET.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("selfservice:profile")


def _scopes(request: HttpRequest) -> list[str]:
    return str(request.GET.get("scope", ""))[:1000].split()[:SCOPES_MAX]


@login_required
@require_http_methods(["GET", "POST"])
def questions(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    fields = prompts.due_now(request, _scopes(request))
    if not fields:
        prompts.forget_settled(request)
        return HttpResponseRedirect(next_url)
    form = profile_forms.QuestionsForm(request.POST or None, fields=fields)
    if request.method == "POST":
        skipping = request.POST.get("action") == "skip"
        if skipping and form.skippable:
            save_answers(user=request.user, fields=fields, values={}, skip_blank=True)
            prompts.forget_settled(request)
            return HttpResponseRedirect(next_url)
        if not skipping and form.is_valid():
            save_answers(
                user=request.user,
                fields=fields,
                values=profile_forms.answered(form, fields),
                skip_blank=True,
            )
            prompts.forget_settled(request)
            return HttpResponseRedirect(next_url)
        if skipping:
            form.is_valid()  # show which answers are required
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/profile_questions.html", {"form": form}, status=status)
