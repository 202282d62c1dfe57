from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orgs/<slug:slug>/", views.organization_detail, name="organization_detail"),
    path("orgs/<slug:slug>/workspaces/new/", views.workspace_create, name="workspace_create"),
    path("workspaces/<int:pk>/", views.workspace_detail, name="workspace_detail"),
    path("workspaces/<int:pk>/edit/", views.workspace_edit, name="workspace_edit"),
    path("workspaces/<int:pk>/deployments/new/", views.deployment_create, name="deployment_create"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment_detail"),
    path("deployments/<int:pk>/edit/", views.deployment_edit, name="deployment_edit"),
]
urlpatterns += [
    path("deployments/<int:pk>/deploys/", views.deploy_create, name="deploy_create"),
    path("deploys/<int:pk>/", views.deploy_detail, name="deploy_detail"),
    path("deploys/<int:pk>/redeploy/", views.deploy_redeploy, name="deploy_redeploy"),
    path("deploys/<int:pk>/cancel/", views.deploy_cancel, name="deploy_cancel"),
]
urlpatterns += [
    path("orgs/<slug:slug>/tokens/", views.organization_tokens, name="organization_tokens"),
    path("orgs/<slug:slug>/audit/", views.organization_audit, name="organization_audit"),
    path("deployments/<int:pk>/git-deploy/", views.deployment_git_deploy, name="deployment_git_deploy"),
    path("deploys/<int:pk>/rollback/", views.deploy_rollback, name="deploy_rollback"),
]
urlpatterns += [
    path("deploys/<int:pk>/panel/", views.deploy_panel, name="deploy_panel"),
    path("deploys/<int:pk>/log.json", views.deploy_log_json, name="deploy_log_json"),
    path("deployments/<int:pk>/panel/", views.deployment_panel, name="deployment_panel"),
    path("deployments/<int:pk>/row/", views.dashboard_row, name="dashboard_row"),
]
