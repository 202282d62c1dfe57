"""How tests talk to the services `make services` started, with Airdock's own credentials."""
from __future__ import annotations

import base64

from django.conf import settings


def registry_auth_header() -> dict[str, str]:
    if not settings.AIRDOCK_REGISTRY_USERNAME:
        return {}
    pair = f"{settings.AIRDOCK_REGISTRY_USERNAME}:{settings.AIRDOCK_REGISTRY_PASSWORD}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
