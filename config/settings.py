"""Gatehouse settings, read from the environment.

Two ways to run from one code base:

* Production, the default: PostgreSQL (``DATABASE_URL``), Redis for cache, sessions, rate
  limits and the Celery broker, SMTP, secure cookies and HSTS, DEBUG off. Unsafe or missing
  settings are system checks (config/checks.py) that stop every process at start-up: web
  (config/wsgi.py, config/asgi.py), workers (config/celery.py) and ``manage.py``.
* Embedded, only when asked for with ``GATEHOUSE_EMBEDDED=1`` (``make run`` and the test
  runner do): SQLite and a generated secret in ``var/``, Celery tasks run eagerly in-process,
  emails written to ``var/mail/`` and echoed to the console, a local-memory cache, DEBUG on.
  A deploy that forgets a variable is therefore refused, never quietly run in debug mode.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import database_settings, provider_settings
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("GATEHOUSE_DATA_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")

# The embedded mode is asked for, never inferred: a missing DATABASE_URL in production is an
# error (config/checks.py), not a reason to fall back to debug mode.
EMBEDDED = env_bool("GATEHOUSE_EMBEDDED", False)
DEBUG = env_bool("DEBUG", default=EMBEDDED)


def _embedded_secret_key() -> str:
    """A secret generated once and kept in the data folder, for the embedded default only."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or (_embedded_secret_key() if EMBEDDED else "")
if not SECRET_KEY:
    # Not a system check: Django cannot even run its checks without a key.
    raise ImproperlyConfigured(
        "SECRET_KEY must be set (or GATEHOUSE_EMBEDDED=1 for the embedded mode)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if EMBEDDED else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    # Django's admin, on an OTP admin site: staff need a verified second factor (config/apps.py).
    "config.apps.GatehouseAdminConfig",
    # Gatehouse's own start-up checks (config/checks.py).
    "config.apps.GatehouseConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.usersessions",
    # Social login and per-organization enterprise SSO go through allauth's socialaccount; the
    # SAML and OIDC connections themselves live in sso.Connection (sso/adapter.py feeds them).
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "accounts",
    # Only for its bundled ALTCHA widget script, served from static/ (accounts/takeover/).
    "django_altcha",
    # Second factors; after accounts, whose user model their models point at. django-otp's
    # static-token plugin is left out on purpose: it stores backup codes in plain text
    # (Gatehouse keeps its own hashed ones, accounts.models.BackupCodeDevice).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_email",
    "django_otp_webauthn",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit",
    "organizations",
    "sso",
    "social",
    "consent",
    # The outbox of domain events, the feed and (later) webhooks: docs/events.md.
    "events",
    # The OAuth 2.1 / OpenID provider: DOT, with all six of its models swapped for provider's.
    "oauth2_provider",
    "provider",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    # Early, so that every audit event of the request (even one written by a middleware below,
    # like the blocked-user sign-out) carries its id, address and user agent.
    "audit.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The OAuth endpoints only machines call (token, introspection, revocation, device
    # authorization) stop here and skip the session, CSRF and signed-in-person layers below,
    # which they never use (config/machine_endpoints.py says what they keep).
    "config.machine_endpoints.MachineEndpointMiddleware",
    # Inbound SCIM (every path under /scim/): directories authenticate with a bearer token and
    # use no session, CSRF token or person-facing gate; errors are SCIM Error bodies
    # (sso/scim/transport.py says what it keeps).
    "sso.scim.transport.ScimMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Under /api/, a method an endpoint lacks is a 405 before authentication is asked for.
    "config.middleware.APIMethodMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed a second factor (the admin needs it).
    "django_otp.middleware.OTPMiddleware",
    # A staff member signed in as a person: time limit, refused changes, a record per request.
    "accounts.impersonation.middleware.ImpersonationMiddleware",
    # Which organization a sign-in is for (?org=, OIDC organization=), kept for its every step.
    "organizations.branding.middleware.SignInBrandMiddleware",
    "accounts.middleware.BlockedUserMiddleware",
    # Users who must have MFA and have none can do nothing else until they enroll.
    "accounts.mfa.middleware.MFAEnrollmentMiddleware",
    # Then, people who owe acceptance of a new policy version see that page before any other.
    "consent.middleware.ConsentRequiredMiddleware",
    # Then, profile fields a sign-in made due (accounts/profiling/middleware.py).
    "accounts.profiling.middleware.ProfileQuestionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A refusal no view caught becomes its page, or its problem under /api/.
    "config.refusals.RefusalMiddleware",
    # After messages: it tells the person why they were signed out.
    "organizations.middleware.OrgSessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.user_sessions.SessionActivityMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.gatehouse",
                "organizations.context_processors.branding",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

if not DATABASE_URL and env_str("DATABASE_OWNER_URL"):
    raise ImproperlyConfigured("DATABASE_OWNER_URL needs DATABASE_URL (PostgreSQL).")
DATABASES = database_settings.databases(
    DATABASE_URL, data_dir=DATA_DIR, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
)
# Read once here and kept only as the owner's user and password (hidden on error pages).
GATEHOUSE_DATABASE_OWNER = database_settings.owner_credentials(
    env_str("DATABASE_OWNER_URL"), DATABASES["default"]
)

# Requests are not wrapped in a transaction: each service owns its own (config/refusals.py,
# ``@service``), so a refusal's audit event commits even though the refused change rolls back.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions -----------------------------------------------------------------------

if REDIS_URL:
    # django-redis rather than Django's own Redis backend: Django's builds a new client object
    # for every command, and a login runs a couple of dozen (rate limits, session, user
    # sessions); django-redis keeps one client per connection pool.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "gatehouse"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
    # Django's cache sessions, minus a round trip per new session (config/sessions.py).
    SESSION_ENGINE = "config.sessions"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Authentication ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # allauth's backend with a cheaper lookup (accounts/auth_backends.py); allauth's own stays
    # listed so that sessions it signed stay valid, and never checks a password.
    "accounts.auth_backends.AuthenticationBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "selfservice:profile"

# django-allauth (config/account_settings.py).
from config.account_settings import (  # noqa: E402, F401  (settings Django reads by name)
    ACCOUNT_ADAPTER,
    ACCOUNT_CHANGE_EMAIL,
    ACCOUNT_CONFIRM_EMAIL_ON_GET,
    ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS,
    ACCOUNT_EMAIL_NOTIFICATIONS,
    ACCOUNT_EMAIL_SUBJECT_PREFIX,
    ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS,
    ACCOUNT_EMAIL_VERIFICATION,
    ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE,
    ACCOUNT_FORMS,
    ACCOUNT_LOGIN_BY_CODE_ENABLED,
    ACCOUNT_LOGIN_METHODS,
    ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION,
    ACCOUNT_LOGIN_ON_PASSWORD_RESET,
    ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE,
    ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR,
    ACCOUNT_PREVENT_ENUMERATION,
    ACCOUNT_RATE_LIMITS,
    ACCOUNT_REAUTHENTICATION_REQUIRED,
    ACCOUNT_SESSION_REMEMBER,
    ACCOUNT_SIGNUP_FIELDS,
    ACCOUNT_UNIQUE_EMAIL,
    ACCOUNT_USER_MODEL_USERNAME_FIELD,
)

# Importing people from another system, lazy migration (config/import_settings.py).
from config.import_settings import *  # noqa: E402, F403  (settings Django reads by name)

# Password validators, breach checks, sign-up codes (config/password_settings.py).
from config.password_settings import (  # noqa: E402, F401  (settings Django reads by name)
    AUTH_PASSWORD_VALIDATORS,
    GATEHOUSE_PASSWORD_MAX_LENGTH,
    GATEHOUSE_PASSWORD_MIN_SCORE,
    GATEHOUSE_PWNED_PASSWORDS_CHECK,
    GATEHOUSE_PWNED_PASSWORDS_TIMEOUT_MS,
    GATEHOUSE_PWNED_PASSWORDS_URL,
    GATEHOUSE_SIGNUP_CODE_MAX_RESENDS,
    GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN,
    PASSWORD_HASHERS,
)

# Failed password checks allowed per window: (attempts, window in seconds).
GATEHOUSE_FAILED_LOGIN_LIMITS = {
    "ip": (env_int("FAILED_LOGINS_PER_IP", 10), env_int("FAILED_LOGINS_PER_IP_WINDOW", 60)),
    "email": (
        env_int("FAILED_LOGINS_PER_EMAIL", 5),
        env_int("FAILED_LOGINS_PER_EMAIL_WINDOW", 300),
    ),
}
# Known devices, stuffing detection, risk signals (config/takeover_settings.py).
from config.takeover_settings import *  # noqa: E402, F403

# Client IP behind a reverse proxy: how many proxies in front of Gatehouse append to
# X-Forwarded-For; 0 means clients connect directly (REMOTE_ADDR is the client). Production
# must say which (config/checks.py).
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
GATEHOUSE_TRUSTED_PROXY_COUNT_IS_SET = env_str("TRUSTED_PROXY_COUNT") != ""
# Activity is tracked by accounts.user_sessions.SessionActivityMiddleware, throttled; allauth's
# own tracking writes to the database on every request.
USERSESSIONS_TRACK_ACTIVITY = False

# --- Second factors (accounts/mfa/) ------------------------------------------------------------

# How long a login may sit between its first factor and its second before it must start over.
ACCOUNT_LOGIN_TIMEOUT = env_int("MFA_LOGIN_TIMEOUT", 300)
# Sensitive actions (email, password, factors, backup codes) need a strong authentication at
# most this many seconds old (accounts/mfa/stepup.py).
GATEHOUSE_STEPUP_MAX_AGE = env_int("STEPUP_MAX_AGE", 300)
# Hours between asking to remove every second factor (support or the person) and the removal,
# which the person may cancel meanwhile (accounts/mfa/services/recovery.py).
GATEHOUSE_MFA_RESET_WAIT_HOURS = env_int("MFA_RESET_WAIT_HOURS", 72)
if GATEHOUSE_MFA_RESET_WAIT_HOURS < 0:
    raise ImproperlyConfigured("MFA_RESET_WAIT_HOURS must be 0 or more.")
# TOTP: 30 s steps, one step of clock drift either way; a wrong code locks the device for 1 s,
# then 2, 4, 8... (django-otp's throttling; a right code resets it).
OTP_TOTP_ISSUER = env_str("GATEHOUSE_PRODUCT_NAME", "Gatehouse")
OTP_TOTP_THROTTLE_FACTOR = 1
# Emailed second-factor codes: valid 5 minutes, one sent per minute at most.
OTP_EMAIL_TOKEN_VALIDITY = 300
OTP_EMAIL_COOLDOWN_DURATION = 60
OTP_EMAIL_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Passkeys. The relying-party id is the site's registrable domain (never an IP address); every
# origin the browser may show must be listed, https only outside localhost.
OTP_WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", "localhost")
OTP_WEBAUTHN_RP_NAME = env_str("GATEHOUSE_PRODUCT_NAME", "Gatehouse")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list(
    "WEBAUTHN_ORIGINS", ["http://localhost:8000"] if EMBEDDED else []
)
OTP_WEBAUTHN_HELPER_CLASS = "accounts.mfa.passkeys.GatehouseWebAuthnHelper"
# allauth's social accounts: enterprise SSO connections and social login providers
# (config/social_settings.py).
from config.social_settings import *  # noqa: E402, F403  (settings Django reads by name)

# Metadata, discovery and JWKS URLs are typed in by org admins and fetched by the server
# through config.outbound: https only, and never an address on a private, loopback or
# link-local network (SSRF).
SSO_FETCH_MAX_BYTES = 1024 * 1024
SSO_FETCH_TIMEOUT_SECONDS = 5
# Outbound calls (config.outbound, config/outbound_settings.py).
from config.outbound_settings import (  # noqa: E402, F401  (settings Django reads by name)
    GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS,
    OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS,
)

# An ID token signed under a key id the cached key set lacks makes Gatehouse read the IdP's
# key set again (the IdP may have rotated its keys), at most once per connection in this many
# seconds (sso.oidc.views). Otherwise every such sign-in would fetch it.
SSO_JWKS_REFETCH_INTERVAL_SECONDS = env_int("SSO_JWKS_REFETCH_INTERVAL_SECONDS", 300)
if SSO_JWKS_REFETCH_INTERVAL_SECONDS < 1:
    raise ImproperlyConfigured("SSO_JWKS_REFETCH_INTERVAL_SECONDS must be at least 1.")
# Where people reach Gatehouse, for links in emails sent by background jobs (no request to
# take the host from). Defaults to the first allowed host.
GATEHOUSE_PUBLIC_URL = env_str("PUBLIC_URL", "").rstrip("/") or (
    f"https://{ALLOWED_HOSTS[0]}" if ALLOWED_HOSTS and not EMBEDDED else "http://localhost:8000"
)
# Secrets at rest (config/encryption.py): comma-separated Fernet keys, newest first.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])

# --- The OpenID provider (provider/, config/provider_settings.py) -------------------------------

from config.provider_settings import (  # noqa: E402, F401  (settings Django reads by name)
    GATEHOUSE_OAUTH_CIMD_ALLOWED_HOSTS,
    GATEHOUSE_OAUTH_CIMD_APIS,
    GATEHOUSE_OAUTH_CIMD_POLICY,
    GATEHOUSE_OAUTH_REFRESH_ABSOLUTE_SECONDS,
    GATEHOUSE_OAUTH_SECRET_KEYS,
    GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE,
    OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL,
    OAUTH2_PROVIDER_APPLICATION_MODEL,
    OAUTH2_PROVIDER_DEVICE_GRANT_MODEL,
    OAUTH2_PROVIDER_GRANT_MODEL,
    OAUTH2_PROVIDER_ID_TOKEN_MODEL,
    OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL,
    SILENCED_SYSTEM_CHECKS,
)

OAUTH2_PROVIDER = provider_settings.oauth2_provider(
    GATEHOUSE_PUBLIC_URL,
    self_registration=GATEHOUSE_OAUTH_CIMD_POLICY != "off",
    access_token_seconds=env_int("OAUTH_ACCESS_TOKEN_SECONDS", 600),
    refresh_idle_seconds=env_int("OAUTH_REFRESH_IDLE_SECONDS", 14 * 24 * 3600),
)

# --- Email ------------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Gatehouse <no-reply@gatehouse.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
else:
    EMAIL_BACKEND = "accounts.mail.FolderAndConsoleBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"

# --- Celery -----------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"  # eager tasks never reach it; it keeps kombu from guessing
# The periodic jobs, and task modules autodiscovery does not find (config/beat_schedule.py);
# then the jobs' queue, acknowledgement and database connections (config/celery_settings.py).
from config.beat_schedule import (  # noqa: E402, F401  (settings Django reads by name)
    CELERY_BEAT_SCHEDULE,
    CELERY_IMPORTS,
)
from config.celery_settings import *  # noqa: E402, F403  (settings Django reads by name)

# --- Security ---------------------------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not EMBEDDED)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not EMBEDDED)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if EMBEDDED else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

# --- Internationalisation and static files ----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Gatehouse's own wording for django-allauth's texts (sentence case: "Sign in", not "Sign In").
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

GATEHOUSE_PRODUCT_NAME = env_str("GATEHOUSE_PRODUCT_NAME", "Gatehouse")
# The operator's brand colour (#rrggbb; empty: Gatehouse's own); staff may override both in the
# admin (organizations.OperatorBranding). Checked at start-up (organizations/checks.py).
GATEHOUSE_BRAND_COLOUR = env_str("GATEHOUSE_BRAND_COLOUR", "").lower()

# --- Management API (config/api.py, config/api_settings.py) ------------------------------------

from config.api_settings import (  # noqa: E402, F401  (settings Django reads by name)
    GATEHOUSE_API_MAX_BODY_BYTES,
    GATEHOUSE_API_MAX_JSON_DEPTH,
    GATEHOUSE_SCIM_MAX_BODY_BYTES,
    REST_FRAMEWORK,
    SPECTACULAR_SETTINGS,
)

# --- Consent and privacy rights, the audit log, events out (config/audit_settings.py) ----------
from config.audit_settings import (  # noqa: E402, F401  (settings Django reads by name)
    GATEHOUSE_AUDIT_EXPORT_HOURS,
    GATEHOUSE_AUDIT_EXPORT_MAX_ROWS,
    GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS,
    GATEHOUSE_AUDIT_RETENTION_DAYS,
    GATEHOUSE_AUDIT_VERIFY_SYNC_MAX,
    GATEHOUSE_CONSENT_EVIDENCE_DAYS,
    GATEHOUSE_DATADOG_INTAKE_URLS,
    GATEHOUSE_ERASURE_GRACE_DAYS,
    GATEHOUSE_EVENTS_ENABLED,
    GATEHOUSE_EVENTS_RETENTION_DAYS,
    GATEHOUSE_EXPORT_LINK_HOURS,
    GATEHOUSE_EXPORT_MAX_BYTES,
)

# --- Events out: the pipeline loop and webhooks (config/events_settings.py, its __all__) ------
from config.events_settings import *  # noqa: E402, F403  (settings Django reads by name)

# --- Organizations (organizations/, config/organization_settings.py) ----------------------------
from config.organization_settings import (  # noqa: E402, F401  (settings Django reads by name)
    GATEHOUSE_DNS_NAMESERVERS,
    GATEHOUSE_DNS_TIMEOUT,
    GATEHOUSE_DOMAIN_RECORD_PREFIX,
    GATEHOUSE_INVITATION_DAYS,
    GATEHOUSE_INVITATION_LIMITS,
    GATEHOUSE_ORG_CREATION_LIMIT,
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
