"""Which failed migration tasks a reconcile pass runs again: those something else stopped (the
engine restarting, Swarm taking the task back), never a migration that failed by itself. The real
engine restart is in test_scenarios_restart.py.

And how passes asked for at once share the lock."""
import threading
from types import SimpleNamespace

import django_rq
import pytest

from runtime.reconcile import _interrupted, reconcile


def task(state="failed", error="", exit_code=None):
    return {"state": state, "error": error, "exit_code": exit_code}


@pytest.mark.parametrize("found", [
    task(error='No such container: airdock-d1-migrate.1.x'),  # the engine restarted under it
    task(error="task: non-zero exit (143)", exit_code=143),  # SIGTERM from an engine stopping
    task(error="task: non-zero exit (137)", exit_code=137),
    task(state="rejected", error="assigned node no longer meets constraints"),
    task(state="orphaned", exit_code=0),
])
def test_a_migration_stopped_from_outside_is_run_again(found):
    assert _interrupted(found)


def test_a_migration_that_failed_by_itself_is_reported_not_repeated():
    assert not _interrupted(task(error="task: non-zero exit (1)", exit_code=1))


# A pass asked for while another runs (a change made during a pass): the running one passes once
# more before it lets go, so the change reaches Swarm at once, not at the next periodic reconcile.
# The passes themselves are fakes here; the lock and the word left are in the real Redis.

DEPLOYMENT = 990_001


@pytest.fixture
def passes(monkeypatch):
    from runtime import reconcile as reconciling

    redis = django_rq.get_connection("default")
    redis.delete(f"airdock:reconcile:{DEPLOYMENT}", reconciling._again_key(DEPLOYMENT))
    monkeypatch.setattr(reconciling, "LOCK_WAIT", 1.0)
    monkeypatch.setattr(reconciling, "observe", lambda deployment_id: None)
    found = SimpleNamespace(count=0, started=threading.Event(), release=threading.Event())

    def one_pass(deployment_id, lock):
        found.count += 1
        if found.count == 1:
            found.started.set()
            assert found.release.wait(20)
            return "changed scheduler"
        return "in sync"

    monkeypatch.setattr(reconciling, "_pass", one_pass)
    yield found
    redis.delete(f"airdock:reconcile:{DEPLOYMENT}", reconciling._again_key(DEPLOYMENT))


def test_a_pass_asked_for_during_another_is_run_by_it_at_once(passes):
    results = {}
    running = threading.Thread(target=lambda: results.setdefault("first", reconcile(DEPLOYMENT)))
    running.start()
    assert passes.started.wait(10)
    assert reconcile(DEPLOYMENT) == "another pass is running"
    passes.release.set()
    running.join(20)
    assert passes.count == 2  # the second pass ran in the first one's job
    assert results["first"] == "changed scheduler"  # what the passes changed, not the last one's "in sync"


def test_without_a_pass_asked_for_meanwhile_one_pass_runs(passes):
    passes.release.set()
    assert reconcile(DEPLOYMENT) == "changed scheduler"
    assert passes.count == 1


def test_a_pass_asked_for_as_the_other_lets_go_gets_the_lock_on_its_second_try(passes):
    redis = django_rq.get_connection("default")
    held = redis.lock(f"airdock:reconcile:{DEPLOYMENT}", timeout=60, thread_local=False)
    assert held.acquire(blocking=False)
    threading.Timer(1.3, held.release).start()  # after the first try (1 s), during the second
    passes.release.set()
    assert reconcile(DEPLOYMENT) == "changed scheduler"
