"""The portal's ASGI server (daphne, as `make run` starts it) in a subprocess, for browser tests."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(env: dict, log, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start daphne on a loopback port (a free one by default); return it and its URL once it answers."""
    port = port or free_port()
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise AssertionError(f"daphne did not answer on {url}")


def database_url() -> str:
    """The test database as a DATABASE_URL, for the portal's processes a test starts."""
    from urllib.parse import quote

    from django.db import connections

    found = connections["default"].settings_dict
    if found["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{found['NAME']}"
    return (f"postgres://{quote(found['USER'])}:{quote(found['PASSWORD'])}@{found['HOST']}:{found['PORT'] or 5432}/"
            f"{found['NAME']}")
