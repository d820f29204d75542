"""Impersonation's addresses: the staff pages under /admin/impersonate/ (namespace
``impersonation_admin``) and the approver's link and "End" (namespace ``impersonation``)."""

from __future__ import annotations

from django.urls import path

from accounts.impersonation import views

admin_urlpatterns = (
    [
        path("user/<int:user_id>/", views.staff_only(views.start_form), name="start"),
        path("<uuid:public_id>/", views.staff_only(views.detail), name="detail"),
        path("<uuid:public_id>/start/", views.staff_only(views.start_approved), name="begin"),
    ],
    "impersonation_admin",
)

urlpatterns = (
    [
        path("impersonation/approve/<str:token>/", views.approve, name="approve"),
        path("impersonation/end/", views.end, name="end"),
    ],
    "impersonation",
)
