from django.urls import path

from .views import dashboard, deployments, deploys, logs, notifications, operate, tokens, variables

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("workspaces/<int:pk>/", dashboard.workspace_detail, name="workspace_detail"),
    path("deployments/<int:pk>/row/", dashboard.dashboard_row, name="dashboard_row"),
    path("workspaces/<int:pk>/deployments/new/", deployments.deployment_create, name="deployment_create"),
    path("deployments/<int:pk>/", deployments.deployment_detail, name="deployment_detail"),
    path("deployments/<int:pk>/edit/", deployments.deployment_edit, name="deployment_edit"),
    path("deployments/<int:pk>/panel/", deployments.deployment_panel, name="deployment_panel"),
    path("deployments/<int:pk>/notifications/", notifications.notification_create, name="deployment_notification_create"),
    path("deployments/<int:pk>/notifications/test/", notifications.notification_test, name="deployment_notification_test"),
    path("deployments/<int:pk>/notifications/delete/", notifications.notification_delete, name="deployment_notification_delete"),
    path("deployments/<int:pk>/logs/", logs.deployment_logs, name="deployment_logs"),
    path("deployments/<int:pk>/hibernate/", operate.deployment_hibernate, name="deployment_hibernate"),
    path("deployments/<int:pk>/wake-up/", operate.deployment_wake_up, name="deployment_wake_up"),
    path("deployments/<int:pk>/git-deploy/", deployments.deployment_git_deploy, name="deployment_git_deploy"),
    path("deployments/<int:pk>/deploy-key/", deployments.deployment_deploy_key, name="deployment_deploy_key"),
    path("deployments/<int:pk>/git-host-keys/forget/", deployments.deployment_git_host_keys_forget,
         name="deployment_git_host_keys_forget"),
    path("deployments/<int:pk>/variables/", variables.deployment_variable_set, name="deployment_variable_set"),
    path("deployments/<int:pk>/variables/import/", variables.deployment_variables_import, name="deployment_variables_import"),
    path("deployments/<int:pk>/variables/delete/", variables.deployment_variable_delete, name="deployment_variable_delete"),
    path("deployments/<int:pk>/deploys/", deploys.deploy_create, name="deploy_create"),
    path("deploys/<int:pk>/", deploys.deploy_detail, name="deploy_detail"),
    path("deploys/<int:pk>/panel/", deploys.deploy_panel, name="deploy_panel"),
    path("deploys/<int:pk>/log.json", deploys.deploy_log_json, name="deploy_log_json"),
    path("deploys/<int:pk>/redeploy/", deploys.deploy_redeploy, name="deploy_redeploy"),
    path("deploys/<int:pk>/cancel/", deploys.deploy_cancel, name="deploy_cancel"),
    path("deploys/<int:pk>/rollback/", deploys.deploy_rollback, name="deploy_rollback"),
    path("orgs/<slug:slug>/tokens/", tokens.organization_tokens, name="organization_tokens"),
]
