"""The SAML URLs, at allauth's paths and names (allauth mounts this module because
sso.saml.provider.GatehouseSAMLProvider.package points here)."""

from allauth.socialaccount.providers.saml import views as allauth_views
from django.urls import include, path, re_path

from sso.saml import views

urlpatterns = [
    re_path(
        r"^saml/(?P<organization_slug>[^/]+)/",
        include(
            [
                # allauth's: stores the POST and hops to acs/finish/ (the SameSite workaround).
                path("acs/", allauth_views.acs, name="saml_acs"),
                path("acs/finish/", views.finish_acs, name="saml_finish_acs"),
                path("sls/", views.sls, name="saml_sls"),
                path("metadata/", views.metadata, name="saml_metadata"),
                # allauth's: a POST starts the login (the provider signs the AuthnRequest).
                path("login/", allauth_views.login, name="saml_login"),
            ]
        ),
    )
]
