"""What the next step of a signing-key rotation is, for ``manage.py rotate_signing_keys --auto``
and the daily beat job (provider/key_tasks.py). The steps themselves are the services of
``provider.services.keys``, which audit each one.

For each algorithm, in this order:

1. no key for an algorithm (a new installation): make one that signs at once;
2. a ``next`` key published for longer than the JWKS cache lifetime: activate it (the active
   key becomes ``retiring``, still published);
3. no ``next`` key, and the active one older than ``rotate_after``: publish the next one;
4. ``retiring`` keys older than the longest token lifetime: retire them (out of the JWKS).

Run daily, a key is published, activated a day later (the JWKS cache lifetime is an hour by
default) and its predecessor retired a day after that: no verifier ever meets a token signed
by a key it has not been able to fetch, and no live token loses the key that verifies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from provider.models import KeyState, SigningKey
from provider.services import keys as key_services

ALGORITHMS = key_services.ALGORITHMS
DEFAULT_ROTATE_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class Step:
    alg: str
    action: str  # created, published, activated, retired
    kid: str

    def __str__(self) -> str:
        return f"{self.alg}: {self.action} {self.kid}"


def jwks_max_age() -> timedelta:
    return timedelta(seconds=int(settings.OAUTH2_PROVIDER["OIDC_JWKS_MAX_AGE_SECONDS"]))


def auto_rotate(
    *,
    algs: tuple[str, ...] = ALGORITHMS,
    rotate_after: timedelta = DEFAULT_ROTATE_AFTER,
    actor: Any = None,
) -> list[Step]:
    """Take the next due step for each algorithm (see the module's docstring); what was done."""
    steps: list[Step] = []
    now = timezone.now()
    usable = SigningKey.objects.filter(state__in=(KeyState.ACTIVE, KeyState.NEXT))
    if any(not usable.filter(alg=alg).exists() for alg in algs):
        steps += [
            Step(row.alg, "created", row.kid)
            for row in key_services.ensure_signing_keys(actor=actor)
        ]
    for alg in algs:
        active = SigningKey.objects.filter(alg=alg, state=KeyState.ACTIVE).first()
        waiting = SigningKey.objects.filter(alg=alg, state=KeyState.NEXT).order_by("created_at")
        next_key = waiting.first()
        if next_key is not None and next_key.created_at <= now - jwks_max_age():
            row = key_services.activate_next_key(actor=actor, alg=alg)
            steps.append(Step(alg, "activated", row.kid))
        elif next_key is None and active is not None:
            born = active.activated_at or active.created_at
            if born <= now - rotate_after:
                row = key_services.publish_next_key(actor=actor, alg=alg)
                steps.append(Step(alg, "published", row.kid))
        steps += [
            Step(alg, "retired", kid) for kid in key_services.retire_keys(actor=actor, alg=alg)
        ]
    return steps
