"""RQ entry points: they take ids and call a service, nothing more."""
from .services import deploys


def run_deploy(deploy_id: int) -> None:
    deploys.deploy_execute(deploy_id=deploy_id)


def fail_lost_deploys() -> int:
    return deploys.deploys_fail_lost()
