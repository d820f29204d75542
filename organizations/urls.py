from django.urls import include, path

from organizations import views
from sso import portal as sso_portal

app_name = "orgs"

urlpatterns = [
    path("orgs/", views.index, name="index"),
    path("orgs/switch/", views.switch, name="switch"),
    path("orgs/<slug:slug>/", views.overview, name="overview"),
    path("orgs/<slug:slug>/members/", views.members, name="members"),
    path("orgs/<slug:slug>/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path(
        "orgs/<slug:slug>/members/<int:member_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("orgs/<slug:slug>/leave/", views.leave, name="leave"),
    path("orgs/<slug:slug>/transfer/", views.transfer, name="transfer"),
    path("orgs/<slug:slug>/invitations/", views.invitations, name="invitations"),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("orgs/<slug:slug>/domains/", views.domains, name="domains"),
    path(
        "orgs/<slug:slug>/domains/<int:domain_id>/verify/",
        views.domain_verify,
        name="domain-verify",
    ),
    path(
        "orgs/<slug:slug>/domains/<int:domain_id>/remove/",
        views.domain_remove,
        name="domain-remove",
    ),
    path("orgs/<slug:slug>/policy/", views.policy, name="policy"),
    path("orgs/<slug:slug>/settings/", views.settings_page, name="settings"),
    # The SSO tab (sso/portal.py): orgs:sso is its list of connections.
    path("orgs/<slug:slug>/sso/", include(sso_portal.urlpatterns)),
    path("orgs/<slug:slug>/audit/", views.audit_log, name="audit"),
    path("invitations/accept/", views.invitation, name="invitation"),
    path("invitations/<str:token>/", views.invitation_link, name="invitation-link"),
]
