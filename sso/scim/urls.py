"""``/scim/v2/``: the SCIM service provider's endpoints (RFC 7644). Every path here is served
by ``sso.scim.transport.ScimMiddleware``: the organization is the bearer token's."""

from django.urls import path

from sso.scim import views

urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config),
    path("Schemas", views.schemas),
    path("Schemas/<str:urn>", views.schema),
    path("ResourceTypes", views.resource_types),
    path("ResourceTypes/<str:name>", views.resource_type),
    path("Users", views.users),
    path("Users/.search", views.users_search),
    path("Users/<str:public_id>", views.user),
    path("Groups", views.groups),
    path("Groups/.search", views.groups_search),
    path("Groups/<str:public_id>", views.group),
    path(".search", views.not_implemented),
    path("Bulk", views.not_implemented),
]
