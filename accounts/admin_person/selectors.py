"""What the person page shows, read in a fixed number of queries.

Each panel is one or two queries bounded by a limit (``SESSIONS_SHOWN``, ``EVENTS_SHOWN``...),
never a query per row: the page costs the same for someone with three sessions as for
someone with three thousand. Secrets are never read, let alone shown: factor rows are
fetched with ``only()`` (no TOTP key, no emailed token, no backup-code hashes), sessions
without their key, social identities without their tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.db import connection
from django.db.models import Count, Q, Window
from django.urls import reverse
from django.utils.http import urlencode

from accounts import extensions
from accounts.devices import describe_user_agent
from accounts.mfa import policy
from accounts.models import User
from audit.models import AuditEvent
from consent.models import ConsentState, DataSubjectRequest
from organizations.models import Membership

SESSIONS_SHOWN = 20
EVENTS_SHOWN = 20
MEMBERSHIPS_SHOWN = 50
IDENTITIES_SHOWN = 50
ADDRESSES_SHOWN = 50

# Requests still being worked on: what support is asked about ("where is my export?").
OPEN_REQUEST_STATUSES = (
    DataSubjectRequest.Status.PENDING,
    DataSubjectRequest.Status.READY,
    DataSubjectRequest.Status.SCHEDULED,
    DataSubjectRequest.Status.ERASING,
    DataSubjectRequest.Status.ON_HOLD,
)


@dataclass
class Factor:
    kind: str
    name: str
    added: datetime | None
    last_used: datetime | None
    detail: str = ""


@dataclass
class SessionRow:
    pk: int
    device: str
    ip: str
    started: datetime
    last_seen: datetime


@dataclass
class Identity:
    """A linked identity: an organization's SSO connection or a social login provider."""

    provider: str
    subject: str
    email: str
    since: datetime
    last_login: datetime | None
    organization: str = ""


@dataclass
class AppRow:
    name: str
    organization: str
    permissions: list[str]
    last_used: datetime | None
    live_tokens: int
    consented: bool
    agent: bool


@dataclass
class Person:
    """Everything the page shows about one person."""

    user: User
    addresses: list[EmailAddress]
    has_password: bool
    factors: list[Factor]
    sessions: list[SessionRow]
    session_count: int
    memberships: list[Membership]
    sso_identities: list[Identity]
    social_identities: list[Identity]
    apps: list[AppRow]
    consents: list[ConsentState]
    open_requests: list[DataSubjectRequest]
    events: list[AuditEvent]
    audit_url: str
    requests_url: str
    consent_history_url: str
    extra: dict[str, Any] = field(default_factory=dict)


def addresses(user: User) -> list[EmailAddress]:
    return list(
        EmailAddress.objects.filter(user=user).order_by("-primary", "email")[:ADDRESSES_SHOWN]
    )


def factors(user: User) -> list[Factor]:
    """Each confirmed second factor (passkeys too): kind, name, when added and last used. One
    query per kind of factor; only those columns are read."""
    found: list[Factor] = []
    for kind, model in policy.DEVICE_MODELS.items():
        rows = model.objects.filter(user=user, confirmed=True).order_by("pk")
        if kind == policy.Kind.BACKUP_CODE:
            rows = rows.annotate(unused=Count("codes", filter=Q(codes__used_at__isnull=True)))
        for device in rows.only("pk", "name", "created_at", "last_used_at"):
            detail = f"{device.unused} unused" if kind == policy.Kind.BACKUP_CODE else ""
            found.append(
                Factor(
                    kind=policy.LABELS[kind],
                    name=device.name,
                    added=device.created_at,
                    last_used=device.last_used_at,
                    detail=detail,
                )
            )
    return found


def sessions(user: User) -> tuple[list[SessionRow], int]:
    """The most recently seen sessions (device, address, dates; never the key) and how many
    there are in all, in one query (the total is a window count over the person's rows)."""
    rows = list(
        UserSession.objects.filter(user=user)
        .annotate(total=Window(Count("pk")))
        .order_by("-last_seen_at", "-pk")
        .only("pk", "ip", "user_agent", "created_at", "last_seen_at")[:SESSIONS_SHOWN]
    )
    shown = [
        SessionRow(
            pk=row.pk,
            device=describe_user_agent(row.user_agent) or "Unknown device",
            ip=row.ip or "",
            started=row.created_at,
            last_seen=row.last_seen_at,
        )
        for row in rows
    ]
    return shown, (rows[0].total if rows else 0)


def memberships(user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
        .select_related("organization")
        .order_by("organization__name", "pk")[:MEMBERSHIPS_SHOWN]
    )


def _email_of(account: SocialAccount) -> str:
    data = account.extra_data if isinstance(account.extra_data, dict) else {}
    id_token = data.get("id_token") if isinstance(data.get("id_token"), dict) else {}
    email = data.get("email") or (id_token or {}).get("email") or ""
    return str(email)[:320]


def identities(user: User) -> tuple[list[Identity], list[Identity]]:
    """Linked SSO identities (with their organization) and social identities: three queries."""
    from social.models import PROVIDER_ID_PREFIX, SocialProvider

    accounts = list(
        SocialAccount.objects.filter(user=user)
        .only("pk", "provider", "uid", "extra_data", "date_joined", "last_login")
        .order_by("date_joined", "pk")[:IDENTITIES_SHOWN]
    )
    social = [a for a in accounts if a.provider.startswith(PROVIDER_ID_PREFIX)]
    sso = [a for a in accounts if not a.provider.startswith(PROVIDER_ID_PREFIX)]
    connections = extensions.hooks.sso_connection_names([a.provider for a in sso]) if sso else {}
    providers = (
        {
            p.slug: p
            for p in SocialProvider.objects.filter(
                slug__in=[a.provider.removeprefix(PROVIDER_ID_PREFIX) for a in social]
            ).only("slug", "name")
        }
        if social
        else {}
    )
    sso_rows = []
    for account in sso:
        name, organization = connections.get(account.provider, (account.provider, ""))
        sso_rows.append(
            Identity(
                provider=name,
                organization=organization,
                subject=account.uid,
                email=_email_of(account),
                since=account.date_joined,
                last_login=account.last_login,
            )
        )
    social_rows = []
    for account in social:
        row = providers.get(account.provider.removeprefix(PROVIDER_ID_PREFIX))
        social_rows.append(
            Identity(
                provider=row.name if row else account.provider,
                subject=account.uid,
                email=_email_of(account),
                since=account.date_joined,
                last_login=account.last_login,
            )
        )
    return sso_rows, social_rows


def apps(user: User) -> list[AppRow]:
    """The apps acting for the person (as on their own Connected apps page), with how many
    live tokens each holds: the page's queries plus one grouped count per token kind."""
    from django.utils import timezone

    from provider.models import AccessToken, RefreshToken
    from provider.views.account_apps import connected_apps

    now = timezone.now()
    live: dict[int, int] = {}
    for queryset in (
        AccessToken.objects.filter(user=user, expires__gt=now),
        RefreshToken.objects.filter(user=user, revoked__isnull=True),
    ):
        rows = queryset.values("application_id").annotate(n=Count("pk")).order_by()
        for row in rows:
            live[row["application_id"]] = live.get(row["application_id"], 0) + row["n"]
    return [
        AppRow(
            name=app.application.name,
            organization=app.organization.name if app.organization else "",
            permissions=app.permissions,
            last_used=app.last_used,
            live_tokens=live.get(app.application.pk, 0),
            consented=app.authorization_id is not None,
            agent=app.agent,
        )
        for app in connected_apps(user)
    ]


def consents(user: User) -> list[ConsentState]:
    return list(
        ConsentState.objects.filter(user=user)
        .select_related("purpose", "version__document")
        .order_by("purpose__name")
    )


def open_requests(user: User) -> list[DataSubjectRequest]:
    return list(
        DataSubjectRequest.objects.filter(user=user, status__in=OPEN_REQUEST_STATUSES)
        .defer("identifiers", "download_token_hash")
        .order_by("-requested_at")
    )


def recent_events(user: User) -> list[AuditEvent]:
    """The newest events the person did or that were done to them: one query, each half
    served by an index (target, and actor) and cut to ``EVENTS_SHOWN`` before they merge."""
    about = AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
    by = AuditEvent.objects.filter(actor_id=user.pk)
    columns = ("id", "occurred_at", "action", "outcome", "actor_text", "target_text", "ip")
    newest = ("-occurred_at", "-id")
    about = about.order_by(*newest).only(*columns)[:EVENTS_SHOWN]
    by = by.order_by(*newest).only(*columns)[:EVENTS_SHOWN]
    if not connection.features.supports_slicing_ordering_in_compound:  # SQLite: two queries
        merged = {event.pk: event for event in [*about, *by]}.values()
        return sorted(merged, key=lambda e: (e.occurred_at, e.pk), reverse=True)[:EVENTS_SHOWN]
    return list(about.union(by).order_by(*newest)[:EVENTS_SHOWN])


def audit_url(user: User) -> str:
    """The audit log filtered to events about this person (the admin search's ``user:<id>``)."""
    return reverse("admin:audit_auditevent_changelist") + "?" + urlencode({"q": f"user:{user.pk}"})


def person(user: User) -> Person:
    session_rows, session_count = sessions(user)
    sso_rows, social_rows = identities(user)
    return Person(
        user=user,
        addresses=addresses(user),
        has_password=user.has_usable_password(),
        factors=factors(user),
        sessions=session_rows,
        session_count=session_count,
        memberships=memberships(user),
        sso_identities=sso_rows,
        social_identities=social_rows,
        apps=apps(user),
        consents=consents(user),
        open_requests=open_requests(user),
        events=recent_events(user),
        audit_url=audit_url(user),
        requests_url=reverse("admin:consent_datasubjectrequest_changelist")
        + f"?user__id__exact={user.pk}",
        consent_history_url=reverse("admin:consent_consentevent_changelist")
        + f"?user__id__exact={user.pk}",
    )
