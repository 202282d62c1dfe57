"""A running deploy's log reaches the page at once: while lines come, every 50 ms; a line followed by
silence (a build step that prints a line, then downloads for a minute) is flushed by the log's own
thread. A line is stored before it is published. A flush from that thread that finds the deploy
cancelled stops the run at its next line; one the database refuses leaves the line to the writer."""
import threading
import time

import pytest
from django.db import OperationalError

from deployments.models import Deploy, DeployLogLine
from deployments.services.deploys import states
from deployments.services.deploys.log import DeployLog
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, seconds=3.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_a_lone_line_is_stored_then_published_without_waiting_for_the_next(deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    published = []
    log = DeployLog(deploy, on_flush=lambda lines: published.append(
        (time.monotonic(), [l.text for l in lines], deploy.log_lines.filter(seq__in=[l.seq for l in lines]).count())))
    log.start_flushing()
    try:
        log("Collecting apache-airflow-providers-snowflake")
        written = time.monotonic()
        assert wait_for(lambda: published)
        at, texts, stored = published[0]
        assert texts == ["Collecting apache-airflow-providers-snowflake"] and stored == 1  # stored first
        assert at - written < 0.5
    finally:
        log.close()


def test_lines_that_keep_coming_are_flushed_in_batches_every_50_ms(deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    batches = []
    log = DeployLog(deploy, on_flush=lambda lines: batches.append(len(lines)))
    for n in range(100):  # one line every 5 ms for half a second
        log(f"line {n}")
        time.sleep(0.005)
    log.close()
    assert sum(batches) == 100 and deploy.log_lines.count() == 100
    assert 5 <= len(batches) <= 20, batches  # neither one flush per line nor one at the end


def test_a_cancellation_found_by_the_flusher_stops_the_writer_at_its_next_line(deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)

    def on_flush(lines):
        if not states.deploy_is_active(deploy.pk):
            raise states.Cancelled()

    log = DeployLog(deploy, on_flush=on_flush)
    log.start_flushing()
    try:
        states.deploy_cancel(deploy=deploy)
        log("Step 3/9 : RUN pip install -r requirements.txt")
        assert wait_for(lambda: log.raised is not None)
        with pytest.raises(states.Cancelled):
            log("Step 4/9 : COPY . .")
    finally:
        log.stop_flushing()


def test_a_flusher_the_database_refuses_stops_and_the_writer_stores_every_line_in_order(deployment, monkeypatch):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    writer = threading.current_thread()
    real = DeployLogLine.objects.bulk_create

    def bulk_create(lines, *args, **kwargs):
        if threading.current_thread() is not writer:
            raise OperationalError("database is locked")
        return real(lines, *args, **kwargs)

    monkeypatch.setattr(DeployLogLine.objects, "bulk_create", bulk_create)
    log = DeployLog(deploy)
    log.start_flushing()
    log("first")
    time.sleep(0.6)  # the thread tried and stopped
    assert not deploy.log_lines.exists() and [l.text for l in log.pending] == ["first"]
    log("second")
    log.close()
    assert list(deploy.log_lines.order_by("seq").values_list("seq", "text")) == [(1, "first"), (2, "second")]


def test_a_line_after_the_deploy_itself_succeeded_is_not_a_cancellation(deployment, tmp_path):
    from deployments.services.deploys.context import RunContext

    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.ACTIVATING)
    ctx = RunContext(deploy=deploy, root=tmp_path)
    Deploy.objects.filter(pk=deploy.pk).update(state=Deploy.State.SUCCEEDED)
    deploy.state = Deploy.State.SUCCEEDED  # as deploy_activate leaves it
    ctx.log("Deploy succeeded (full).")
    ctx.log.close()
    assert deploy.log_lines.filter(text__startswith="Deploy succeeded").exists()
