"""RQ entry points: they take ids and call a service, nothing more. Services enqueue them by
dotted path ("deployments.jobs.run_deploy"), so jobs → services is the only direction."""
from .services import notifications, upgrades
from .services.deploys import pipeline, states


def run_deploy(deploy_id: int) -> None:
    pipeline.deploy_execute(deploy_id=deploy_id)


def fail_lost_deploys() -> int:
    return states.deploys_fail_lost()


def check_upgrade_readiness(deployment_id: int, deploy_id: int) -> dict:
    return upgrades.readiness_check(deployment_id=deployment_id, deploy_id=deploy_id)


def deliver_notification(channel_id: int, body: dict) -> str:
    return notifications.deliver(channel_id, body)
