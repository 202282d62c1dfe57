"""ASGI entry point: HTTP through Django, websockets through Channels (authorized consumers)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from deployments.middleware import AsgiUploadLimit  # noqa: E402
from deployments.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": AsgiUploadLimit(django_asgi_app),  # 413 from the headers, before the body is received
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
