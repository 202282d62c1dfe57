"""A deployment: one Airflow environment, what it should run (desired state) and its settings."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.db import models
from django.urls import reverse

from .fields import SecretCharField, SecretTextField
from .options import default_worker_queues, validate_hibernation_schedules, validate_resources, validate_worker_queues

DEFAULT_RUNTIME_IMAGE = "astrocrpublic.azurecr.io/runtime:3.1-1"


class Deployment(models.Model):
    """One Airflow environment: what it should run (desired state) and how it is configured."""

    class Status(models.TextChoices):
        CREATING = "CREATING", "Not deployed yet"
        DEPLOYING = "DEPLOYING", "Deploying"
        HEALTHY = "HEALTHY", "Healthy"
        UNHEALTHY = "UNHEALTHY", "Unhealthy"
        HIBERNATING = "HIBERNATING", "Hibernating"

    class Executor(models.TextChoices):
        CELERY = "celery", "Celery"
        LOCAL = "local", "Local"

    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    runtime_image = models.CharField(
        max_length=255,
        default=DEFAULT_RUNTIME_IMAGE,
        help_text="The Astro Runtime image this deployment is meant to run (projects name theirs in the Dockerfile).",
    )
    executor = models.CharField(max_length=16, choices=Executor.choices, default=Executor.CELERY)
    worker_queues = models.JSONField(
        default=default_worker_queues, validators=[validate_worker_queues],
        help_text="Celery worker queues: each scales between min_workers and max_workers with its backlog.",
    )
    resources = models.JSONField(
        default=dict, blank=True, validators=[validate_resources],
        help_text='CPU (cores) and memory (MiB) limits per component, e.g. {"scheduler": {"cpu": 1, "memory": 2048}}; '
                  "unset ones take the defaults.",
    )
    hibernating = models.BooleanField(
        default=False, help_text="Every component stopped (metadata and settings kept) until it is woken up.",
    )
    hibernation_schedules = models.JSONField(
        default=list, blank=True, validators=[validate_hibernation_schedules],
        help_text='When to hibernate and wake up, as cron in UTC: [{"hibernate_at": "0 19 * * 1-5", "wake_at": "0 7 * * 1-5"}].',
    )
    hibernation_checked_at = models.DateTimeField(null=True, blank=True, help_text="The schedules were applied up to here.")
    dag_deploy_enabled = models.BooleanField(
        "DAG-only deploys", default=True,
        help_text="Deploy dags/ separately from the image. When off, DAGs are baked into the image.",
    )
    pytest_by_default = models.BooleanField(
        "run pytest by default", default=False,
        help_text="Run the project's own tests/ on every deploy unless the deploy says otherwise.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATING)
    status_reason = models.CharField(max_length=500, blank=True)
    # Desired state: changed only by activation (services.deploys).
    desired_image_tag = models.CharField(max_length=128, blank=True)
    desired_image_digest = models.CharField(max_length=100, blank=True)
    desired_image_repository = models.CharField(max_length=255, blank=True)
    desired_dag_bundle_version = models.CharField(max_length=64, blank=True)
    desired_airflow_version = models.CharField(max_length=32, blank=True)
    desired_runtime_version = models.CharField(max_length=32, blank=True)
    upgrade_readiness = models.JSONField(
        default=dict, blank=True,
        help_text="The current project checked on newer Astro Runtimes, in the background after each deploy.",
    )
    worker_grace_period = models.PositiveIntegerField(
        "worker grace period (seconds)", default=24 * 3600,
        help_text="How long an old Celery worker may finish its running tasks after an image deploy before it is stopped.",
    )
    runtime_components = models.JSONField(
        default=list, blank=True, help_text="What each Airflow component really runs, as last observed.",
    )
    runtime_migrated_image = models.CharField(
        max_length=500, blank=True,
        help_text="The image (repository@digest) whose database migrations have run on the metadata database.",
    )
    runtime_observed_at = models.DateTimeField(null=True, blank=True)
    runtime_autoscale = models.JSONField(
        default=dict, blank=True,
        help_text="Per worker queue: the workers the autoscaler asks for, its backlog, when it last changed.",
    )
    current_deploy = models.ForeignKey(
        "Deploy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    git_url = SecretCharField(
        "git repository", max_length=500, blank=True, null=True,
        help_text="URL of the project's git repository (an https URL may hold an access token: it is stored encrypted).",
    )
    git_branch = models.CharField(max_length=255, blank=True, default="main")
    git_subdir = models.CharField("sub-folder", max_length=255, blank=True, help_text="Folder of the Astro project inside the repository.")
    webhook_secret = SecretCharField(max_length=128, blank=True, null=True, help_text="Shared secret that signs push webhooks.")
    git_deploy_key = SecretTextField(blank=True, null=True, help_text="Private half of the deployment's SSH deploy key.")
    git_deploy_key_public = models.TextField(blank=True, help_text="Public half: add it to the repository as a read-only deploy key.")
    git_known_hosts = models.TextField(
        blank=True, help_text="The git server's SSH host keys, recorded on the first clone; a changed key is refused.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="unique_deployment_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("deployment_detail", args=[self.pk])

    @property
    def desired_image(self) -> str:
        if not self.desired_image_repository or not self.desired_image_tag:
            return ""
        return f"{self.desired_image_repository}:{self.desired_image_tag}"

    @property
    def git_url_shown(self) -> str:
        """The git URL without a password or token in it, for pages and the API."""
        parts = urlsplit(self.git_url)
        if parts.scheme and "@" in parts.netloc:
            return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
        return self.git_url

    @property
    def runtime_sync(self) -> dict:
        """Desired vs what the components report, at a glance: {"in_sync", "healthy", "total",
        "behind": [component names], "draining": n}, from the data plane's last observation."""
        serving = [c for c in self.runtime_components
                   if c.get("state") not in ("draining", "stopped") and c.get("name") not in ("db", "broker")]
        behind = [
            c["name"] for c in serving
            if c.get("running_image_digest") != self.desired_image_digest
            or c.get("running_dag_bundle_version", "") not in ("", self.desired_dag_bundle_version)
        ]
        every = [c for c in self.runtime_components if c.get("state") not in ("draining", "stopped")]
        return {
            "in_sync": bool(serving) and not behind, "behind": behind,
            "healthy": sum(c.get("state") == "healthy" for c in every), "total": len(every),
            "draining": sum(c.get("state") == "draining" for c in self.runtime_components),
        }

    @property
    def airflow_major(self) -> int | None:
        """Return the Airflow major version of the current image (the runtime reads it)."""
        if not self.desired_airflow_version:
            return None
        return int(self.desired_airflow_version.split(".", 1)[0])
