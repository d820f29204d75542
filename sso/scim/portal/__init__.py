"""The SCIM tab of the organization portal, at /orgs/<slug>/scim/.

What an organization's admin uses to connect Microsoft Entra ID or Okta: turn SCIM on, copy
the base URL and the token (shown once) into the directory, choose the domains and roles, and
then watch what it does (its users, groups and last requests). Pause, resume, turn off, and
token rotation and revocation are here too. Every change goes through sso.scim.directories,
which checks the permission (``Perm.MANAGE_SCIM``) and writes the audit event.

``urlpatterns`` is mounted by config/urls.py under /orgs/<slug>/scim/, in the "orgs"
namespace, like the SSO tab (so the overview is ``orgs:scim``).
"""

from django.urls import path

from sso.scim.portal import overview, records, tokens

urlpatterns = [
    path("", overview.overview, name="scim"),
    path("on/", overview.turn_on, name="scim-on"),
    path("pause/", overview.pause, name="scim-pause"),
    path("resume/", overview.resume, name="scim-resume"),
    path("off/", overview.turn_off, name="scim-off"),
    path("settings/", overview.settings_page, name="scim-settings"),
    path("tokens/", tokens.token_list, name="scim-tokens"),
    path("tokens/new/", tokens.token_new, name="scim-token-new"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke, name="scim-token-revoke"),
    path("users/", records.user_list, name="scim-users"),
    path("groups/", records.group_list, name="scim-groups"),
    path("groups/<int:group_id>/role/", records.group_role, name="scim-group-role"),
    path("requests/", records.request_log, name="scim-requests"),
]
