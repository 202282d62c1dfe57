from django.urls import path

from . import views

urlpatterns = [
    path("orgs/<slug:slug>/", views.organization_detail, name="organization_detail"),
    path("orgs/<slug:slug>/workspaces/new/", views.workspace_create, name="workspace_create"),
    path("orgs/<slug:slug>/audit/", views.organization_audit, name="organization_audit"),
    path("workspaces/<int:pk>/edit/", views.workspace_edit, name="workspace_edit"),
]
