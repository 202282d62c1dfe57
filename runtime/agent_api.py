"""The portal's side of the agents: each container's agent fetches its deployment's desired DAG
bundle version and the bundle itself, and reports what it runs. An agent authenticates with its
deployment's own token (a Swarm secret) and sees nothing of any other deployment."""
from __future__ import annotations

import hmac
import json
import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from deployments.models import Deployment
from deployments.services import bundles

from . import spec as specs
from . import swarm
from .models import ComponentReport, RuntimeCredentials

VERSION = re.compile(r"^[0-9a-f]{64}$")
PROCESS_STATES = {"starting", "running", "stopping", "exited"}


def _deployment(request: HttpRequest) -> Deployment | None:
    header = request.headers.get("Authorization", "")
    deployment_id, _, token = header.removeprefix("Bearer ").partition(".")
    if not deployment_id.isdigit() or not token:
        return None
    creds = RuntimeCredentials.objects.select_related("deployment__workspace__organization").filter(
        deployment_id=int(deployment_id)).first()
    if creds is None or not hmac.compare_digest(creds.agent_token.encode(), token.encode()):
        return None
    return creds.deployment


def api_server_addresses(deployment_id: int) -> list[str]:
    addresses = []
    for component in ("api-server", "webserver"):
        for task in swarm.service_tasks(f"{specs.prefix(deployment_id)}-{component}"):
            if task["desired"] == "running" and task["state"] == "running":
                addresses += task["addresses"]
    return addresses


def _refused() -> JsonResponse:
    return JsonResponse({"detail": "Unknown agent token."}, status=401)


@require_GET
def desired(request: HttpRequest) -> JsonResponse:
    deployment = _deployment(request)
    if deployment is None:
        return _refused()
    return JsonResponse({
        "dag_bundle_version": deployment.desired_dag_bundle_version,
        # Where the API server runs now, from Swarm: a worker that drains (and so has lost the
        # network's DNS) still reaches it through its agent.
        "api_servers": api_server_addresses(deployment.pk),
    })


@require_GET
def bundle(request: HttpRequest, version: str) -> HttpResponse:
    deployment = _deployment(request)
    if deployment is None:
        return _refused()
    if not VERSION.match(version):
        return JsonResponse({"detail": "Not a bundle version."}, status=404)
    try:  # checked against the version here too: a bundle changed in storage is never served
        data, _ = bundles.bundle_fetch(deployment=deployment, version=version)
    except bundles.BundleError as exc:
        return JsonResponse({"detail": exc.message}, status=404)
    return HttpResponse(data, content_type="application/gzip")


@csrf_exempt
@require_POST
def report(request: HttpRequest) -> JsonResponse:
    deployment = _deployment(request)
    if deployment is None:
        return _refused()
    try:
        body = json.loads(request.body)
        component, task_id = str(body["component"])[:64], str(body["task_id"])[:64]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "A report needs component and task_id."}, status=400)
    health = body.get("airflow_health") if isinstance(body.get("airflow_health"), dict) else {}
    ComponentReport.objects.update_or_create(
        deployment=deployment, task_id=task_id,
        defaults={
            "component": component, "container": str(body.get("container", ""))[:128],
            "dag_bundle_version": str(body.get("dag_bundle_version", ""))[:64],
            "process": body.get("process") if body.get("process") in PROCESS_STATES else "running",
            "airflow_health": health if len(json.dumps(health)) <= 20000 else {},
            "message": str(body.get("message", ""))[:500], "reported_at": timezone.now(),
        },
    )
    return JsonResponse({"ok": True})
