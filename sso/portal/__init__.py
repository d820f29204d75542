"""The SSO tab of the organization portal, at /orgs/<slug>/sso/.

A list of the organization's connections, and for each one a wizard: (1) the values to give
the IdP, (2) the IdP's own settings (SAML metadata by URL or file, or by hand; OIDC discovery
and client), (3) accounts and roles, (4) the IdP's signing certificates (SAML), then test, turn
on, turn off or delete. Every change goes through sso.services, which checks the permission,
writes the audit event and says what is wrong; these views only translate forms and answers.

``urlpatterns`` is mounted by organizations/urls.py under /orgs/<slug>/sso/, in the "orgs"
namespace (so the list keeps its name, ``orgs:sso``).
"""

from django.urls import path

from sso.portal import accounts, certificates, connections, idp

urlpatterns = [
    path("", connections.connection_list, name="sso"),
    path("new/", connections.new_connection, name="sso-new"),
    path("<int:connection_id>/", connections.connection_page, name="sso-connection"),
    path("<int:connection_id>/setup/", idp.sp_step, name="sso-sp"),
    path("<int:connection_id>/idp/", idp.idp_step, name="sso-idp"),
    path("<int:connection_id>/idp/metadata-url/", idp.metadata_url, name="sso-metadata-url"),
    path("<int:connection_id>/idp/metadata-file/", idp.metadata_file, name="sso-metadata-file"),
    path("<int:connection_id>/idp/metadata-stop/", idp.metadata_stop, name="sso-metadata-stop"),
    path("<int:connection_id>/accounts/", accounts.accounts_step, name="sso-accounts"),
    path(
        "<int:connection_id>/certificates/",
        certificates.certificates_step,
        name="sso-certificates",
    ),
    path(
        "<int:connection_id>/certificates/<int:certificate_id>/remove/",
        certificates.certificate_remove,
        name="sso-certificate-remove",
    ),
    path("<int:connection_id>/sp-key/<str:step>/", certificates.sp_key, name="sso-sp-key"),
    path("<int:connection_id>/test/", connections.test_connection, name="sso-test"),
    path("<int:connection_id>/activate/", connections.activate, name="sso-activate"),
    path("<int:connection_id>/disable/", connections.disable, name="sso-disable"),
    path("<int:connection_id>/delete/", connections.delete, name="sso-delete"),
]
