"""Faults: the web server (daphne, as `make run` serves the portal) is killed while Chromium watches
a log that keeps growing, and started again on the same port. The page reconnects by itself and
resumes after the last line it has: at the end it shows every line once, in order. For a deploy's
log and for the components' logs page."""
import os
import signal
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from playwright.sync_api import sync_playwright

from deployments import events
from deployments.models import Deploy
from deployments.services import component_logs
from deployments.services.deploys.log import DeployLog
from tests import factories
from tests.asgi import database_url, free_port, start_daphne

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
LINES = 150


def deploy_writer(deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    log = DeployLog(deploy, on_flush=lambda lines: events.deploy_log(deploy.pk, lines))

    def write(n: int) -> None:
        log(f"line {n}")
        log.flush()

    return f"/deploys/{deploy.pk}/", "#deploy-log", write


def component_writer(deployment):
    def write(n: int) -> None:
        component_logs.log_lines_store(deployment=deployment, component="scheduler", task_id="t1",
                                       lines=[["2026-12-02T00:00:00Z", f"line {n}"]])

    return f"/deployments/{deployment.pk}/logs/", "#component-log", write


def shown(page, selector: str) -> list[str]:
    text = page.locator(selector).inner_text()
    return [" ".join(line.split()[-2:]) for line in text.splitlines() if "line " in line]  # "[time component] line N"


@pytest.mark.parametrize("which", [deploy_writer, component_writer], ids=["deploy log", "component logs"])
def test_a_page_watching_a_log_resumes_after_the_web_server_restarts_without_a_gap_or_a_duplicate(
        alice, deployment, isolated_storage, tmp_path, which):
    path, selector, write = which(deployment)
    env = {**os.environ, "DATABASE_URL": database_url(), "AIRDOCK_VAR_DIR": str(isolated_storage)}
    port = free_port()
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115 - closed below, after the second server
    server, url = start_daphne(env, log, port=port)
    client = Client()
    client.force_login(alice)
    written = [0]
    stop = threading.Event()

    def keep_writing() -> None:
        try:
            while not stop.is_set() and written[0] < LINES:
                written[0] += 1
                write(written[0])
                time.sleep(0.05)
        finally:
            connection.close()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context()
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                              "url": url}])
        page = context.new_page()
        page.goto(url + path)
        page.wait_for_function("document.querySelector('.live-status').dataset.state === 'live'", timeout=20_000)
        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            page.wait_for_function(f"document.querySelector('{selector}').innerText.includes('line 30\\n')", timeout=30_000)
            os.kill(server.pid, signal.SIGKILL)  # as a crash: no goodbye to the sockets
            server.wait(timeout=10)
            killed_at = written[0]
            time.sleep(3)  # lines go on being written meanwhile
            server, _ = start_daphne(env, log, port=port)
            page.wait_for_function(f"document.querySelector('{selector}').innerText.includes('line {LINES}\\n')", timeout=60_000)
        finally:
            stop.set()
            writer.join()
            lines = shown(page, selector)
            browser.close()
            server.terminate()
            server.wait(timeout=20)
            log.close()
    assert killed_at < LINES - 20, "the server came back after the writer had finished: nothing was resumed"
    assert lines == [f"line {n}" for n in range(1, LINES + 1)]
    print(f"\n{which.__name__}: killed at line {killed_at}, down 3 s; the page shows all {LINES} lines once")
