from __future__ import annotations

from typing import Any


def sso_only_org(user: Any):
    """The organization whose SSO-only policy covers this user's login address, if any."""
    from organizations.models import Domain, Membership

    domain = (user.email or "").rpartition("@")[2].lower()
    m = (
        Membership.objects.active()
        .filter(user=user, organization__policy__sso_only=True,
                organization__domains__name=domain,
                organization__domains__verified_at__isnull=False)
        .select_related("organization")
        .first()
    )
    return m.organization if m else None
