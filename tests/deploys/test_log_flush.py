"""A running deploy's log reaches the page within a tenth of a second of being written, even when
nothing follows it (a build step that prints a line, then downloads for a minute): a thread of the
log's own flushes it. A flush that finds the deploy cancelled stops the run at its next line."""
import time

import pytest

from deployments.models import Deploy
from deployments.services.deploys import states
from deployments.services.deploys.log import DeployLog
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lone_line_is_stored_and_published_without_waiting_for_the_next(deployment):
    deploy = factories.DeployFactory(deployment=deployment, state=Deploy.State.BUILDING)
    published = []
    log = DeployLog(deploy, on_flush=lambda lines: published.append(time.monotonic()))
    log.start_flushing()
    try:
        log("Collecting apache-airflow-providers-snowflake")
        written = time.monotonic()
        for _ in range(50):
            if published:
                break
            time.sleep(0.02)
        assert published and published[0] - written < 0.5
        assert deploy.log_lines.filter(text__startswith="Collecting").exists()
    finally:
        log.close()


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
        for _ in range(50):
            if log.failure is not None:
                break
            time.sleep(0.02)
        with pytest.raises(states.Cancelled):
            log("Step 4/9 : COPY . .")
    finally:
        log.stop_flushing()
