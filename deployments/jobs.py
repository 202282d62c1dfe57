"""RQ entry points: they take ids and call a service, nothing more. Services enqueue them by
dotted path ("deployments.jobs.run_deploy"), so jobs → services is the only direction."""
from .services.deploys import pipeline, states


def run_deploy(deploy_id: int) -> None:
    pipeline.deploy_execute(deploy_id=deploy_id)


def fail_lost_deploys() -> int:
    return states.deploys_fail_lost()
