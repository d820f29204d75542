"""The provider classes allauth registers from this app (its registry imports
``<app>.provider`` of every installed app)."""

from social.providers.github.provider import SocialGitHubProvider
from social.providers.oidc.provider import SocialOIDCProvider

provider_classes = [SocialOIDCProvider, SocialGitHubProvider]
