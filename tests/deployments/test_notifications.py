"""Notifications: a deploy's end and the deployment's health reach a local receiver through the
real queue (Redis, an RQ worker) with a valid signature; Slack gets a message; a failing receiver
is recorded and retried; URLs to this machine or link-local ones are refused."""
import hashlib
import hmac
import json

import django_rq
import pytest
from rq import SimpleWorker

from deployments.integrations.outbound import OutboundError
from deployments.models import Deploy, NotificationChannel
from deployments.services import notifications
from deployments.services.deploys.states import deploy_finish
from tests import factories
from tests.api.conftest import auth
from tests.receiver import Receiver

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(settings):
    settings.AIRDOCK_NOTIFY_ALLOW_LOOPBACK = True
    found = Receiver()
    django_rq.get_queue("notifications").empty()
    yield found
    found.close()


def valid(channel, message) -> bool:
    fields = dict(part.split("=", 1) for part in message["headers"]["X-Airdock-Signature"].split(","))
    expected = hmac.new(channel.signing_secret.encode(), f"{fields['t']}.".encode() + message["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def work() -> None:
    SimpleWorker([django_rq.get_queue("notifications")], connection=django_rq.get_connection("notifications")).work(burst=True)


def test_a_failed_deploy_reaches_the_webhook_signed_through_the_queue(deployment, receiver):
    channel = notifications.channel_create(deployment=deployment, name="alerts", kind="webhook", url=receiver.url,
                                           events=["deploy_failed"])
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    deploy_finish(deploy.pk, Deploy.State.FAILED, "dags/etl.py line 4: SyntaxError")
    work()
    [message] = receiver.received
    assert valid(channel, message) and message["headers"]["X-Airdock-Event"] == "deploy_failed"
    body = json.loads(message["body"])
    assert body["deploy"]["id"] == deploy.pk and "SyntaxError" in body["deploy"]["error"]
    assert body["deployment"]["name"] == "etl" and body["summary"] == "etl: a deploy failed"
    assert NotificationChannel.objects.get(pk=channel.pk).last_result == "200 OK"
    tampered = {**message, "body": message["body"].replace(b"etl", b"xyz")}
    assert not valid(channel, tampered)


def test_slack_gets_a_message_and_unsubscribed_events_send_nothing(deployment, receiver):
    notifications.channel_create(deployment=deployment, name="slack", kind="slack", url=receiver.url,
                                 events=["deployment_unhealthy"])
    notifications.notify(deployment, "deploy_succeeded")
    notifications.notify(deployment, "deployment_unhealthy", reason="scheduler: no heartbeat for 95 s")
    work()
    [message] = receiver.received
    assert json.loads(message["body"]) == {"text": "*Airdock* etl: the deployment turned unhealthy\nscheduler: no heartbeat for 95 s"}


def test_a_failing_receiver_is_recorded_and_the_delivery_retried(deployment, receiver):
    channel = notifications.channel_create(deployment=deployment, name="alerts", kind="webhook", url=receiver.url)
    receiver.status = 500
    notifications.notify(deployment, "deploy_succeeded")
    work()
    assert NotificationChannel.objects.get(pk=channel.pk).last_result == "failed: 500 Internal Server Error"
    queue = django_rq.get_queue("notifications")
    assert queue.scheduled_job_registry.count == 1  # retried later (RQ's scheduler)
    queue.scheduled_job_registry.remove(queue.scheduled_job_registry.get_job_ids()[0], delete_job=True)


def test_the_test_button_and_api_deliver_at_once(client, deployment, receiver, org, alice):
    from tests.api.conftest import Role, make_token

    token = make_token(org, Role.OWNER)
    made = client.post(f"/api/v1/deployments/{deployment.pk}/notifications",
                       json.dumps({"name": "ops", "url": receiver.url}), content_type="application/json", **auth(token))
    assert made.status_code == 201 and made.json()["signing_secret"].startswith("whsec_")
    assert made.json()["url_shown"].startswith("http://127.0.0.1:") and "hooks" not in made.json()["url_shown"]
    listed = client.get(f"/api/v1/deployments/{deployment.pk}/notifications", **auth(token)).json()
    assert "signing_secret" not in listed[0]
    tested = client.post(f"/api/v1/deployments/{deployment.pk}/notifications/{made.json()['id']}/test", **auth(token))
    assert tested.status_code == 200 and tested.json() == {"result": "200 OK"}
    assert json.loads(receiver.received[-1]["body"])["event"] == "test"

    client.force_login(alice)
    page = client.post(f"/deployments/{deployment.pk}/notifications/test/", {"channel": made.json()["id"]}, follow=True)
    assert "the receiver answered 200 OK" in page.content.decode() and len(receiver.received) == 2
    receiver.status = 404
    page = client.post(f"/deployments/{deployment.pk}/notifications/test/", {"channel": made.json()["id"]}, follow=True)
    assert "The test to ops failed: 404 Not Found" in page.content.decode()


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "Give an http:// or https:// URL"),
    ("http://127.0.0.1:9/x", "an address of this machine or a link-local one"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
])
def test_urls_airdock_does_not_send_to_are_refused(deployment, url, message, settings):
    settings.AIRDOCK_NOTIFY_ALLOW_LOOPBACK = False
    with pytest.raises(OutboundError, match=message):
        notifications.channel_create(deployment=deployment, name="x", kind="webhook", url=url)
