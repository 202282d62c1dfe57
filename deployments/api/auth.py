"""What every route asks of its token: the caller's address, its role, objects in its scope."""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from portal.errors import Forbidden, NotFound

from ..models import ApiToken


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def require_role(token: ApiToken, roles: frozenset, doing: str) -> None:
    if token.role not in roles:
        raise Forbidden(f"This token's role ({token.role}) may not {doing}.")


def get_scoped(queryset: QuerySet, pk: int):
    """One object within the token's scope; anything else is a 404."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No {queryset.model._meta.verbose_name} {pk} here.")
    return obj
