"""Websocket consumers against the real channels-redis layer and the real ASGI application."""
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from deployments import events
from deployments.models import Deploy, DeployStep
from portal.asgi import application
from tests import factories

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


def communicator(path: str, cookie: bytes | None = None, origin: bytes = b"http://127.0.0.1:8000"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def test_it_streams_state_and_log_events_to_an_authorized_user(client, bob, deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.QUEUED)
    deploy.log_lines.create(seq=1, text="old line")
    step = DeployStep.objects.create(deploy=deploy, name="BUILDING", position=0)
    cookie = session_cookie(client, bob)

    def worker_publishes():
        deploy.state = Deploy.State.BUILDING
        step.state = DeployStep.State.RUNNING
        events.deploy_state(deploy, step)
        events.deploy_log(deploy.pk, [deploy.log_lines.create(seq=2, step="BUILDING", text="Step 1/1 : FROM airdock/runtime:3.1")])

    async def scenario():
        ws = communicator(f"/ws/deploys/{deploy.pk}/?after=0", cookie)
        connected, _ = await ws.connect()
        assert connected
        snapshot = await ws.receive_json_from(timeout=5)
        assert snapshot["type"] == "deploy.state" and snapshot["state"] == "QUEUED"
        backlog = await ws.receive_json_from(timeout=5)
        assert [l["text"] for l in backlog["lines"]] == ["old line"]
        await sync_to_async(worker_publishes)()
        state = await ws.receive_json_from(timeout=5)
        assert state["state"] == "BUILDING" and state["step"]["name"] == "BUILDING"
        log = await ws.receive_json_from(timeout=5)
        assert log["lines"] == [{"seq": 2, "step": "BUILDING", "text": "Step 1/1 : FROM airdock/runtime:3.1"}]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_it_resumes_the_log_after_the_last_line_the_page_has(client, bob, deployment):
    deploy = factories.DeployFactory(deployment=deployment)
    for seq in range(1, 6):
        deploy.log_lines.create(seq=seq, text=f"line {seq}")
    cookie = session_cookie(client, bob)

    async def scenario():
        ws = communicator(f"/ws/deploys/{deploy.pk}/?after=3", cookie)
        assert (await ws.connect())[0]
        await ws.receive_json_from(timeout=5)
        backlog = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return [l["seq"] for l in backlog["lines"]]

    assert async_to_sync(scenario)() == [4, 5]


@pytest.mark.parametrize("path", ["/ws/deploys/{deploy}/", "/ws/deployments/{deployment}/"])
def test_it_refuses_outsiders_and_anonymous_users_before_any_data(client, charlie, deployment, path):
    deploy = factories.DeployFactory(deployment=deployment)
    url = path.format(deploy=deploy.pk, deployment=deployment.pk)

    async def attempt(cookie):
        ws = communicator(url, cookie)
        connected, code = await ws.connect()
        assert await ws.receive_nothing(timeout=0.2)
        return connected, code

    assert async_to_sync(attempt)(session_cookie(client, charlie)) == (False, 4404)
    assert async_to_sync(attempt)(None) == (False, 4401)


def test_it_refuses_a_bad_origin(client, bob, deployment):
    cookie = session_cookie(client, bob)

    async def attempt():
        ws = communicator(f"/ws/deployments/{deployment.pk}/", cookie, origin=b"http://evil.example.com")
        connected, _ = await ws.connect()
        return connected

    assert async_to_sync(attempt)() is False


def test_the_dashboard_socket_hears_only_visible_workspaces(client, bob, charlie, deployment):
    foreign = factories.DeploymentFactory(workspace=factories.WorkspaceFactory(name="Elsewhere2"))
    cookie = session_cookie(client, bob)

    def publish():
        events.deployment_changed(foreign)
        events.deployment_changed(deployment)

    async def scenario():
        ws = communicator("/ws/dashboard/", cookie)
        assert (await ws.connect())[0]
        await sync_to_async(publish)()
        event = await ws.receive_json_from(timeout=5)
        assert event["deployment_id"] == deployment.pk
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_an_open_socket_follows_membership_changes_and_sign_out(client, bob, deployment, workspace):
    """Access is re-checked on open sockets, not only at connect: removed users stop hearing."""
    from tenancy import services as tenancy
    from tenancy.models import WorkspaceMembership

    cookie = session_cookie(client, bob)
    other = factories.WorkspaceFactory(organization=workspace.organization, name="Later")
    later = factories.DeploymentFactory(workspace=other)

    async def scenario():
        page = communicator(f"/ws/deployments/{deployment.pk}/", cookie)
        dashboard = communicator("/ws/dashboard/", cookie)
        assert (await page.connect())[0] and (await dashboard.connect())[0]
        # Added to another workspace: the open dashboard starts hearing it.
        await sync_to_async(tenancy.workspace_member_set)(workspace=other, user=bob, role=WorkspaceMembership.Role.MEMBER)
        await dashboard.receive_nothing(timeout=0.5)
        await sync_to_async(events.deployment_changed)(later)
        assert (await dashboard.receive_json_from(timeout=5))["deployment_id"] == later.pk
        # Removed from the deployment's workspace: its page socket closes, before any more data.
        await sync_to_async(lambda: WorkspaceMembership.objects.filter(user=bob, workspace=workspace).delete())()
        assert await page.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
        # Signed out: the sockets of that session close too.
        await sync_to_async(client.logout)()
        assert await dashboard.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()


def test_a_deactivated_account_loses_its_open_sockets(client, bob, deployment):
    cookie = session_cookie(client, bob)

    def deactivate():
        bob.is_active = False
        bob.save()

    async def scenario():
        ws = communicator(f"/ws/deployments/{deployment.pk}/", cookie)
        assert (await ws.connect())[0]
        await sync_to_async(deactivate)()
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()


def test_no_websocket_frame_carries_a_secret_variable(client, alice, deployment):
    """The page and dashboard sockets of a deployment whose secret changes and which rolls it out
    (status events, as the data plane publishes them) never carry the secret's value."""
    from deployments.services import variables

    cookie = session_cookie(client, alice)
    value = "a-secret-value-9b1f3c"

    def change_and_roll_out():
        variables.variable_set(deployment=deployment, key="WAREHOUSE_PASSWORD", value=value, is_secret=True)
        deployment.status, deployment.status_reason = "DEPLOYING", "Waiting for scheduler (starting)"
        events.deployment_changed(deployment)
        deployment.status, deployment.status_reason = "HEALTHY", "Running deploy 1."
        events.deployment_changed(deployment)

    async def scenario():
        page = communicator(f"/ws/deployments/{deployment.pk}/", cookie)
        dashboard = communicator("/ws/dashboard/", cookie)
        assert (await page.connect())[0] and (await dashboard.connect())[0]
        await sync_to_async(change_and_roll_out)()
        frames = []
        for ws in (page, dashboard):
            for _ in range(2):
                frames.append(await ws.receive_from(timeout=5))
            await ws.disconnect()
        assert all("deployment.changed" in frame for frame in frames)
        assert not any(value in frame for frame in frames)

    async_to_sync(scenario)()


def test_a_socket_idle_for_longer_than_the_layers_poll_still_gets_the_next_event(client, bob, deployment):
    """channels-redis polls the group's queue with a 5-second BZPOPMIN; redis-py's default socket
    timeout is also 5 s, and the two raced: an idle page's socket died with 1011 (found by the
    live-logs benchmark). The layer's connections wait longer than its poll."""
    import asyncio

    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    cookie = session_cookie(client, bob)

    async def scenario():
        ws = communicator(f"/ws/deploys/{deploy.pk}/?after=0", cookie)
        connected, _ = await ws.connect()
        assert connected
        await ws.receive_json_from(timeout=5)  # the state snapshot
        await asyncio.sleep(12)  # two polls and more with nothing to say
        await sync_to_async(events.deploy_log)(deploy.pk, [await sync_to_async(deploy.log_lines.create)(seq=1, text="after a pause")])
        log = await ws.receive_json_from(timeout=10)
        assert log["lines"][0]["text"] == "after a pause"
        await ws.disconnect()

    async_to_sync(scenario)()
