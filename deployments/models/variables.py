"""A deployment's environment variables (as Astro's deployment environment variables): every value
is encrypted at rest; a secret one is write-only (pages and the API never show it back).

The keys Airdock itself sets in the components are reserved, in one place, so that the data plane
and the services agree on them."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from .fields import SecretTextField

VARIABLE_KEY_MAX = 255
VARIABLE_VALUE_MAX_BYTES = 64 * 1024
VARIABLE_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Keys starting with this belong to Airdock (its agent and the data plane).
RESERVED_KEY_PREFIX = "AIRDOCK_"
# Airflow settings the platform manages for every deployment.
_MANAGED_AIRFLOW_SETTINGS = (
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__WEBSERVER__SECRET_KEY",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE",
)
# Each of them, and its `_CMD` and `_SECRET` forms (Airflow reads a setting from those too).
RESERVED_KEYS: frozenset[str] = frozenset(
    f"{key}{suffix}" for key in _MANAGED_AIRFLOW_SETTINGS for suffix in ("", "_CMD", "_SECRET")
)


def is_reserved_key(key: str) -> bool:
    """Whether Airdock sets this key itself (compared without regard to case)."""
    upper = key.upper()
    return upper.startswith(RESERVED_KEY_PREFIX) or upper in RESERVED_KEYS


def validate_variable_key(key: object) -> None:
    """A shell variable name of at most 255 characters that Airdock does not set itself."""
    if not isinstance(key, str) or not key:
        raise ValidationError("Give the variable a key, for example MY_SETTING.")
    if len(key) > VARIABLE_KEY_MAX:
        raise ValidationError(f"The key {key[:40]}… is {len(key)} characters long; use at most {VARIABLE_KEY_MAX}.")
    if not VARIABLE_KEY_PATTERN.fullmatch(key):
        raise ValidationError(
            f"The key {key!r} is not a valid variable name: use letters, digits and '_', "
            "not starting with a digit (for example MY_SETTING)."
        )
    if key.upper().startswith(RESERVED_KEY_PREFIX):
        raise ValidationError(f"The key {key} is reserved: keys starting with {RESERVED_KEY_PREFIX} belong to Airdock. Choose another name.")
    if key.upper() in RESERVED_KEYS:
        raise ValidationError(
            f"The key {key} is reserved: Airdock sets this Airflow setting itself for every deployment "
            "(the executor comes from the deployment's settings). Choose another name."
        )


def validate_variable_value(value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError("The value must be text.")
    size = len(value.encode())
    if size > VARIABLE_VALUE_MAX_BYTES:
        raise ValidationError(f"The value is {size} bytes long; a variable holds at most 64 KiB ({VARIABLE_VALUE_MAX_BYTES} bytes).")


class EnvironmentVariable(models.Model):
    """One KEY=value of a deployment; its value is encrypted in the database whether secret or not."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="environment_variables")
    key = models.CharField(max_length=VARIABLE_KEY_MAX, validators=[validate_variable_key])
    value = SecretTextField(blank=True, null=True, validators=[validate_variable_value])
    is_secret = models.BooleanField(
        "secret", default=False, help_text="Write-only: the value is never shown again, on pages or in the API.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("key",)
        constraints = (models.UniqueConstraint(fields=("deployment", "key"), name="unique_variable_key"),)

    def __str__(self) -> str:
        return self.key
