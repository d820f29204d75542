"""The sign-in challenge: an ALTCHA proof of work, made and checked here, solved in the browser
by the ALTCHA widget (served from static/, shipped by django-altcha; no third party is asked).

A challenge is signed with a key derived from SECRET_KEY and expires after
``GATEHOUSE_CHALLENGE_SECONDS``. A solved challenge is used once: its signature is claimed in
the shared cache with an atomic add (SET NX), so a replayed solution is refused even when two
copies arrive at the same moment.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

import altcha
from django import forms
from django.conf import settings
from django.core.cache import cache
from django.templatetags.static import static
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.html import format_html
from django.utils.safestring import SafeString

FIELD_NAME = "altcha"
MAX_PAYLOAD_LENGTH = 2000


def _key() -> str:
    return salted_hmac("gatehouse.takeover.altcha", "hmac-key", algorithm="sha256").hexdigest()


def new_challenge() -> dict[str, Any]:
    """A fresh challenge, as the widget takes it (``challengejson``)."""
    expires = timezone.now() + datetime.timedelta(seconds=settings.GATEHOUSE_CHALLENGE_SECONDS)
    challenge = altcha.create_challenge(
        altcha.ChallengeOptions(
            hmac_key=_key(), max_number=settings.GATEHOUSE_CHALLENGE_MAX_NUMBER, expires=expires
        )
    )
    return challenge.to_dict()


def solve(challenge: dict[str, Any]) -> str:
    """The payload a browser would post for ``challenge`` (for tests and the benchmark)."""
    import base64

    solution = altcha.solve_challenge(
        challenge["challenge"],
        challenge["salt"],
        challenge["algorithm"],
        int(challenge.get("maxNumber") or challenge.get("maxnumber") or 0),
        0,
    )
    if solution is None:
        raise ValueError("no solution")
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def check(payload: str) -> str:
    """ "" when ``payload`` solves a challenge of ours that is unexpired and not used before
    (and marks it used); else why not: "missing", "wrong" or "replayed"."""
    payload = (payload or "").strip()
    if not payload:
        return "missing"
    if len(payload) > MAX_PAYLOAD_LENGTH:
        return "wrong"
    try:
        ok, _error = altcha.verify_solution(payload, _key(), check_expires=True)
    except Exception:  # noqa: BLE001 - any malformed payload is simply not a solution
        ok = False
    if not ok:
        return "wrong"
    # Claimed by the signed challenge itself (one challenge, one use), not by the payload
    # (the same solution re-encoded would be another string).
    import base64

    signature = json.loads(base64.b64decode(payload))["signature"]
    claim = "altcha:used:" + hashlib.sha256(str(signature).encode()).hexdigest()
    if not cache.add(claim, 1, timeout=settings.GATEHOUSE_CHALLENGE_SECONDS + 60):
        return "replayed"
    return ""


class ChallengeWidget(forms.HiddenInput):
    """The ALTCHA widget: a custom element that solves the challenge in a worker and puts the
    payload in a hidden input of the same name. Its script is a module file (no inline code)."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        return format_html(
            '<script type="module" src="{}"></script>'
            '<altcha-widget name="{}" challengejson="{}" hidefooter hidelogo '
            'aria-describedby="challenge-help"></altcha-widget>'
            '<p class="field__help" id="challenge-help">We are seeing unusual sign-in '
            "activity, so your browser does a moment of extra work before signing in.</p>",
            static("altcha/altcha.min.js"),
            name,
            json.dumps(new_challenge()),
        )


MESSAGES = {
    "missing": "Wait for the check under the form to finish, then sign in again.",
    "wrong": "The browser check did not pass. Try again.",
    "replayed": "That browser check was already used. Try again.",
}
