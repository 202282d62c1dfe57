"""The logs of a deployment's components (as `astro deployment logs`): every member of the
token's scope reads them; `after` follows them (the CLI's --follow)."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from .. import selectors
from ..services.component_logs import parse_time
from .auth import get_scoped
from .schemas import ComponentLogsOut, ErrorOut

router = Router(tags=["logs"])


@router.get("/deployments/{deployment_id}/logs", response={200: ComponentLogsOut, 400: ErrorOut, 404: ErrorOut})
def list_logs(request: HttpRequest, deployment_id: int, component: str = "", search: str = "", since: str = "",
              until: str = "", after: int | None = None, limit: int = 500):
    """Lines oldest first: the last `limit` that match, or with `after` (a line id) the next ones.
    `since` / `until`: ISO 8601 (UTC) or how long ago (`15m`, `2h`, `1d`)."""
    deployment = get_scoped(selectors.token_deployments(request.auth), deployment_id)
    lines = selectors.component_log_lines(deployment, component=component, search=search, since=parse_time(since),
                                          until=parse_time(until), after=after, limit=max(1, min(limit, 5000)))
    last = lines[-1].id if lines else (after if after is not None else selectors.component_log_last_id(deployment))
    return {"lines": lines, "last_id": last}
