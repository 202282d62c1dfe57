"""The Swarm integration against the real engine: a second apply of the same spec changes nothing,
and a change of replicas alone scales the service without replacing its running tasks and keeps
its DNS round-robin endpoint (an update that left the endpoint out reset it to a virtual IP and
rolled every task)."""
import time

import pytest
from django.conf import settings

from runtime import swarm

from .conftest import PREFIX

pytestmark = [pytest.mark.services]


def running(name: str) -> set[str]:
    return {t["id"] for t in swarm.service_tasks(name) if t["desired"] == "running" and t["state"] == "running"}


def wait(what: str, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(0.5)
    return found


def test_only_what_changed_is_applied_and_scaling_replaces_no_task():
    name = f"{PREFIX}-swarm-scale"
    spec = swarm.ServiceSpec(name=name, image=settings.AIRDOCK_RUNTIME_SERVICES_IMAGE, command=("sleep", "600"),
                             labels={"io.airdock.instance": PREFIX}, user="nobody", stop_grace_seconds=1)
    swarm.service_remove(name)
    try:
        assert swarm.service_apply(spec) == "created"
        first = wait("the first task running", lambda: running(name))
        assert swarm.service_apply(spec) == "unchanged"
        assert swarm.service_apply(swarm.ServiceSpec(**{**spec.__dict__, "replicas": 2})) == "updated"
        both = wait("two tasks running", lambda: (found := running(name)) and len(found) == 2 and found)
        assert first < both  # the running task stayed
        service = swarm.service_get(name)
        assert service.attrs["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"
        assert "UpdateStatus" not in service.attrs  # no rolling update was started
    finally:
        swarm.service_remove(name)
