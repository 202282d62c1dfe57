"""An agent's report that changes what its deployment's page shows (a new DAG bundle, a process
that started or ended) has the deployment observed at once, in a job; the same report again does
not (the runtime watcher's turn is enough)."""
import django_rq
import pytest

from runtime.jobs import OBSERVE_JOB
from runtime.models import RuntimeCredentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue():
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


def observes(queue, deployment_id):
    return [job.args for job in queue.jobs if job.func_name == OBSERVE_JOB and job.args == (deployment_id,)]


def test_a_report_that_changes_what_runs_has_the_deployment_observed_at_once(client, deployment, queue,
                                                                             django_capture_on_commit_callbacks):
    creds = RuntimeCredentials.objects.create(deployment=deployment)
    headers = {"Authorization": f"Bearer {deployment.pk}.{creds.agent_token}"}

    def report(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post("/runtime/agent/report", {"component": "scheduler", "task_id": "t1", **fields},
                                 content_type="application/json", headers=headers)
        assert answer.status_code == 200, answer.content

    report(dag_bundle_version="a" * 64, process="running")
    assert len(observes(queue, deployment.pk)) == 1  # its first report
    report(dag_bundle_version="a" * 64, process="running")
    assert len(observes(queue, deployment.pk)) == 1  # nothing new
    report(dag_bundle_version="b" * 64, process="running")
    assert len(observes(queue, deployment.pk)) == 2  # a new bundle
    report(dag_bundle_version="b" * 64, process="exited", message="exited with 1")
    assert len(observes(queue, deployment.pk)) == 3  # the process ended


def test_the_observe_job_refreshes_the_deployment(deployment):
    from runtime.jobs import observe_deployment

    assert observe_deployment(deployment.pk) == deployment.status  # nothing runs yet: left as it is
    assert observe_deployment(10**9) == "deployment gone"
