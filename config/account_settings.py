"""django-allauth's account settings: email is the login, verification is mandatory, and
nothing tells anyone whether an address has an account. Read by config/settings.py, which
imports each by name (Django reads settings from that module only).
"""

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Email and password changes are guarded by Gatehouse's step-up (accounts/mfa/stepup.py) at
# every address they answer on; allauth's password-only re-authentication would be weaker for
# MFA users and would ask twice.
ACCOUNT_REAUTHENTICATION_REQUIRED = False
# The link in the verification email signs in only in the browser that signed up (allauth
# checks the pending login in the session); the code typed there does too (accounts/signup_code.py).
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# "Wrong address?" on the waiting page: at most this many changes per sign-up
# (accounts/signup_change.py; allauth's own setting, read there).
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE = 2
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 1
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    # Failed password logins are throttled by accounts/ratelimits.py instead (per client
    # address and per email, GATEHOUSE_FAILED_LOGIN_LIMITS below).
    "login_failed": None,
    "login": None,
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "request_login_code": "20/m/ip,3/m/key,10/h/key",
    # Second-factor codes by email (accounts/mfa/services/verification.py), on top of the
    # one-per-minute cooldown: no inbox gets more than a few an hour from Gatehouse.
    "mfa_email_code": "5/h/user,20/h/ip",
    # New sign-up codes asked for on the waiting page (accounts/signup_code_views.py), on top
    # of the cooldown and the count per sign-up kept in the session.
    "signup_code_resend": "5/h/key,30/h/ip",
    # The password meter's estimates (accounts/passwords/views.py): one per pause in typing.
    "password_strength": "120/m/ip",
}
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "add_email": "accounts.forms.AddEmailForm",
    "signup": "accounts.forms.SignupForm",
    "request_login_code": "accounts.forms.RequestLoginCodeForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
    "confirm_login_code": "accounts.forms.ConfirmLoginCodeForm",
}
# allauth's reset token, minus a write that made a reset for a taken address cost more than
# one for a free address (accounts/tokens.py, accounts/enumeration.py).
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = "accounts.tokens.PasswordResetTokenGenerator"  # noqa: S105
