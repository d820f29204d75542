from django.urls import path

from consent import export_views, views

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

urlpatterns += [
    path("account/privacy/export/", export_views.request_export, name="export-request"),
    path(
        "account/privacy/exports/<uuid:public_id>/<str:token>/",
        export_views.download,
        name="export-download",
    ),
]
