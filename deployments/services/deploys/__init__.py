"""Deploys, in the files that name their flow:

- `create`: validate a request, store its archive, plan its steps (`plan`), queue its job;
- `states`: the state machine, the only place a deploy's state changes (compare-and-set);
- `pipeline`: the job's work, `for step in plan: with ctx.step(step): STEPS[step](ctx)`;
- `context`: what a run carries between steps; `steps/`: one module per step; `log`: its log.
"""
from .create import (
    DeployConflict,
    deploy_create,
    deploy_enqueue,
    deploy_for_idempotency_key,
    deploy_redeploy,
    deployment_rollback,
)
from .pipeline import deploy_execute
from .plan import deploy_plan
from .states import deploy_activate, deploy_cancel, deploys_fail_lost

__all__ = [
    "DeployConflict", "deploy_activate", "deploy_cancel", "deploy_create", "deploy_enqueue", "deploy_execute",
    "deploy_for_idempotency_key", "deploy_plan", "deploy_redeploy", "deployment_rollback", "deploys_fail_lost",
]
