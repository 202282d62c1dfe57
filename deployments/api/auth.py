"""What every route asks of its token: the caller's address, its role, objects in its scope."""
from __future__ import annotations

import time

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.errors import Forbidden, NotFound, TooManyRequests

from ..models import ApiToken


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def rate_limit(key: str, limit: int, *, what: str) -> None:
    """Count one `key` event in the current minute; refuse (429) past `limit`."""
    bucket = f"airdock:rate:{key}:{int(time.time() // 60)}"
    if cache.add(bucket, 1, timeout=90):
        count = 1
    else:
        try:
            count = cache.incr(bucket)
        except ValueError:  # expired between add and incr
            cache.add(bucket, 1, timeout=90)
            count = 1
    if count > limit:
        raise TooManyRequests(f"Too many {what} ({limit} a minute); wait a minute and try again.")


def over_limit(key: str, limit: int) -> bool:
    return (cache.get(f"airdock:rate:{key}:{int(time.time() // 60)}") or 0) >= limit


def require_role(token: ApiToken, roles: frozenset, doing: str) -> None:
    if token.role not in roles:
        raise Forbidden(f"This token's role ({token.role}) may not {doing}.")


def get_scoped(queryset: QuerySet, pk: int):
    """One object within the token's scope; anything else is a 404."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No {queryset.model._meta.verbose_name} {pk} here.")
    return obj


def managed_deployment(request: HttpRequest, deployment_id: int, doing: str):
    """The deployment in the token's scope that its role may manage (404 outside the scope, 403
    without the role), and the actor to audit: what every settings-changing route asks first."""
    from tenancy.audit import Actor

    from .. import selectors

    token: ApiToken = request.auth
    deployment = get_scoped(selectors.token_deployments(token).select_related("workspace__organization"), deployment_id)
    require_role(token, selectors.MANAGE_ROLES, doing)
    return deployment, Actor(token=token, ip=client_ip(request))
