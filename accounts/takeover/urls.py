from django.urls import path

from accounts.takeover import views

app_name = "takeover"

urlpatterns = [
    path("accounts/2fa/check/", views.confirm, name="confirm"),
    path("accounts/not-me/<str:token>/", views.disown, name="disown"),
]
