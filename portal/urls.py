from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from deployments.api import api
from deployments.webhooks import git_webhook

admin.site.site_header = "Airdock administration"
admin.site.site_title = "Airdock admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("hooks/git/<int:pk>/", git_webhook, name="git_webhook"),
    path("", include("runtime.urls")),
    path("", include("tenancy.urls")),
    path("", include("deployments.urls")),
]
