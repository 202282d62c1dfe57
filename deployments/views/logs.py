"""A deployment's component logs: search by component, text and time, then follow them live."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.errors import Invalid

from .. import selectors
from ..services.component_logs import parse_time
from .deployments import visible_deployment

PAGE_LINES = 500


@login_required
def deployment_logs(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = visible_deployment(request, pk)
    query = {k: request.GET.get(k, "").strip() for k in ("component", "q", "since", "until")}
    try:
        since, until = parse_time(query["since"]), parse_time(query["until"])
    except Invalid as exc:
        messages.error(request, exc.message)
        since = until = None
    lines = selectors.component_log_lines(deployment, component=query["component"], search=query["q"],
                                          since=since, until=until, limit=PAGE_LINES)
    return render(request, "deployments/deployment_logs.html", {
        "deployment": deployment, "lines": lines, "query": query, "components": selectors.component_log_names(deployment),
        "last_id": max((line.id for line in lines), default=selectors.component_log_last_id(deployment)),
        "live": until is None, "page_lines": PAGE_LINES,
    })
