from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from social.providers.github.provider import SocialGitHubProvider

urlpatterns = default_urlpatterns(SocialGitHubProvider)
