"""What the data plane keeps: each deployment's own credentials (handed to Swarm as secrets) and
what each running component reports about itself."""
from __future__ import annotations

import secrets

from cryptography.fernet import Fernet
from django.db import models

from deployments.models.fields import SecretCharField


def _token() -> str:
    return secrets.token_urlsafe(32)


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


class RuntimeCredentials(models.Model):
    """A deployment's own secrets: its metadata database, its broker, Airflow's keys and the token
    its components' agents use to fetch DAG bundles and report. Only the portal and that deployment's
    containers (as Swarm secrets) hold them."""

    deployment = models.OneToOneField("deployments.Deployment", on_delete=models.CASCADE, related_name="runtime_credentials")
    agent_token = SecretCharField(max_length=128, default=_token)
    db_password = SecretCharField(max_length=128, default=_token)
    broker_password = SecretCharField(max_length=128, default=_token)
    fernet_key = SecretCharField(max_length=128, default=_fernet_key)
    jwt_secret = SecretCharField(max_length=128, default=_token)
    admin_password = SecretCharField(max_length=128, default=_token, help_text="Airflow 2's admin user, for the REST API.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"credentials of {self.deployment}"


class ComponentReport(models.Model):
    """The latest word of one running container's agent: what it really runs."""

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="component_reports")
    component = models.CharField(max_length=64)
    task_id = models.CharField(max_length=64, help_text="The Swarm task the container runs.")
    container = models.CharField(max_length=128, blank=True)
    dag_bundle_version = models.CharField(max_length=64, blank=True)
    process = models.CharField(max_length=16, default="starting", help_text="starting, running, stopping or exited")
    airflow_health = models.JSONField(default=dict, blank=True, help_text="Airflow's own health answer (API server).")
    message = models.CharField(max_length=500, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True,
        help_text="Memory in use and its limit, processes killed for memory, and (the scheduler's) each queue's backlog.",
    )
    reported_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "task_id"], name="one_report_per_task")]
        indexes = [models.Index(fields=["deployment", "component"])]

    def __str__(self) -> str:
        return f"{self.component} {self.task_id[:12]}"
