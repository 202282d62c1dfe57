"""What a deployment really runs, from the engine (each Swarm task's image digest and state) and
from the components themselves (each agent's report: the DAG bundle on disk, Airflow's health),
compared with desired state: the status the user sees.

DEPLOYING until every component runs the desired image and bundle and is healthy, then HEALTHY;
UNHEALTHY, with the reason, when a component is down, silent, or still behind past the deadline."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from deployments import events
from deployments.models import Deployment
from deployments.services import notifications
from deployments.services.rollouts import rollouts_settle

from . import spec as specs
from . import swarm
from .autoscale import autoscale
from .models import ComponentReport, RuntimeCredentials

logger = logging.getLogger(__name__)
# Airflow's health answer names these components (the API server / webserver reports it).
HEALTH_KEYS = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}


def _digest(image: str) -> str:
    return image.rpartition("@")[2] if "@" in image else ""


def _node(nodes: dict[str, str], task: dict) -> str:
    """The host name of the machine a task runs on (its node id's start if the swarm forgot it)."""
    return nodes.get(task["node"], task["node"][:12])


def _since(value: str) -> datetime | None:
    """A Swarm time stamp: RFC 3339 with up to nine decimals (Go drops trailing zeros)."""
    return parse_datetime(re.sub(r"(\.\d{1,6})\d*", r"\1", value)) if value else None


def _airflow_health(reports: list[ComponentReport], live: set[str]) -> dict:
    """Airflow's health answer as the newest report of a running API server / webserver gives it
    (an old task's last report, kept for a while, may be from a moment its scheduler restarted)."""
    answers = [r for r in reports if r.task_id in live and r.component in ("api-server", "webserver")
               and r.process == "running" and r.airflow_health]
    return max(answers, key=lambda r: r.reported_at).airflow_health if answers else {}


def _component(name: str, expected: swarm.ServiceSpec | None, tasks: list[dict], reports: dict, *,
               want_digest: str, want_bundle: str, airflow_health: dict, started: datetime, now: datetime,
               nodes: dict[str, str]) -> list[dict]:
    """One entry for the component, and one per group of old tasks still draining."""
    heartbeat = timedelta(seconds=settings.AIRDOCK_RUNTIME_HEARTBEAT_TIMEOUT)
    deadline = started + timedelta(seconds=settings.AIRDOCK_RUNTIME_ROLLOUT_DEADLINE)
    data = name in specs.DATA_COMPONENTS
    replicas = expected.replicas if expected else 0
    current = [t for t in tasks if t["desired"] == "running"]
    running = [t for t in current if t["state"] == "running"]
    entries, problems = [], []
    ok = 0
    late = f" for {int((now - started).total_seconds() // 60)} min" if now >= deadline else ""  # past the deadline
    for task in running:
        report = reports.get(task["id"])
        digest = _digest(task["image"])
        if data:
            ok += 1
            continue
        if want_digest and digest != want_digest:
            problems.append(f"runs {digest[:19]}… not {want_digest[:19]}…{late}")
        elif not task.get("current", True):
            problems.append(f"runs its previous settings (Swarm is replacing it){late}")
        elif report is None or report.process != "running":
            problems.append("its agent has not reported yet" if report is None else (report.message or f"Airflow is {report.process}"))
        elif now - report.reported_at > heartbeat:
            problems.append(f"no heartbeat for {int((now - report.reported_at).total_seconds())} s")
        elif want_bundle and report.dag_bundle_version != want_bundle:
            problems.append(f"has DAG bundle {report.dag_bundle_version[:12] or 'none'} not {want_bundle[:12]}{late}")
        else:
            ok += 1
    key = HEALTH_KEYS.get(name)
    if key and airflow_health and ok:
        health = airflow_health.get(key) or {}
        beat = _since(health.get(f"latest_{key}_heartbeat") or "")
        # Airflow calls a component unhealthy once one heartbeat is a few seconds late (a busy
        # machine); within the heartbeat timeout that is not yet trouble.
        if health.get("status") != "healthy" and not (beat and now - beat <= heartbeat):
            problems.append(f"Airflow reports it {health.get('status') or 'unknown'}")
            ok = 0
    failed = [t for t in current if t["state"] in ("failed", "rejected", "orphaned")]
    if failed and not running:
        problems.append(failed[-1]["error"] or failed[-1]["state"])
    if replicas == 0:
        state = "stopped"
    elif ok >= replicas and not problems:
        state = "healthy"
    elif now < deadline and not (failed and now - started > heartbeat):
        state = "starting"
    else:
        state = "unhealthy"
    entry = {
        "name": name, "state": state, "replicas": replicas, "running": len(running),
        "running_image_digest": ",".join(sorted({_digest(t["image"]) for t in running})) if running else "",
        "running_dag_bundle_version": ",".join(sorted({
            reports[t["id"]].dag_bundle_version for t in running if t["id"] in reports and reports[t["id"]].dag_bundle_version
        })),
        "reason": "; ".join(dict.fromkeys(problems)) if state != "healthy" else "",
        "nodes": sorted({_node(nodes, t) for t in running}),
        "tasks": [{"id": t["id"], "state": t["state"], "image_digest": _digest(t["image"]),
                   "dag_bundle_version": reports[t["id"]].dag_bundle_version if t["id"] in reports else "",
                   "node": _node(nodes, t)}
                  for t in running],
    }
    entries.append(entry)
    draining = [t for t in tasks if t["desired"] in ("shutdown", "remove") and t["state"] in ("running", "preparing", "starting")]
    if draining and expected is not None:
        since = min(filter(None, (_since(t["since"]) for t in draining)), default=now)
        entries.append({
            "name": name, "state": "draining", "replicas": 0, "running": len(draining),
            "running_image_digest": ",".join(sorted({_digest(t["image"]) for t in draining})),
            "running_dag_bundle_version": "", "nodes": sorted({_node(nodes, t) for t in draining}),
            "tasks": [{"id": t["id"], "state": t["state"], "image_digest": _digest(t["image"]),
                       "node": _node(nodes, t)} for t in draining],
            "reason": "finishing its running tasks",
            "grace_ends_at": (since + timedelta(seconds=expected.stop_grace_seconds)).isoformat(),
        })
    return entries


MIB = 2**20


def _memory(component: str, expected: swarm.ServiceSpec, reports: dict, entry: dict, now: datetime) -> str:
    """Add the memory its running containers use; return why it is unhealthy for memory, or ""."""
    live = [reports[t["id"]] for t in entry["tasks"] if t["id"] in reports]
    used = [r.metrics["memory_bytes"] for r in live if isinstance(r.metrics.get("memory_bytes"), int)]
    entry["memory_mib"] = round(sum(used) / MIB) if used else None
    entry["memory_limit_mib"] = expected.memory
    window = timedelta(seconds=settings.AIRDOCK_RUNTIME_OOM_WINDOW)
    killed = [r for r in reports.values() if r.component == component and r.metrics.get("oom_at")
              and now - (_since(r.metrics["oom_at"]) or now - window) < window]
    if not killed:
        return ""
    last = max(_since(r.metrics["oom_at"]) for r in killed)
    count = sum(int(r.metrics.get("oom_kills_new", 1)) for r in killed)
    return (f"ran out of memory at {last:%H:%M} UTC: {count} process{'es' if count > 1 else ''} killed at its "
            f"{expected.memory} MiB limit; give it more memory (resources)")


def components_observed(deployment: Deployment, wanted: specs.DeploymentSpec | None) -> list[dict]:
    now = timezone.now()
    reports = {r.task_id: r for r in ComponentReport.objects.filter(deployment=deployment)}
    started = deployment.current_deploy.finished_at if deployment.current_deploy and deployment.current_deploy.finished_at else deployment.updated_at
    last_rollout = deployment.rollouts.order_by("-created_at").values_list("created_at", flat=True).first()
    started = max(started, last_rollout) if last_rollout else started  # a settings change, a wake-up: a new deadline
    want_digest = deployment.desired_image_digest
    want_bundle = deployment.desired_dag_bundle_version
    expected = {s.name: s for s in (wanted.services if wanted else [])}
    tasks_of = {name: swarm.service_tasks(name) for name in expected}
    live = {t["id"] for tasks in tasks_of.values() for t in tasks if t["desired"] == "running" and t["state"] == "running"}
    health = _airflow_health(list(reports.values()), live)
    nodes = swarm.node_names() if expected else {}
    out: list[dict] = []
    for name, service in expected.items():
        component = service.labels.get("io.airdock.component", name)
        tasks = tasks_of[name]
        found = swarm.service_get(name)
        drift = swarm.service_drift(found, service) if found is not None else ""
        bundle = want_bundle if component not in specs.DATA_COMPONENTS else ""
        scaled = _since((deployment.runtime_autoscale.get(component.removeprefix("worker-")) or {}).get("changed_at", "")) \
            if component.startswith("worker-") else None
        scaled = scaled if scaled and scaled > started else None
        entries = _component(component, service, tasks, reports, want_digest=want_digest if component not in specs.DATA_COMPONENTS else "",
                             want_bundle=bundle, airflow_health=health, started=scaled or started, now=now, nodes=nodes)
        if scaled and entries[0]["state"] == "starting":  # the autoscaler's change, not a rollout's
            entries[0].update(state="scaling", reason=f"scaling to {service.replicas} workers ({entries[0]['running']} running)")
        oom = _memory(component, service, reports, entries[0], now) if component not in specs.DATA_COMPONENTS else ""
        if oom and entries[0]["state"] != "stopped":
            entries[0].update(state="unhealthy", reason="; ".join(filter(None, [oom, entries[0]["reason"]])))
        if drift:  # changed by hand: not a rollout to wait for; the next reconcile puts it back
            entries[0].update(state="unhealthy", reason="; ".join(filter(None, [drift, entries[0]["reason"]])))
        if found is None:
            entries[0]["reason"] = "its Swarm service is missing (the next reconcile makes it)"
            if entries[0]["state"] != "starting":
                entries[0]["state"] = "unhealthy"
        out += entries
    live = {t["id"] for entry in out for t in entry["tasks"]}
    ComponentReport.objects.filter(deployment=deployment, reported_at__lt=now - timedelta(hours=1)).exclude(task_id__in=live).delete()
    return out


def status_of(components: list[dict], deployment: Deployment) -> tuple[str, str]:
    if deployment.hibernating:
        running = [c["name"] for c in components if c["running"]]
        if running:
            return Deployment.Status.HIBERNATING, "Hibernating: stopping " + ", ".join(dict.fromkeys(running)) + "."
        return Deployment.Status.HIBERNATING, "Hibernating: nothing runs; its metadata, settings and versions are kept. Wake it up to run again."
    serving = [c for c in components if c["state"] != "draining"]
    unhealthy = [c for c in serving if c["state"] == "unhealthy"]
    if unhealthy:
        return Deployment.Status.UNHEALTHY, "; ".join(f"{c['name']}: {c['reason'] or 'unhealthy'}" for c in unhealthy)
    waiting = [c for c in serving if c["state"] not in ("healthy", "stopped", "scaling")]
    if waiting:
        return Deployment.Status.DEPLOYING, "Waiting for " + ", ".join(
            f"{c['name']} ({c['reason'] or c['state']})" for c in waiting)
    draining = [c for c in components if c["state"] == "draining"]
    reason = f"Running deploy {deployment.current_deploy_id}"
    if draining:
        reason += "; old " + ", ".join(c["name"] for c in draining) + " finishing their tasks"
    return Deployment.Status.HEALTHY, reason + "."


def _autoscaled(deployment: Deployment, creds: RuntimeCredentials) -> specs.DeploymentSpec:
    """The desired spec once each worker queue has the workers its backlog needs (applied here, at
    once, to the queues whose number changed; the next reconcile finds them in sync)."""
    if deployment.hibernating:
        return specs.desired(deployment, creds, portal_url="")
    states, changed = autoscale(deployment, list(ComponentReport.objects.filter(deployment=deployment)), timezone.now())
    if states != deployment.runtime_autoscale:
        Deployment.objects.filter(pk=deployment.pk).update(runtime_autoscale=states)
        deployment.runtime_autoscale = states
    if not changed:
        return specs.desired(deployment, creds, portal_url="")
    wanted = specs.desired(deployment, creds, portal_url=specs.portal_url())
    for service in wanted.airflow:
        if service.labels.get("io.airdock.component") in {f"worker-{name}" for name in changed} and swarm.service_get(service.name):
            try:
                swarm.service_apply(service)
            except swarm.SwarmError:
                logger.exception("scaling %s failed (the next observation tries again)", service.name)
    return wanted


def observe(deployment_id: int) -> Deployment | None:
    """Refresh what the deployment runs and its status; publish a live event when either changed."""
    deployment = Deployment.objects.select_related("workspace__organization", "current_deploy").filter(pk=deployment_id).first()
    if deployment is None or not deployment.desired_image_digest:
        return deployment
    creds = RuntimeCredentials.objects.filter(deployment=deployment).first()
    if creds is None:
        return deployment  # never reconciled yet
    wanted = _autoscaled(deployment, creds)
    components = components_observed(deployment, wanted)
    status, reason = status_of(components, deployment)
    if deployment.status == Deployment.Status.UNHEALTHY and deployment.status_reason.startswith(
            "The database migrations") and deployment.runtime_migrated_image != wanted.migrate.labels["io.airdock.image"]:
        status, reason = deployment.status, deployment.status_reason  # stays until a pass migrates
    changed = (status, reason, components) != (deployment.status, deployment.status_reason, deployment.runtime_components)
    before = deployment.status
    with transaction.atomic():
        if rollouts_settle(deployment, status=status, reason=reason, running=sum(c["running"] for c in components)):
            changed = True
        Deployment.objects.filter(pk=deployment.pk).update(
            status=status, status_reason=reason[:500], runtime_components=components, runtime_observed_at=timezone.now(),
        )
        deployment.status, deployment.status_reason, deployment.runtime_components = status, reason[:500], components
        if status == Deployment.Status.UNHEALTHY and before in (Deployment.Status.HEALTHY, Deployment.Status.DEPLOYING):
            notifications.notify(deployment, "deployment_unhealthy")
        elif status == Deployment.Status.HEALTHY and before == Deployment.Status.UNHEALTHY:
            notifications.notify(deployment, "deployment_healthy")
        if changed:
            events.deployment_changed(deployment)
    return deployment
