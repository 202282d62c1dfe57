from django.urls import path

from . import agent_api, ui_proxy

urlpatterns = [
    path("runtime/agent/desired", agent_api.desired, name="runtime_agent_desired"),
    path("runtime/agent/bundles/<str:version>", agent_api.bundle, name="runtime_agent_bundle"),
    path("runtime/agent/report", agent_api.report, name="runtime_agent_report"),
    path("runtime/agent/logs", agent_api.logs, name="runtime_agent_logs"),
    path("deployments/<int:pk>/airflow/", ui_proxy.airflow_ui, name="deployment_airflow"),
    path("deployments/<int:pk>/airflow/<path:path>", ui_proxy.airflow_ui, name="deployment_airflow_path"),
]
