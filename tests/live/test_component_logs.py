"""Component logs live: lines an agent ships (through its HTTP endpoint, with its deployment's
token) reach a member's socket at once, a reconnecting socket resumes after its last line without
a gap or a duplicate, and an outsider's socket is refused."""
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from deployments.models import ComponentLogLine
from runtime.models import RuntimeCredentials

from .test_consumers import communicator, session_cookie

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def ship(deployment, lines, component="scheduler"):
    creds, _ = RuntimeCredentials.objects.get_or_create(deployment=deployment)
    answer = Client().post("/runtime/agent/logs", json.dumps({"component": component, "task_id": "task1", "lines": lines}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {deployment.pk}.{creds.agent_token}")
    assert answer.status_code == 200, answer.content
    return answer.json()["stored"]


def test_a_shipped_line_reaches_a_members_socket_and_a_reconnect_resumes_after_the_last(client, bob, deployment):
    ship(deployment, [["2026-12-01T12:00:00Z", "before the page"]])
    cookie = session_cookie(client, bob)

    async def scenario():
        ws = communicator(f"/ws/deployments/{deployment.pk}/logs/", cookie)
        assert (await ws.connect())[0]
        await sync_to_async(ship)(deployment, [["2026-12-01T12:00:01Z", "Starting the scheduler"], [None, "no clock"]])
        event = await ws.receive_json_from(timeout=5)
        assert event["type"] == "component.logs"
        assert [(l["component"], l["text"]) for l in event["lines"]] == [("scheduler", "Starting the scheduler"), ("scheduler", "no clock")]
        last = event["lines"][0]["id"]
        await ws.disconnect()
        again = communicator(f"/ws/deployments/{deployment.pk}/logs/?after={last}", cookie)
        assert (await again.connect())[0]
        resumed = await again.receive_json_from(timeout=5)
        assert [l["text"] for l in resumed["lines"]] == ["no clock"] and resumed["snapshot"]
        await again.disconnect()

    async_to_sync(scenario)()


def test_an_outsider_socket_is_refused_and_a_wrong_agent_token_stores_nothing(client, charlie, deployment):
    cookie = session_cookie(client, charlie)

    async def scenario():
        ws = communicator(f"/ws/deployments/{deployment.pk}/logs/", cookie)
        connected, code = await ws.connect()
        assert not connected and code == 4404

    async_to_sync(scenario)()
    answer = Client().post("/runtime/agent/logs", json.dumps({"component": "x", "task_id": "t", "lines": [[None, "forged"]]}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {deployment.pk}.wrong")
    assert answer.status_code == 401 and not ComponentLogLine.objects.exists()
