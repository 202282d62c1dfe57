from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/deploys/<int:pk>/", consumers.DeployConsumer.as_asgi()),
    path("ws/deployments/<int:pk>/", consumers.DeploymentConsumer.as_asgi()),
    path("ws/deployments/<int:pk>/logs/", consumers.ComponentLogsConsumer.as_asgi()),
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),
]
