"""What the fault tests share: real `manage.py rqworker` processes, as `make run` starts them, on the
test's database and storage."""
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.db import connection

from tests.asgi import database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker(isolated_storage):
    """start_worker(*queues, **env): a worker process in its own process group; all are killed after the test."""
    started: list[subprocess.Popen] = []
    django_rq.get_queue("deploys").empty()

    def start(*queues: str, **extra: str) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": database_url(), "AIRDOCK_VAR_DIR": str(isolated_storage),
               "AIRDOCK_RUNTIME_CACHE_DIR": str(settings.AIRDOCK_RUNTIME_CACHE_DIR), **extra}
        process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "rqworker", *(queues or ("deploys",))],
                                   env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def run_watching(deploy, on_state: Callable[[str], None]) -> None:
    """Run the queued `deploy` in a thread of its own, calling on_state with its state every 0.2 s
    while it runs (where a test stops and starts a service); return once it has ended."""
    from deployments.models import Deploy
    from deployments.services import deploys

    def execute() -> None:
        try:
            deploys.deploy_execute(deploy_id=deploy.pk)
        finally:
            connection.close()  # this thread's own: the test database is dropped afterwards

    runner = threading.Thread(target=execute)
    runner.start()
    while runner.is_alive():
        on_state(Deploy.objects.get(pk=deploy.pk).state)
        time.sleep(0.2)
    runner.join()
    deploy.refresh_from_db()
