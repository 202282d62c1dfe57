"""Which failed migration tasks a reconcile pass runs again: those something else stopped (the
engine restarting, Swarm taking the task back), never a migration that failed by itself. The real
engine restart is in test_scenarios_restart.py."""
import pytest

from runtime.reconcile import _interrupted


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
