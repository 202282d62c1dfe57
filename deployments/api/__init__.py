"""The JSON API under /api/v1/, for CI: bearer API tokens, scoped and role-checked on every call.

Routes call services and selectors and return models; `schemas` shapes them. Every error a
service raises (`portal.errors.AirdockError`) is answered here, once, as {"detail": ...}.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import HttpBearer

from portal.errors import AirdockError, TooManyRequests

from ..models import ApiToken
from ..services import tokens
from .auth import client_ip, over_limit, rate_limit


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        """A live token, or None (401); an address that sent too many bad tokens gets 429 first."""
        ip = client_ip(request) or "unknown"
        key, limit = f"api-auth-failures:{ip}", settings.AIRDOCK_API_AUTH_FAILURES_PER_MINUTE
        if over_limit(key, limit):
            raise TooManyRequests(f"Too many requests with bad API tokens from {ip}; wait a minute and try again.")
        found = tokens.token_authenticate(raw=token, ip=ip)
        if found is None:
            rate_limit(key, limit, what="requests with bad API tokens")
        return found


api = NinjaAPI(
    title="Airdock API", version="1", urls_namespace="api", auth=TokenAuth(),
    description="Deploy Astro projects from CI. Authenticate with `Authorization: Bearer adk_…`.",
)


@api.exception_handler(AirdockError)
def airdock_error(request: HttpRequest, exc: AirdockError):
    return api.create_response(request, exc.payload(), status=exc.status)


# Imported after `api`: the routes register themselves on it.
from . import as_code, deploys, logs, notifications, operate, variables, workspaces

api.add_router("", workspaces.router)
api.add_router("", deploys.router)
api.add_router("", variables.router)
api.add_router("", operate.router)
api.add_router("", as_code.router)
api.add_router("", logs.router)
api.add_router("", notifications.router)
