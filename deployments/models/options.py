"""A deployment's runtime settings, each a JSON field with its own rules: worker queues (scaled
between a minimum and a maximum with their backlog), CPU and memory per component, and the
hibernation schedules. The messages say what to write instead."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from . import cron

DEFAULT_QUEUE = "default"
MAX_WORKERS = 50
MAX_CONCURRENCY = 256
QUEUE_EXAMPLE = '[{"name": "default", "min_workers": 1, "max_workers": 10, "concurrency": 5}]'
QUEUE_KEYS = {"name", "min_workers", "max_workers", "concurrency"}
RESOURCE_KEYS = {"cpu", "memory"}

# CPU (cores) and memory (MiB) limits per component; Swarm reserves AIRDOCK_RUNTIME_RESERVE of each.
DEFAULT_RESOURCES = {
    "api-server": {"cpu": 1.0, "memory": 2048},
    "webserver": {"cpu": 1.0, "memory": 2048},
    "scheduler": {"cpu": 1.0, "memory": 2048},
    "dag-processor": {"cpu": 1.0, "memory": 1536},
    "triggerer": {"cpu": 0.5, "memory": 1024},
    "worker": {"cpu": 1.0, "memory": 2048},
}
CPU_RANGE = (0.1, 32.0)
MEMORY_RANGE = (256, 256 * 1024)


def default_worker_queues() -> list[dict]:
    return [{"name": DEFAULT_QUEUE, "min_workers": 1, "max_workers": 10, "concurrency": 5}]


def normalize_worker_queues(value: object) -> object:
    """Accept the short form {"name", "workers", "concurrency"} (a fixed number of workers) too."""
    if not isinstance(value, list):
        return value
    out = []
    for queue in value:
        if isinstance(queue, dict) and "workers" in queue and not {"min_workers", "max_workers"} & set(queue):
            queue = {**{k: v for k, v in queue.items() if k != "workers"},
                     "min_workers": queue["workers"], "max_workers": queue["workers"]}
        out.append(queue)
    return out


def _check_resources(owner: str, value: dict) -> None:
    unknown = set(value) - RESOURCE_KEYS
    if unknown:
        raise ValidationError(f"{owner}: unknown {', '.join(sorted(unknown))}; give cpu (cores) and memory (MiB).")
    cpu = value.get("cpu")
    if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or not CPU_RANGE[0] <= cpu <= CPU_RANGE[1]):
        raise ValidationError(f"{owner}: cpu is in cores, a number from {CPU_RANGE[0]} to {CPU_RANGE[1]:.0f} (for example 0.5).")
    memory = value.get("memory")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or not MEMORY_RANGE[0] <= memory <= MEMORY_RANGE[1]):
        raise ValidationError(f"{owner}: memory is in MiB, a whole number from {MEMORY_RANGE[0]} to {MEMORY_RANGE[1]} (for example 2048).")


def validate_worker_queues(value: object) -> None:
    """A list of queues with unique names, `default` among them, and min ≤ max workers."""
    if not isinstance(value, list) or not value:
        raise ValidationError(f"Give at least one worker queue as a list, for example {QUEUE_EXAMPLE}.")
    names = set()
    for queue in value:
        if not isinstance(queue, dict) or not QUEUE_KEYS <= set(queue) or set(queue) - QUEUE_KEYS - RESOURCE_KEYS:
            raise ValidationError(
                f"Each worker queue needs exactly name, min_workers, max_workers and concurrency (cpu and memory "
                f"optional), as in {QUEUE_EXAMPLE}.")
        name = queue["name"]
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
            raise ValidationError(f"Queue name {name!r}: use lower-case letters, digits, '-' and '_'.")
        if name in names:
            raise ValidationError(f"Queue name {name!r} is given twice.")
        names.add(name)
        for key, top in (("min_workers", MAX_WORKERS), ("max_workers", MAX_WORKERS), ("concurrency", MAX_CONCURRENCY)):
            count = queue[key]
            low = 1 if key != "min_workers" else 0
            if not isinstance(count, int) or isinstance(count, bool) or not low <= count <= top:
                raise ValidationError(f"Queue {name!r}: {key} must be a whole number from {low} to {top}.")
        if queue["min_workers"] > queue["max_workers"]:
            raise ValidationError(f"Queue {name!r}: min_workers ({queue['min_workers']}) is above max_workers ({queue['max_workers']}).")
        _check_resources(f"Queue {name!r}", {k: v for k, v in queue.items() if k in RESOURCE_KEYS})
    if DEFAULT_QUEUE not in names:
        raise ValidationError(f"Keep the {DEFAULT_QUEUE!r} queue: tasks without a queue go there. Add queues beside it.")


def validate_resources(value: object) -> None:
    """{component: {"cpu": cores, "memory": MiB}} for the components named in DEFAULT_RESOURCES."""
    if not isinstance(value, dict):
        raise ValidationError('Give resources as {"scheduler": {"cpu": 1, "memory": 2048}, ...}.')
    for component, limits in value.items():
        if component not in DEFAULT_RESOURCES or component == "worker":
            known = ", ".join(k for k in DEFAULT_RESOURCES if k != "worker")
            raise ValidationError(f"Resources: unknown component {component!r}; use {known} (workers: on their queue).")
        if not isinstance(limits, dict):
            raise ValidationError(f'Resources of {component}: give {{"cpu": 1, "memory": 2048}}.')
        _check_resources(f"Resources of {component}", limits)


def component_resources(resources: dict, queues: list[dict], component: str) -> dict:
    """The effective {"cpu", "memory"} of a component (`worker-<queue>` for a queue's workers)."""
    if component.startswith("worker-"):
        queue = next((q for q in queues if f"worker-{q['name']}" == component), {})
        return {**DEFAULT_RESOURCES["worker"], **{k: queue[k] for k in RESOURCE_KEYS if k in queue}}
    return {**DEFAULT_RESOURCES.get(component, DEFAULT_RESOURCES["worker"]), **resources.get(component, {})}


SCHEDULE_EXAMPLE = '[{"hibernate_at": "0 19 * * 1-5", "wake_at": "0 7 * * 1-5"}]'


def validate_hibernation_schedules(value: object) -> None:
    """A list of {"hibernate_at": cron, "wake_at": cron, "enabled"?, "description"?} (UTC)."""
    if not isinstance(value, list):
        raise ValidationError(f"Give hibernation schedules as a list, for example {SCHEDULE_EXAMPLE}.")
    if len(value) > 10:
        raise ValidationError("At most 10 hibernation schedules.")
    for number, schedule in enumerate(value, 1):
        keys = set(schedule) if isinstance(schedule, dict) else set()
        if not {"hibernate_at", "wake_at"} <= keys or keys - {"hibernate_at", "wake_at", "enabled", "description"}:
            raise ValidationError(f"Schedule {number}: give hibernate_at and wake_at (enabled and description optional), "
                                  f"as in {SCHEDULE_EXAMPLE}.")
        for key in ("hibernate_at", "wake_at"):
            try:
                cron.parse(schedule[key])
            except cron.CronError as exc:
                raise ValidationError(f"Schedule {number}, {key}: {exc}.") from exc
        if not isinstance(schedule.get("enabled", True), bool):
            raise ValidationError(f"Schedule {number}: enabled is true or false.")
        if not isinstance(schedule.get("description", ""), str) or len(schedule.get("description", "")) > 200:
            raise ValidationError(f"Schedule {number}: the description is text of at most 200 characters.")
