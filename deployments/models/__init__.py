"""The deploy control plane's models: deployments, deploys (with steps and log lines) and API tokens.

Organizations, workspaces, memberships and the audit log live in the `tenancy` app.
"""
from .deploy import Deploy, DeployLogLine, DeployStep
from .deployment import (
    DEFAULT_RUNTIME_IMAGE,
    Deployment,
    default_worker_queues,
    validate_worker_queues,
)
from .runtime import RuntimeImage
from .token import ApiToken

__all__ = [
    "DEFAULT_RUNTIME_IMAGE", "ApiToken", "RuntimeImage", "Deploy", "DeployLogLine", "DeployStep", "Deployment",
    "default_worker_queues", "validate_worker_queues",
]
