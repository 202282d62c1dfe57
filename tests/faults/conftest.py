"""What the fault tests share: real `manage.py rqworker` processes, as `make run` starts them, on the
test's database and storage."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django.conf import settings

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
