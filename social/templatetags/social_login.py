"""The "Continue with ..." buttons and the security page's list of linked providers."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from social.models import PROVIDER_ID_PREFIX, Kind, SocialProvider

register = template.Library()


def login_path(row: SocialProvider) -> str:
    if row.kind == Kind.GITHUB:
        return reverse("social_github_login")
    return reverse("social_oidc_login", kwargs={"provider_id": row.provider_id})


def callback_path(row: SocialProvider) -> str:
    if row.kind == Kind.GITHUB:
        return reverse("social_github_callback")
    return reverse("social_oidc_callback", kwargs={"provider_id": row.provider_id})


@register.simple_tag
def social_buttons() -> list[dict]:
    """One button per enabled provider, in the staff's order."""
    return [
        {"name": row.name, "slug": row.slug, "kind": row.kind, "url": login_path(row)}
        for row in SocialProvider.objects.filter(enabled=True)
    ]


@register.simple_tag
def social_identities(user: Any) -> dict:
    """The person's linked social identities, and the enabled providers they could link."""
    from allauth.socialaccount.models import SocialAccount

    rows = {row.slug: row for row in SocialProvider.objects.all()}
    linked = []
    for account in SocialAccount.objects.filter(
        user=user, provider__startswith=PROVIDER_ID_PREFIX
    ).order_by("date_joined"):
        row = rows.get(account.provider.removeprefix(PROVIDER_ID_PREFIX))
        linked.append(
            {
                "id": account.pk,
                "name": row.name if row else account.provider,
                "email": (account.extra_data or {}).get("email")
                or ((account.extra_data or {}).get("id_token") or {}).get("email", ""),
                "since": account.date_joined,
            }
        )
    linked_slugs = {
        a.provider.removeprefix(PROVIDER_ID_PREFIX)
        for a in SocialAccount.objects.filter(user=user, provider__startswith=PROVIDER_ID_PREFIX)
    }
    available = [
        {"name": row.name, "slug": row.slug, "url": login_path(row)}
        for row in rows.values()
        if row.enabled and row.slug not in linked_slugs
    ]
    return {"linked": linked, "available": available}
