"""The Webhooks tab of the organization portal, at /orgs/<slug>/webhooks/.

Where an organization's owners and admins (``Perm.MANAGE_INTEGRATIONS``) register the URLs that
receive its events, signed: each endpoint's signing secret is shown once, when it is made or
rotated; the delivery log shows what was sent and what came back, and a delivery can be sent
again. Endpoints and deliveries are named in URLs by their public ids (``whe_…``, ``dlv_…``).

``urlpatterns`` is mounted by config/urls.py under /orgs/<slug>/webhooks/, in the "orgs"
namespace, like the SSO, SCIM and Applications tabs.
"""

from django.urls import path

from events.portal import deliveries, endpoints

urlpatterns = [
    path("", endpoints.endpoint_list, name="webhooks"),
    path("new/", endpoints.endpoint_new, name="webhook-new"),
    path("<str:endpoint_id>/", endpoints.endpoint_page, name="webhook"),
    path("<str:endpoint_id>/edit/", endpoints.endpoint_edit, name="webhook-edit"),
    path("<str:endpoint_id>/disable/", endpoints.endpoint_disable, name="webhook-disable"),
    path("<str:endpoint_id>/enable/", endpoints.endpoint_enable, name="webhook-enable"),
    path("<str:endpoint_id>/rotate/", endpoints.endpoint_rotate, name="webhook-rotate"),
    path("<str:endpoint_id>/test/", endpoints.endpoint_test, name="webhook-test"),
    path("<str:endpoint_id>/delete/", endpoints.endpoint_delete, name="webhook-delete"),
    path(
        "<str:endpoint_id>/deliveries/<str:delivery_id>/",
        deliveries.delivery_page,
        name="webhook-delivery",
    ),
    path(
        "<str:endpoint_id>/deliveries/<str:delivery_id>/resend/",
        deliveries.delivery_resend,
        name="webhook-resend",
    ),
]
