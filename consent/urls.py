from django.urls import path

from consent import erasure_views, export_views, views

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

urlpatterns += [
    path("account/privacy/delete/", erasure_views.request_erasure, name="erasure-request"),
    path("account/privacy/delete/cancel/", erasure_views.cancel_erasure, name="erasure-cancel"),
]
