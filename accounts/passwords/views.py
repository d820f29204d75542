"""The meter's estimate: ``POST /accounts/password/strength/`` with ``password`` (and the
``email`` typed beside it, guessed first) answers zxcvbn's score, feedback and the form's rules
as JSON. A POST, so the password stays out of URLs and logs; CSRF-protected like every form;
rate-limited per client address (``password_strength``). Nothing is stored or logged."""

from __future__ import annotations

from allauth.core import ratelimit
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.passwords import strength


@login_not_required
@never_cache
@require_POST
@sensitive_post_parameters("password")
def password_strength(request: HttpRequest) -> JsonResponse:
    if not ratelimit.consume(request, action="password_strength"):
        return JsonResponse(
            {"title": "Too many requests", "status": 429},
            status=429,
            content_type="application/problem+json",
        )
    password = request.POST.get("password", "")
    email = request.POST.get("email", "")[:254]
    inputs = [email, email.split("@", 1)[0]] if email else []
    if request.user.is_authenticated:
        inputs += [request.user.email, getattr(request.user, "display_name", "")]
    return JsonResponse(strength.estimate(password, inputs).as_json())
