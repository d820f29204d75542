"""Ending tokens: a replayed code's family, and (later) everything a person or app holds."""

from __future__ import annotations

import uuid

from django.utils import timezone

from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import service
from provider.models import AccessToken, Grant, RefreshToken


@service
def revoke_code_family(*, family: uuid.UUID, client_id: str) -> int:
    """A used authorization code came back: whoever holds it now may have stolen it, so every
    token issued from it dies (refresh tokens revoked, access tokens deleted).

    Marking the grant first takes its row lock: an exchange of the same code still saving
    its tokens holds that lock (GatehouseValidator._save_bearer_token), so either its tokens
    are committed before they are revoked here, or it sees the mark and revokes them itself."""
    Grant.objects.filter(family=family).update(replayed_at=timezone.now())
    RefreshToken.revoke_family(family)
    deleted, _ = AccessToken.objects.filter(family=family).delete()
    record(
        Action.OAUTH_CODE_REPLAYED,
        actor_text=f"client {client_id}",
        outcome=Outcome.FAILURE,
        data={"client_id": client_id, "family": str(family), "access_tokens_deleted": deleted},
    )
    return deleted
