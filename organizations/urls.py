from django.urls import path

from audit import portal as audit_portal
from audit.chain import views as chain_views
from organizations.branding import views as branding_views
from organizations.views import acceptance, domains, invitations, members, orgs, policy

app_name = "orgs"

urlpatterns = [
    path("orgs/", orgs.index, name="index"),
    path("orgs/switch/", orgs.switch, name="switch"),
    path("orgs/<slug:slug>/", orgs.overview, name="overview"),
    path("orgs/<slug:slug>/members/", members.members, name="members"),
    path("orgs/<slug:slug>/members/<int:member_id>/role/", members.member_role, name="member-role"),
    path(
        "orgs/<slug:slug>/members/<int:member_id>/remove/",
        members.member_remove,
        name="member-remove",
    ),
    path("orgs/<slug:slug>/leave/", members.leave, name="leave"),
    path("orgs/<slug:slug>/transfer/", members.transfer, name="transfer"),
    path("orgs/<slug:slug>/invitations/", invitations.invitations, name="invitations"),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/resend/",
        invitations.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        invitations.invitation_revoke,
        name="invitation-revoke",
    ),
    path("orgs/<slug:slug>/domains/", domains.domains, name="domains"),
    path(
        "orgs/<slug:slug>/domains/<int:domain_id>/verify/",
        domains.domain_verify,
        name="domain-verify",
    ),
    path(
        "orgs/<slug:slug>/domains/<int:domain_id>/remove/",
        domains.domain_remove,
        name="domain-remove",
    ),
    path("orgs/<slug:slug>/policy/", policy.policy, name="policy"),
    path("orgs/<slug:slug>/settings/", orgs.settings_page, name="settings"),
    path("orgs/<slug:slug>/audit/", audit_portal.audit_log, name="audit"),
    path("orgs/<slug:slug>/audit/export/", audit_portal.audit_export, name="audit-export"),
    path(
        "orgs/<slug:slug>/audit/checkpoint/",
        chain_views.download_checkpoint,
        name="audit-checkpoint",
    ),
    path("orgs/<slug:slug>/audit/verify/", chain_views.verify_upload, name="audit-verify"),
    path(
        "orgs/<slug:slug>/audit/checks/<uuid:public_id>/",
        chain_views.verification_detail,
        name="audit-verification",
    ),
    path(
        "orgs/<slug:slug>/audit/exports/<uuid:public_id>/",
        audit_portal.audit_export_download,
        name="audit-export-download",
    ),
    path("branding/logos/<str:sha256>.png", branding_views.logo, name="brand-logo"),
    path("invitations/accept/", acceptance.invitation, name="invitation"),
    path("invitations/<str:token>/", acceptance.invitation_link, name="invitation-link"),
]
