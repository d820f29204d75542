"""A refused social sign-in, on the record as ``social.login_failed``."""

from __future__ import annotations

from typing import Any

from audit.actions import Action
from config.refusals import Refusal


def login_refused(row: Any, code: str, reason: str, *, status: int = 403) -> Refusal:
    """The refusal of a sign-in through the social provider ``row`` (a SocialProvider)."""
    return Refusal(
        reason,
        status=status,
        code=code,
        action=Action.SOCIAL_LOGIN_FAILED,
        actor_text=f"social:{row.slug}",
        target=row,
        details={"provider": row.slug, "check": code, "reason": reason[:300]},
    )


def as_social(row: Any, refusal: Refusal) -> Refusal:
    """An SSO check's refusal (the shared ID-token and discovery checks raise those) restated
    as a social sign-in's: the SSO one is never recorded. Any other refusal stays as it is."""
    if refusal.action != Action.SSO_LOGIN_FAILED:
        return refusal
    return login_refused(
        row, refusal.code or "provider_error", refusal.message, status=refusal.status
    )
