"""Component logs through the services, the page and the API: stored as shipped (long lines cut,
bad entries skipped, a wrong clock replaced), searched by component, text and time, followed with
`after`, pruned by age and count."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from deployments.models import ComponentLogLine
from deployments.services.component_logs import log_lines_prune, log_lines_store, parse_time
from portal.errors import Invalid
from tests.api.conftest import Role, auth, make_token

pytestmark = pytest.mark.django_db


def store(deployment, texts, component="scheduler", at=None):
    at = at or timezone.now()
    return log_lines_store(deployment=deployment, component=component, task_id="t1",
                           lines=[[(at + timedelta(seconds=i)).isoformat(), t] for i, t in enumerate(texts)])


def test_lines_are_stored_as_shipped_and_odd_ones_handled(deployment):
    count = log_lines_store(deployment=deployment, component="scheduler", task_id="t1", lines=[
        ["2020-01-01T00:00:00Z", "a clock far off"], ["x", "y" * 9000], "not a pair", [None, 5]])
    assert count == 2
    far, long = ComponentLogLine.objects.order_by("id")
    assert abs((far.logged_at - timezone.now()).total_seconds()) < 60  # replaced by when it arrived
    assert long.text.endswith(" … (cut)") and len(long.text) < 8300


def test_the_api_searches_and_follows(client, deployment, org):
    start = timezone.now() - timedelta(minutes=30)
    store(deployment, ["old scheduler line"], at=start)
    store(deployment, ["GET /health 200", "boom: Traceback"], component="api-server")
    token = make_token(org, Role.MEMBER if hasattr(Role, "MEMBER") else Role.AUTHOR)
    url = f"/api/v1/deployments/{deployment.pk}/logs"
    every = client.get(url, **auth(token)).json()
    assert [l["text"] for l in every["lines"]] == ["old scheduler line", "GET /health 200", "boom: Traceback"]
    assert [l["text"] for l in client.get(url, {"component": "api-server", "search": "TRACEBACK"}, **auth(token)).json()["lines"]] == [
        "boom: Traceback"]
    assert [l["text"] for l in client.get(url, {"since": "10m"}, **auth(token)).json()["lines"]] == ["GET /health 200", "boom: Traceback"]
    after = client.get(url, {"after": every["last_id"]}, **auth(token)).json()
    assert after["lines"] == [] and after["last_id"] == every["last_id"]
    store(deployment, ["new"])
    assert [l["text"] for l in client.get(url, {"after": every["last_id"]}, **auth(token)).json()["lines"]] == ["new"]
    bad = client.get(url, {"since": "yesterday-ish"}, **auth(token))
    assert bad.status_code == 400 and "is not a time" in bad.json()["detail"]


def test_the_logs_page_shows_the_matching_lines_to_a_member(client, bob, deployment):
    store(deployment, ["scheduler says hi"])
    store(deployment, ["worker says hi"], component="worker-default")
    client.force_login(bob)
    page = client.get(reverse("deployment_logs", args=[deployment.pk]), {"component": "worker-default"}).content.decode()
    assert "worker says hi" in page and "scheduler says hi" not in page
    assert f'data-logs-live="/ws/deployments/{deployment.pk}/logs/"' in page


def test_old_lines_are_pruned_by_age_and_count(deployment, settings):
    settings.AIRDOCK_COMPONENT_LOG_RETENTION_HOURS, settings.AIRDOCK_COMPONENT_LOG_MAX_LINES = 1, 3
    store(deployment, ["ancient"], at=timezone.now() - timedelta(hours=2))
    ComponentLogLine.objects.update(logged_at=timezone.now() - timedelta(hours=2))
    store(deployment, ["1", "2", "3", "4"])
    assert log_lines_prune() == 2
    assert list(ComponentLogLine.objects.values_list("text", flat=True)) == ["2", "3", "4"]


def test_times_are_iso_or_how_long_ago():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_time("15m", now) == now - timedelta(minutes=15)
    assert parse_time("2026-12-01T11:00", now) == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    assert parse_time("", now) is None
    with pytest.raises(Invalid, match="not a time"):
        parse_time("soon", now)
