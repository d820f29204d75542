from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("sso/", views.discover, name="discover"),
]
