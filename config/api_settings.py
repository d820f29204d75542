"""The management API's settings (config/api.py): DRF, the OpenAPI document, body limits.
Imported by name into config/settings.py."""

from __future__ import annotations

from config.env import env_int

REST_FRAMEWORK = {
    # OAuth access tokens for the management API first (only with an Authorization header),
    # then the browser's session cookie (with CSRF).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "provider.api.authentication.GatehouseBearerAuthentication",
        "config.api_framework.GatehouseSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["provider.api.permissions.SignedInOrToken"],
    # Each app's rate_limit_per_minute, counted in the shared cache.
    "DEFAULT_THROTTLE_CLASSES": ["provider.api.ratelimits.ClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api_framework.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api_framework.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.GatehouseAutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse management API",
    "DESCRIPTION": (
        "Gatehouse's management API. Organizations and what their admins manage (members and "
        "their roles, invitations, verified email domains, sign-in policy); a person's own "
        "consents, signed consent receipts and account deletion; for the operator's "
        "backends, people's accounts (search, create, profile, block, sessions, second "
        "factors, erasure), the purpose catalogue, anyone's consents and the do-not-sell "
        "list; and, for operators, OAuth applications and APIs.\n\n"
        "Backends call with an OAuth access token for this API (`Authorization: Bearer`), "
        "got by client credentials at `/o/token/` with `resource` set to the API's "
        "identifier; each operation lists the permissions (scopes) its token needs, and an "
        "app bound to one organization sees only that organization. Each app has its own "
        "budget of calls a minute. Browsers call with the Gatehouse session cookie (writes "
        "also send the `X-CSRFToken` header). Bodies are JSON, at most "
        "`API_MAX_BODY_BYTES`. Every error is a problem response (RFC 9457, "
        "`application/problem+json`) whose `detail` says what went wrong; a 429 says in "
        "`Retry-After` when to try again."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "ApplicationKindEnum": "provider.models.ApplicationKind",
        "PurposeKindEnum": "consent.models.Purpose.Kind",
        "SigningAlgorithmEnum": [("RS256", "RS256"), ("ES256", "ES256")],
        "IdTokenAlgorithmEnum": "provider.models.Application.ALGORITHM_TYPES",
        "EventTypeEnum": "events.registry.TYPE_CHOICES",
        "WebhookEndpointStatusEnum": "events.models.WebhookEndpoint.Status",
        "WebhookDeliveryStatusEnum": "events.models.Delivery.Status",
    },
    # Separate request and response components: what a client sends is not what it reads.
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's scripts and styles are served by Gatehouse, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The largest JSON body the API reads, and how deeply it may nest.
GATEHOUSE_API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)
GATEHOUSE_API_MAX_JSON_DEPTH = 32
# SCIM's bodies are larger: a directory pushes a group with its members (a member is about 50
# bytes: a megabyte holds some 20,000). Bounded all the same; DATA_UPLOAD_MAX_MEMORY_SIZE must
# be at least this.
GATEHOUSE_SCIM_MAX_BODY_BYTES = env_int("SCIM_MAX_BODY_BYTES", 1024 * 1024)
