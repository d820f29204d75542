"""The risk of a sign-in, assessed after its first factor and before its second.

``RiskStage`` (a login stage, listed before the second-factor stage by
``AccountAdapter.get_login_stages``) assesses the sign-in and keeps the assessment for the
login's rows. When the sign-in is risky and the operator (``RISK_STEP_UP``) or an organization
the person belongs to asks for it, the second step is demanded: ``SecondFactorStage`` then
asks people with a factor for it even where it would not otherwise (an IdP's reported MFA),
and sends people with none to an emailed code (``step_up_for``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.mfa.allauth_glue import LoginStage
from accounts.takeover import risk
from audit.actions import Action
from audit.services import record

STEP_UP_KEY = "_gatehouse_risk_step_up"
REQUEST_FAILURES = "_gatehouse_failures_before"


def policy_asks_for_step_up(user: Any) -> bool:
    """The operator's setting, or the policy of an organization the person is an active
    member of."""
    if settings.GATEHOUSE_RISK_STEP_UP:
        return True
    from organizations.models import Membership

    return (
        Membership.objects.active()
        .filter(user_id=user.pk, organization__policy__risk_step_up=True)
        .exists()
    )


def step_up_for(request: HttpRequest) -> bool:
    """Whether this pending login must pass a second step because it is risky."""
    return bool(request.session.get(STEP_UP_KEY))


class RiskStage(LoginStage):
    key = "gatehouse_risk"
    urlname = "account_login"

    def handle(self) -> tuple[None, bool]:
        user = self.login.user
        if user is None:
            return None, True
        assessment = risk.assess(
            self.request, user, failures_before=getattr(self.request, REQUEST_FAILURES, 0)
        )
        risk.keep(self.request, assessment)
        self.request.session.pop(STEP_UP_KEY, None)
        if assessment.risky and policy_asks_for_step_up(user):
            self.request.session[STEP_UP_KEY] = True
            record(
                Action.LOGIN_RISK_STEP_UP,
                actor=None,
                actor_text=str(user),
                target=user,
                data=assessment.audit_data(),
            )
        return None, True
