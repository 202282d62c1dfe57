"""`make run`'s processes are supervised: scripts/run.sh, started as `make run` starts it (on a
database and var folder of its own, a free port), serves the portal; a worker killed with SIGKILL
(the RQ worker, the reaper) is running again within seconds; Ctrl-C (SIGTERM) stops everything."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.asgi import free_port

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"


def pid_of(var: Path, name: str, timeout: float = 60, other_than: int = 0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = int((var / "run" / f"{name}.pid").read_text())
        except (OSError, ValueError):
            pid = 0
        if pid and pid != other_than and alive(pid):
            return pid
        time.sleep(0.5)
    raise AssertionError(f"no {name} running after {timeout} s: {(var / 'logs' / f'{name}.log').read_text()[-1500:]}")


@pytest.fixture
def portal(tmp_path):
    var = tmp_path / "var"
    port = free_port()
    env = {**os.environ, "AIRDOCK_VAR_DIR": str(var), "AIRDOCK_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "REDIS_URL": settings.REDIS_URL.rsplit("/", 1)[0] + "/11", "VENV": str(Path(sys.executable).parents[1])}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
    process = subprocess.Popen(["scripts/run.sh"], env=env, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("make run's portal did not answer")
    yield var, url, process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def test_a_killed_worker_comes_back_and_ctrl_c_stops_everything(portal):
    var, url, process = portal
    killed = {}
    for name in ("rqworker", "reaper", "runtime-watch"):
        pid = pid_of(var, name)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        again = pid_of(var, name, timeout=30, other_than=pid)
        killed[name] = time.monotonic() - started
        assert again != pid and alive(again)
        assert "starting it again" in (var / "logs" / f"{name}.log").read_text()
    print("\nback after SIGKILL: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in killed.items()))
    urllib.request.urlopen(f"{url}/login/", timeout=5)  # still serving

    pids = [int((var / "run" / f"{name}.pid").read_text()) for name in ("rqworker", "reaper", "runtime-watch")]
    os.killpg(process.pid, signal.SIGTERM)  # what Ctrl-C sends
    process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(alive(pid) for pid in pids)
