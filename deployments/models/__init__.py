"""The deploy control plane's models: deployments (and their environment variables), deploys (with
steps and log lines) and API tokens.

Organizations, workspaces, memberships and the audit log live in the `tenancy` app.
"""
from .component_log import LOG_LINE_MAX, ComponentLogLine
from .deploy import Deploy, DeployLogLine, DeployStep
from .deploy_log import DeployLogChunk
from .deployment import DEFAULT_RUNTIME_IMAGE, Deployment
from .notifications import EVENTS as NOTIFICATION_EVENTS
from .notifications import NotificationChannel
from .options import (
    DEFAULT_QUEUE,
    component_resources,
    default_worker_queues,
    normalize_worker_queues,
    validate_hibernation_schedules,
    validate_resources,
    validate_worker_queues,
)
from .rollout import Rollout
from .runtime import RuntimeImage
from .token import ApiToken
from .variables import (
    RESERVED_KEY_PREFIX,
    RESERVED_KEYS,
    EnvironmentVariable,
    is_reserved_key,
    validate_variable_key,
    validate_variable_value,
)

__all__ = [
    "DeployLogChunk",
    "NOTIFICATION_EVENTS", "NotificationChannel", "LOG_LINE_MAX", "ComponentLogLine", "DEFAULT_QUEUE", "DEFAULT_RUNTIME_IMAGE", "Rollout", "component_resources", "normalize_worker_queues",
    "validate_hibernation_schedules", "validate_resources", "RESERVED_KEYS", "RESERVED_KEY_PREFIX", "ApiToken", "Deploy", "DeployLogLine",
    "DeployStep", "Deployment", "EnvironmentVariable", "RuntimeImage", "default_worker_queues", "is_reserved_key",
    "validate_variable_key", "validate_variable_value", "validate_worker_queues",
]
