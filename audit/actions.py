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


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
