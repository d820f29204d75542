from django.urls import path

from social import views

app_name = "social"

urlpatterns = [
    path("link/", views.link, name="link"),
]
