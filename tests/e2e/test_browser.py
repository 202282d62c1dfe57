"""The portal in headless Chromium, against the real ASGI server (daphne), a real RQ worker,
Redis, Docker and the registry: a deploy goes through its steps live, without a reload.
Screenshots land in test-artifacts/ for a reviewer."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect, sync_playwright

from tests.asgi import start_daphne
from tests.projects import BROKEN_DAG, make_project, pack

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SETUP = """
from deployments.services import deployments
from tenancy import services as tenancy
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user("erin@example.com", "erin@example.com", "a-long-password-1")
org = tenancy.organization_create(slug="browser", owner=user)
ws = tenancy.workspace_create(organization=org, name="Browser")
d = deployments.deployment_create(workspace=ws, name="live-etl")
print(d.pk)
"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A whole portal in subprocesses: its own SQLite file, daphne and an RQ worker."""
    var = tmp_path_factory.mktemp("portal-var")
    env = {**os.environ, "AIRDOCK_VAR_DIR": str(var), "REDIS_URL": re.sub(r"/\d+$", "/14", django_settings.REDIS_URL), "DJANGO_DEBUG": "true"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    deployment_id = int(subprocess.run([*manage, "shell", "-c", SETUP], env=env, check=True, cwd=ROOT,
                                       capture_output=True, text=True).stdout.strip().splitlines()[-1])
    logs = open(var / "processes.log", "w")
    try:
        server, url = start_daphne(env, logs)
    except AssertionError:
        pytest.fail(f"daphne did not answer: {(var / 'processes.log').read_text()[-2000:]}")
    worker = subprocess.Popen([*manage, "rqworker", "deploys"], env=env, cwd=ROOT, stdout=logs, stderr=subprocess.STDOUT)
    yield url, deployment_id, env
    for process in (server, worker):
        process.terminate()
        process.wait(timeout=20)
    logs.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        yield chromium
        chromium.close()


def sign_in(page, url) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "erin@example.com")
    page.fill("#id_password", "a-long-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def upload(page, url, deployment_id, archive: Path) -> None:
    page.goto(f"{url}/deployments/{deployment_id}/")
    page.set_input_files("#id_archive", str(archive))
    page.click("#deploy-form button[type=submit]")
    page.wait_for_url("**/deploys/*/")
    page.evaluate("window.__noReload = 'still here'")


def test_a_deploy_goes_live_through_its_steps_and_the_dashboard_follows(portal, browser, tmp_path):
    url, deployment_id, _ = portal
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, url)
    dashboard = context.new_page()
    dashboard.goto(f"{url}/")
    expect(dashboard.locator("#live-status")).to_have_text("live")
    dashboard.evaluate("window.__noReload = 'still here'")

    good = tmp_path / "good.tar.gz"
    good.write_bytes(pack(make_project(tmp_path / "good")))
    upload(page, url, deployment_id, good)
    expect(page.locator("#live-status")).to_have_text("live", timeout=10_000)
    expect(page.locator("#step-building .badge")).to_have_text("Succeeded", timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "deploy-in-progress.png"), full_page=True)
    expect(page.locator("#deploy-state")).to_have_attribute("data-state", "SUCCEEDED", timeout=180_000)
    expect(page.locator("#deploy-log")).to_contain_text("succeeded")
    expect(page.locator("#parse-results")).to_contain_text("example_dag")
    expect(page.locator("#push-progress")).to_be_visible()  # per-layer push progress arrived live
    assert page.evaluate("window.__noReload") == "still here", "the deploy page updated in place"
    page.screenshot(path=str(ARTIFACTS / "deploy-succeeded.png"), full_page=True)
    tag = page.locator("#deploy-image").inner_text().rsplit(":", 1)[-1]
    assert tag.startswith("deploy-")

    expect(dashboard.locator(f"#deployment-{deployment_id} [data-field=image-tag]")).to_have_text(tag, timeout=15_000)
    assert dashboard.evaluate("window.__noReload") == "still here", "the dashboard updated in place"
    dashboard.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(pack(make_project(tmp_path / "broken", dags={"broken.py": BROKEN_DAG})))
    upload(page, url, deployment_id, broken)
    expect(page.locator("#deploy-state")).to_have_attribute("data-state", "FAILED", timeout=180_000)
    expect(page.locator("#deploy-error")).to_contain_text("dags/broken.py line 4")
    expect(page.locator("#parse-results")).to_contain_text("this_module_does_not_exist")
    expect(page.locator("#deploy-log")).to_contain_text("ERROR dags/broken.py line 4")
    assert page.evaluate("window.__noReload") == "still here"
    page.screenshot(path=str(ARTIFACTS / "deploy-failed.png"), full_page=True)
    page.goto(f"{url}/deployments/{deployment_id}/")
    expect(page.locator("#deploy-history")).to_contain_text("Failed")
    expect(page.locator("#desired-image")).to_contain_text(tag)
    page.screenshot(path=str(ARTIFACTS / "deployment.png"), full_page=True)
    context.close()


OBSERVED = """
from deployments import events
from deployments.models import Deployment
d = Deployment.objects.get(pk={pk})
old, new = "sha256:" + "0" * 64, d.desired_image_digest
bundle = d.desired_dag_bundle_version
def entry(name, state, digest, reason="", **extra):
    return {{"name": name, "state": state, "replicas": 0 if state == "draining" else 1, "running": 1,
             "running_image_digest": digest, "running_dag_bundle_version": bundle, "reason": reason,
             "nodes": ["{node}"], "tasks": [], **extra}}
rolling = {rolling}
d.runtime_components = [entry("scheduler", "healthy", new), entry("worker-default", "starting" if rolling else "healthy", new)]
if rolling:
    d.runtime_components.append(entry("worker-default", "draining", old, "finishing its running tasks",
                                      grace_ends_at="2026-12-02T10:30:00+00:00"))
d.status = "DEPLOYING" if rolling else "HEALTHY"
d.status_reason = "Waiting for worker-default (starting)" if rolling else "Running deploy 1."
d.save(update_fields=["runtime_components", "status", "status_reason"])
events.deployment_changed(d)
"""


def observed(portal_env, deployment_id: int, *, rolling: bool, node: str) -> None:
    """Write what the data plane's observe pass writes (components, status) and publish its event,
    in the portal's own database: the pages must follow without a reload."""
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c",
                    OBSERVED.format(pk=deployment_id, rolling=rolling, node=node)], env=portal_env, cwd=ROOT, check=True)


def test_the_components_table_follows_the_data_plane_live(portal, browser):
    url, deployment_id, env = portal
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, url)
    page.goto(f"{url}/deployments/{deployment_id}/")
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__noReload = 'still here'")

    observed(env, deployment_id, rolling=True, node="machine-2")
    rows = page.locator("#components tr[data-component=worker-default]")
    expect(rows).to_have_count(2, timeout=15_000)
    expect(rows.nth(1).locator(".badge")).to_have_text("draining")
    expect(rows.nth(1)).to_contain_text("stopped at the latest 2026-12-02 10:30 UTC")
    expect(rows.nth(1)).to_contain_text("≠")
    expect(rows.nth(0)).to_contain_text("machine-2")
    expect(page.locator("#deployment-panel .heading")).to_contain_text("Waiting for worker-default")
    page.screenshot(path=str(ARTIFACTS / "components-rolling.png"), full_page=True)

    observed(env, deployment_id, rolling=False, node="machine-2")
    expect(rows).to_have_count(1, timeout=15_000)
    expect(rows.nth(0).locator(".badge")).to_have_text("healthy")
    expect(page.locator("#components table")).not_to_contain_text("≠")
    assert page.evaluate("window.__noReload") == "still here", "the deployment page updated in place"
    page.goto(f"{url}/")
    expect(page.locator(f"#deployment-{deployment_id} [data-field=components]")).to_contain_text("in sync ✓")
    context.close()
