from django.urls import path

from consent import views

app_name = "consent"

urlpatterns = [
    path("account/privacy/", views.privacy, name="privacy"),
    path("account/privacy/decide/", views.decide, name="decide"),
    path("account/privacy/accept/", views.accept, name="accept"),
    path("account/privacy/receipts/<uuid:event_id>.jwt", views.receipt, name="receipt"),
    path(
        "privacy/policies/<int:document_id>/<int:version_id>/",
        views.policy_version,
        name="policy-version",
    ),
    path(
        "privacy/policies/<int:document_id>/<int:version_id>.txt",
        views.policy_text,
        name="policy-text",
    ),
    path("consent/.well-known/jwks.json", views.jwks, name="jwks"),
]
