"""Login and callback of the OpenID kinds: /accounts/<provider id>/login/[callback/]."""

from django.urls import include, path, re_path

from social.providers.oidc import views

urlpatterns = [
    re_path(
        r"^(?P<provider_id>social\.[-a-zA-Z0-9_]+)/",
        include(
            [
                path("login/", views.login, name="social_oidc_login"),
                path("login/callback/", views.callback, name="social_oidc_callback"),
            ]
        ),
    )
]
