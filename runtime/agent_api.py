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
from deployments.services import bundles, component_logs

from . import jobs, swarm
from . import spec as specs
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
        "queues": [queue["name"] for queue in deployment.worker_queues],  # whose backlog the scheduler reads
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


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63 else None


def _metrics(sent: object, before: ComponentReport | None) -> dict:
    """The numbers an agent sends, checked; with when its container last had a process killed for
    memory (the kernel's count went up since its last report) and how many then."""
    sent = sent if isinstance(sent, dict) else {}
    found = {k: _count(sent.get(k)) for k in ("memory_bytes", "memory_limit_bytes", "oom_kills")}
    found = {k: v for k, v in found.items() if v is not None}
    queues = sent.get("queues")
    if isinstance(queues, dict) and len(queues) <= 100:
        found["queues"] = {str(name)[:64]: {"waiting": _count(q.get("waiting")) or 0, "running": _count(q.get("running")) or 0}
                           for name, q in queues.items() if isinstance(q, dict)}
    old = before.metrics if before is not None else {}
    found.update({k: old[k] for k in ("oom_at", "oom_kills_new") if k in old})
    kills, previous = found.get("oom_kills", 0), old.get("oom_kills", 0)
    if kills > previous:
        found.update(oom_at=timezone.now().isoformat(), oom_kills_new=kills - previous)
    return found


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
    previous = ComponentReport.objects.filter(deployment=deployment, task_id=task_id).first()
    metrics = _metrics(body.get("metrics"), previous)
    bundle = str(body.get("dag_bundle_version", ""))[:64]
    process = body.get("process") if body.get("process") in PROCESS_STATES else "running"
    ComponentReport.objects.update_or_create(
        deployment=deployment, task_id=task_id,
        defaults={
            "component": component, "container": str(body.get("container", ""))[:128],
            "dag_bundle_version": bundle, "process": process,
            "airflow_health": health if len(json.dumps(health)) <= 20000 else {},
            "message": str(body.get("message", ""))[:500], "reported_at": timezone.now(), "metrics": metrics,
        },
    )
    if previous is None or (previous.dag_bundle_version, previous.process) != (bundle, process):
        jobs.observe_soon(deployment.pk)  # a new bundle, a process started or ended: shown now, not at the watcher's next turn
    return JsonResponse({"ok": True})


@csrf_exempt
@require_POST
def logs(request: HttpRequest) -> JsonResponse:
    """A batch of one container's log lines: {"component", "task_id", "lines": [[time, text], ...]}."""
    deployment = _deployment(request)
    if deployment is None:
        return _refused()
    try:
        body = json.loads(request.body)
        component, task_id, lines = str(body["component"]), str(body["task_id"]), body["lines"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "A log batch needs component, task_id and lines."}, status=400)
    if not isinstance(lines, list):
        return JsonResponse({"detail": "lines is a list of [time, text]."}, status=400)
    stored = component_logs.log_lines_store(deployment=deployment, component=component, task_id=task_id, lines=lines)
    return JsonResponse({"stored": stored})
