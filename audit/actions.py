"""The one registry of audit action names.

Every audit event names its action from here, so the log can be filtered and alerted on by
a fixed vocabulary. Names are ``<area>.<verb>``; they are stored as text and never renamed.
"""

from django.db import models


class Action(models.TextChoices):
    USER_SIGNED_UP = "user.signed_up", "Signed up"
    LOGIN_SUCCEEDED = "login.succeeded", "Logged in"
    LOGIN_FAILED = "login.failed", "Login failed"
    LOGIN_BLOCKED = "login.blocked", "Login refused: account blocked"
    LOGIN_SSO_REQUIRED = "login.sso_required", "Login refused: the organization requires SSO"
    LOGIN_METHOD_NOT_ALLOWED = (
        "login.method_not_allowed",
        "Login refused: the organization does not allow this sign-in method",
    )
    LOGIN_CODE_REJECTED = "login.code_rejected", "Wrong login code entered"
    SIGNUP_CODE_REJECTED = "signup.code_rejected", "Wrong email verification code entered"
    LOGIN_CHALLENGE_FAILED = (
        "login.challenge_failed",
        "Login refused: the proof-of-work challenge was missing, wrong or reused",
    )
    LOGIN_STUFFING_DETECTED = (
        "login.stuffing_detected",
        "Credential stuffing suspected: sign-in challenge switched on",
    )
    LOGIN_RISK_STEP_UP = "login.risk_step_up", "Second factor asked for a risky sign-in"
    LOGIN_NEW_DEVICE_NOTICE = "login.new_device_notice", "New sign-in email sent"
    LOGIN_DISOWNED = "login.disowned", "Sign-in reported as not the person's"
    LOGOUT = "logout", "Logged out"
    PASSWORD_CHANGED = "password.changed", "Password changed"
    PASSWORD_SET = "password.set", "Password set"
    PASSWORD_RESET = "password.reset", "Password reset"
    EMAIL_ADDED = "email.added", "Email address added"
    EMAIL_CHANGED = "email.changed", "Primary email address changed"
    EMAIL_VERIFIED = "email.verified", "Email address verified"
    EMAIL_REMOVED = "email.removed", "Email address removed"
    EMAIL_VERIFICATION_RESENT = "email.verification_resent", "Verification email resent"
    PROFILE_UPDATED = "profile.updated", "Profile updated"
    PROFILE_FIELD_CHANGED = "profile.field_changed", "Profile field declared or changed"
    SESSION_REVOKED = "session.revoked", "Session revoked"
    SESSIONS_REVOKED_ALL = "session.revoked_all", "Signed out everywhere"
    USER_BLOCKED = "user.blocked", "User blocked"
    USER_UNBLOCKED = "user.unblocked", "User unblocked"
    USER_EDITED_BY_STAFF = "user.edited_by_staff", "User edited in the admin"
    USER_IMPORTED = "user.imported", "Account created by an import from another system"
    USER_IMPORT_UPDATED = "user.import_updated", "Account updated by an import"
    USERS_IMPORT_RUN = "users.import_run", "People imported from a file"
    MFA_DEVICE_ADDED = "mfa.device_added", "Second factor added"
    MFA_DEVICE_REMOVED = "mfa.device_removed", "Second factor removed"
    MFA_DEVICE_RENAMED = "mfa.device_renamed", "Second factor renamed"
    MFA_BACKUP_CODES_GENERATED = "mfa.backup_codes_generated", "Backup codes generated"
    MFA_BACKUP_CODE_USED = "mfa.backup_code_used", "Backup code used"
    MFA_VERIFIED = "mfa.verified", "Second factor passed"
    MFA_FAILED = "mfa.failed", "Second factor failed"
    MFA_THROTTLED = "mfa.throttled", "Second factor refused: too many wrong codes"
    MFA_EMAIL_CODE_SENT = "mfa.email_code_sent", "Second-factor code emailed"
    MFA_EMAIL_CODE_REFUSED = "mfa.email_code_refused", "Second-factor code not sent: too soon"
    MFA_RESET = "mfa.reset", "Second factors reset"
    MFA_RESET_REQUESTED = "mfa.reset_requested", "Reset of second factors scheduled"
    MFA_RESET_CANCELLED = "mfa.reset_cancelled", "Scheduled reset of second factors cancelled"
    MFA_ENROLLMENT_REQUIRED = "mfa.enrollment_required", "Sent to enroll a second factor"
    ORG_CREATED = "org.created", "Organization created"
    ORG_UPDATED = "org.updated", "Organization settings changed"
    ORG_POLICY_UPDATED = "org.policy_updated", "Organization policy changed"
    OPERATOR_BRANDING_UPDATED = "operator.branding_updated", "Operator branding changed"
    ORG_MEMBER_JOINED = "org.member_joined", "Member joined"
    ORG_MEMBER_ROLE_CHANGED = "org.member_role_changed", "Member's role changed"
    ORG_MEMBER_REMOVED = "org.member_removed", "Member removed"
    ORG_MEMBER_LEFT = "org.member_left", "Member left"
    ORG_MEMBER_DEPROVISIONED = "org.member_deprovisioned", "Removed member's access cleaned up"
    ORG_OWNERSHIP_TRANSFERRED = "org.ownership_transferred", "Ownership transferred"
    ORG_SWITCHED = "org.switched", "Active organization switched"
    ORG_INVITATION_SENT = "org.invitation_sent", "Invitation sent"
    ORG_INVITATION_RESENT = "org.invitation_resent", "Invitation resent"
    ORG_INVITATION_REVOKED = "org.invitation_revoked", "Invitation revoked"
    ORG_INVITATION_ACCEPTED = "org.invitation_accepted", "Invitation accepted"
    ORG_INVITATION_REFUSED = "org.invitation_refused", "Invitation could not be used"
    ORG_DOMAIN_ADDED = "org.domain_added", "Domain added"
    ORG_DOMAIN_VERIFIED = "org.domain_verified", "Domain verified"
    ORG_DOMAIN_CHECK_FAILED = "org.domain_check_failed", "Domain verification failed"
    ORG_DOMAIN_LOST = "org.domain_lost", "Domain no longer verified"
    ORG_DOMAIN_REMOVED = "org.domain_removed", "Domain removed"
    ORG_ACCESS_DENIED = "org.access_denied", "Organization action refused"
    ORG_RATE_LIMITED = "org.rate_limited", "Organization action refused: too many requests"
    SSO_LOGIN_SUCCEEDED = "sso.login_succeeded", "Signed in through SSO"
    SSO_LOGIN_FAILED = "sso.login_failed", "SSO sign-in refused"
    SSO_USER_CREATED = "sso.user_created", "Account created at first SSO sign-in"
    SSO_IDENTITY_LINKED = "sso.identity_linked", "SSO identity linked to an existing account"
    SSO_UNVERIFIED_ACCOUNT_RELEASED = (
        "sso.unverified_account_released",
        "Never-verified account with an SSO address locked and its address released",
    )
    SSO_ROLE_MAPPED = "sso.role_mapped", "Role set from the IdP's groups"
    SSO_LOGOUT = "sso.logout", "Signed out by the IdP (single logout)"
    SSO_LOGOUT_REFUSED = "sso.logout_refused", "Single logout message refused"
    SOCIAL_LOGIN_SUCCEEDED = "social.login_succeeded", "Signed in with a social provider"
    SOCIAL_LOGIN_FAILED = "social.login_failed", "Social sign-in refused"
    SOCIAL_USER_CREATED = "social.user_created", "Account created with a social provider"
    SOCIAL_IDENTITY_LINKED = (
        "social.identity_linked",
        "Social identity linked to an account",
    )
    SOCIAL_IDENTITY_UNLINKED = "social.identity_unlinked", "Social identity unlinked"
    SOCIAL_LINK_REFUSED = (
        "social.link_refused",
        "Social identity not linked to the account with its address",
    )
    SOCIAL_PROVIDER_CHANGED = "social.provider_changed", "Social login provider changed"
    SSO_CONNECTION_CREATED = "sso.connection_created", "SSO connection created"
    SSO_CONNECTION_UPDATED = "sso.connection_updated", "SSO connection changed"
    SSO_CONNECTION_ACTIVATED = "sso.connection_activated", "SSO connection turned on"
    SSO_CONNECTION_DISABLED = "sso.connection_disabled", "SSO connection turned off"
    SSO_CONNECTION_DELETED = "sso.connection_deleted", "SSO connection deleted"
    SSO_CONNECTION_TESTED = "sso.connection_tested", "SSO connection tested"
    SSO_CERTIFICATE_ADDED = "sso.certificate_added", "IdP certificate added"
    SSO_CERTIFICATE_REMOVED = "sso.certificate_removed", "IdP certificate removed"
    SSO_SP_KEY_ROTATION_STARTED = (
        "sso.sp_key_rotation_started",
        "Gatehouse's SAML key rotation started",
    )
    SSO_SP_KEY_ROTATED = "sso.sp_key_rotated", "Gatehouse's SAML key replaced by the next one"
    SSO_SP_KEY_ROTATION_CANCELLED = (
        "sso.sp_key_rotation_cancelled",
        "Gatehouse's SAML key rotation cancelled",
    )
    SSO_CERTIFICATE_EXPIRING = "sso.certificate_expiring", "IdP certificate expiry notice sent"
    SSO_METADATA_REFRESHED = "sso.metadata_refreshed", "IdP metadata refreshed"
    SSO_METADATA_REFRESH_FAILED = "sso.metadata_refresh_failed", "IdP metadata refresh failed"
    # Consent and privacy rights (issue 6). Event data holds purpose keys and version ids,
    # never personal data.
    CONSENT_GRANTED = "consent.granted", "Consent given"
    CONSENT_WITHDRAWN = "consent.withdrawn", "Consent withdrawn"
    CONSENT_RECONSENT_REQUIRED = (
        "consent.reconsent_required",
        "Asked to accept a new policy version before continuing",
    )
    CONSENT_POLICY_PUBLISHED = "consent.policy_published", "Policy version published"
    CONSENT_CATALOGUE_CHANGED = (
        "consent.catalogue_changed",
        "Consent purpose, policy document or draft changed",
    )
    CONSENT_RECEIPT_KEY_ROTATED = "consent.receipt_key_rotated", "Consent receipt key rotated"
    PRIVACY_EXPORT_REQUESTED = "privacy.export_requested", "Data export requested"
    PRIVACY_EXPORT_READY = "privacy.export_ready", "Data export ready"
    PRIVACY_EXPORT_DOWNLOADED = "privacy.export_downloaded", "Data export downloaded"
    PRIVACY_ERASURE_REQUESTED = "privacy.erasure_requested", "Account erasure requested"
    PRIVACY_ERASURE_CANCELLED = "privacy.erasure_cancelled", "Account erasure cancelled"
    PRIVACY_ERASURE_ON_HOLD = "privacy.erasure_on_hold", "Account erasure on hold"
    PRIVACY_USER_ERASED = "privacy.user_erased", "Account erased"
    ORG_MEMBER_ERASED = "org.member_erased", "Member's account erased"
    # The OpenID provider (issue 15). Data names apps, scopes and families, never token values.
    OAUTH_APP_CREATED = "oauth.app_created", "Application registered"
    OAUTH_APP_UPDATED = "oauth.app_updated", "Application changed"
    OAUTH_APP_DISABLED = "oauth.app_disabled", "Application turned off"
    OAUTH_APP_ENABLED = "oauth.app_enabled", "Application turned on"
    OAUTH_CLIENT_SECRET_ROTATED = "oauth.client_secret_rotated", "Client secret rotated"
    OAUTH_API_CREATED = "oauth.api_created", "API registered"
    OAUTH_API_UPDATED = "oauth.api_updated", "API changed"
    OAUTH_TOKEN_ISSUED = "oauth.token_issued", "Access token issued"
    OAUTH_TOKEN_REFUSED = "oauth.token_refused", "Token request refused"
    OAUTH_TOKENS_REVOKED = "oauth.tokens_revoked", "Tokens revoked"
    OAUTH_AUTHORIZED = "oauth.authorized", "Application authorized"
    OAUTH_AUTHORIZATION_REMOVED = "oauth.authorization_removed", "Application access removed"
    OAUTH_CODE_REPLAYED = "oauth.code_replayed", "Authorization code used twice"
    OAUTH_REFRESH_REPLAYED = "oauth.refresh_replayed", "Refresh token used twice"
    OAUTH_SIGNING_KEY_CREATED = "oauth.signing_key_created", "Signing key created"
    OAUTH_SIGNING_KEY_ACTIVATED = "oauth.signing_key_activated", "Signing key activated"
    OAUTH_SIGNING_KEY_RETIRED = "oauth.signing_key_retired", "Signing key retired"
    OAUTH_DEVICE_APPROVED = "oauth.device_approved", "Device sign-in approved"
    OAUTH_DEVICE_DENIED = "oauth.device_denied", "Device sign-in denied"
    OAUTH_CLIENT_REGISTERED = (
        "oauth.client_registered",
        "Client self-registered (metadata document)",
    )
    OAUTH_LOGOUT = "oauth.logout", "Signed out through an application"
    OAUTH_API_USER_CREATED = "oauth.api_user_created", "Account created through the API"
    # Inbound SCIM (issue 16). The directory is the actor ("scim:<directory id>"); data names
    # attributes and counts, never their values.
    SCIM_DIRECTORY_ENABLED = "scim.directory_enabled", "SCIM directory turned on"
    SCIM_DIRECTORY_UPDATED = "scim.directory_updated", "SCIM directory settings changed"
    SCIM_DIRECTORY_PAUSED = "scim.directory_paused", "SCIM directory paused"
    SCIM_DIRECTORY_RESUMED = "scim.directory_resumed", "SCIM directory resumed"
    SCIM_DIRECTORY_DISABLED = "scim.directory_disabled", "SCIM directory turned off"
    SCIM_TOKEN_CREATED = "scim.token_created", "SCIM token created"
    SCIM_TOKEN_ROTATED = "scim.token_rotated", "SCIM token rotated"
    SCIM_TOKEN_REVOKED = "scim.token_revoked", "SCIM token revoked"
    SCIM_USER_PROVISIONED = "scim.user_provisioned", "User provisioned by the directory"
    SCIM_USER_UPDATED = "scim.user_updated", "User updated by the directory"
    SCIM_USER_LINKED = "scim.user_linked", "Directory user linked to an account"
    SCIM_USER_NOT_ADMITTED = "scim.user_not_admitted", "Directory user given no account"
    SCIM_USER_DEACTIVATED = "scim.user_deactivated", "User deactivated by the directory"
    SCIM_USER_REACTIVATED = "scim.user_reactivated", "User reactivated by the directory"
    SCIM_USER_DELETED = "scim.user_deleted", "User deleted by the directory"
    SCIM_GROUP_CREATED = "scim.group_created", "Group created by the directory"
    SCIM_GROUP_UPDATED = "scim.group_updated", "Group updated by the directory"
    SCIM_GROUP_DELETED = "scim.group_deleted", "Group deleted by the directory"
    SCIM_GROUP_MEMBERS_CHANGED = "scim.group_members_changed", "Group members changed"
    SCIM_GROUP_ROLE_SET = "scim.group_role_set", "Role mapped to a directory group"
    SCIM_ROLE_MAPPED = "scim.role_mapped", "Role set from the directory's groups"
    # The audit log itself (issue 17): exports and retention are evidence too.
    AUDIT_EXPORTED = "audit.exported", "Audit log exported"
    AUDIT_EXPORT_REQUESTED = "audit.export_requested", "Audit log export requested"
    AUDIT_EXPORT_READY = "audit.export_ready", "Audit log export ready"
    AUDIT_EXPORT_DOWNLOADED = "audit.export_downloaded", "Audit log export downloaded"
    AUDIT_PURGED = "audit.purged", "Old audit events deleted (retention)"
    AUDIT_CHECKPOINT_SIGNED = "audit.checkpoint_signed", "Audit checkpoint signed on request"
    AUDIT_CHECKPOINT_DOWNLOADED = "audit.checkpoint_downloaded", "Audit checkpoint downloaded"
    AUDIT_VERIFIED = "audit.verified", "Audit log checked against a checkpoint"
    AUDIT_CHECKPOINT_KEY_ROTATED = "audit.checkpoint_key_rotated", "Checkpoint signing key rotated"
    # Log streams (issue 17): the org's audit log sent to its SIEM. Data names the kind, format
    # and changed settings, never a token or key.
    AUDIT_STREAM_CREATED = "audit.stream_created", "Log stream created"
    AUDIT_STREAM_UPDATED = "audit.stream_updated", "Log stream changed"
    AUDIT_STREAM_PAUSED = "audit.stream_paused", "Log stream paused"
    AUDIT_STREAM_RESUMED = "audit.stream_resumed", "Log stream resumed"
    AUDIT_STREAM_DELETED = "audit.stream_deleted", "Log stream deleted"
    AUDIT_STREAM_TESTED = "audit.stream_tested", "Log stream test message sent"
    AUDIT_STREAM_DISABLED = "audit.stream_disabled", "Log stream turned off after failing"
    # Webhooks (issue 17). Data names the endpoint and event types, never the secret.
    WEBHOOK_ENDPOINT_CREATED = "webhook.endpoint_created", "Webhook endpoint created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook.endpoint_updated", "Webhook endpoint changed"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled", "Webhook endpoint turned off"
    WEBHOOK_ENDPOINT_ENABLED = "webhook.endpoint_enabled", "Webhook endpoint turned on"
    WEBHOOK_ENDPOINT_DELETED = "webhook.endpoint_deleted", "Webhook endpoint deleted"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook signing secret rotated"
    WEBHOOK_RESENT = "webhook.resent", "Webhook delivery sent again"
    WEBHOOK_TESTED = "webhook.tested", "Webhook test event sent"
    # Impersonation with consent (issue 19): the staff member is the actor, the person the
    # target; data holds the impersonation's id and reason, a request's method and path.
    IMPERSONATION_REQUESTED = "impersonation.requested", "Impersonation asked for approval"
    IMPERSONATION_APPROVED = "impersonation.approved", "Impersonation approved"
    IMPERSONATION_REFUSED = "impersonation.refused", "Impersonation refused"
    IMPERSONATION_STARTED = "impersonation.started", "Support signed in as the person"
    IMPERSONATION_REQUEST = "impersonation.request", "Page opened while impersonating"
    IMPERSONATION_ACTION_REFUSED = (
        "impersonation.action_refused",
        "Change refused while impersonating",
    )
    IMPERSONATION_ENDED = "impersonation.ended", "Impersonation ended"
    IMPERSONATION_EXPIRED = "impersonation.expired", "Impersonation ended when its time ran out"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
