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
    LOGIN_CODE_REJECTED = "login.code_rejected", "Wrong login code entered"
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
    SESSION_REVOKED = "session.revoked", "Session revoked"
    SESSIONS_REVOKED_ALL = "session.revoked_all", "Signed out everywhere"
    USER_BLOCKED = "user.blocked", "User blocked"
    USER_UNBLOCKED = "user.unblocked", "User unblocked"
    USER_EDITED_BY_STAFF = "user.edited_by_staff", "User edited in the admin"
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
    MFA_RESET = "mfa.reset", "Second factors reset by support"
    MFA_ENROLLMENT_REQUIRED = "mfa.enrollment_required", "Sent to enroll a second factor"
    MFA_REQUIRED_CHANGED = "mfa.required_changed", "MFA requirement changed"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
