"""At most AIRDOCK_ORG_CONCURRENT_DEPLOYS deploys of one organization run at once: a deploy over the
limit stays QUEUED and its job goes back to the end of the queue, so the workers serve the other
tenants meanwhile. (tests/faults/test_load.py runs 20 deploys of two tenants on two real workers.)"""
import django_rq
import pytest
from rq.job import Job

from deployments.models import Deploy
from deployments.selectors import deploy_log_text
from deployments.services.deploys import pipeline, states
from tests import factories


@pytest.fixture
def limit_one(settings):
    settings.AIRDOCK_ORG_CONCURRENT_DEPLOYS = 1
    settings.AIRDOCK_ORG_DEFER_SECONDS = 0


def queued(deployment):
    return factories.DeployFactory(deployment=deployment, state=Deploy.State.QUEUED, job_id="deploy-first")


def test_a_second_deploy_of_an_organization_waits_while_another_tenants_begins(deployment, limit_one):
    sibling = factories.DeploymentFactory(workspace=deployment.workspace, name="sibling")
    stranger = factories.DeploymentFactory(name="stranger")  # another organization
    first, second, theirs = queued(deployment), queued(sibling), queued(stranger)
    assert states.deploy_begin(first.pk, worker="w1") == states.BEGUN
    assert states.deploy_begin(second.pk, worker="w2") == states.WAIT
    assert states.deploy_begin(theirs.pk, worker="w2") == states.BEGUN
    assert states.deploy_begin(first.pk, worker="w2") == states.TAKEN  # begun already: never twice
    states.deploy_finish(first.pk, Deploy.State.SUCCEEDED)
    assert states.deploy_begin(second.pk, worker="w2") == states.BEGUN


def test_no_limit_with_zero(deployment, settings):
    settings.AIRDOCK_ORG_CONCURRENT_DEPLOYS = 0
    sibling = factories.DeploymentFactory(workspace=deployment.workspace, name="sibling")
    first, second = queued(deployment), queued(sibling)
    assert [states.deploy_begin(d.pk) for d in (first, second)] == [states.BEGUN, states.BEGUN]


@pytest.mark.services
def test_a_waiting_deploy_goes_back_to_the_queue_with_a_new_job_and_says_why_once(deployment, limit_one,
                                                                                  django_capture_on_commit_callbacks):
    queue = django_rq.get_queue("deploys")
    queue.empty()
    sibling = factories.DeploymentFactory(workspace=deployment.workspace, name="sibling")
    running, waiting = queued(deployment), queued(sibling)
    assert states.deploy_begin(running.pk) == states.BEGUN
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues once the transaction commits
        pipeline.deploy_execute(deploy_id=waiting.pk)
        pipeline.deploy_execute(deploy_id=waiting.pk)
    waiting.refresh_from_db()
    assert waiting.state == Deploy.State.QUEUED and waiting.started_at is None
    assert waiting.job_id != "deploy-first" and waiting.job_id in queue.job_ids and len(queue.job_ids) == 2  # one per run (a worker runs one of them at a time)
    assert Job.fetch(waiting.job_id, connection=queue.connection).args == (waiting.pk,)
    [line] = deploy_log_text(waiting).splitlines()
    assert line.startswith("Waiting for a free slot:") and "already runs 1 deploys at once" in line
    queue.empty()
