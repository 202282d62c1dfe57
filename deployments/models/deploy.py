"""A deploy: one request to change what a deployment runs, its steps and its log."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Deploy(models.Model):
    class Kind(models.TextChoices):
        IMAGE_AND_DAGS = "IMAGE_AND_DAGS", "Full (image and DAGs)"
        DAGS = "DAGS", "DAGs only"
        IMAGE = "IMAGE", "Image only"

    class State(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        UNPACKING = "UNPACKING", "Unpacking"
        BUILDING = "BUILDING", "Building"
        PARSING = "PARSING", "Parsing DAGs"
        TESTING = "TESTING", "Testing"
        PUSHING = "PUSHING", "Pushing image"
        UPLOADING_DAGS = "UPLOADING_DAGS", "Uploading DAGs"
        ACTIVATING = "ACTIVATING", "Activating"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        CANCELLED = "CANCELLED", "Cancelled"

    ACTIVE_STATES = (
        State.QUEUED, State.UNPACKING, State.BUILDING, State.PARSING, State.TESTING,
        State.PUSHING, State.UPLOADING_DAGS, State.ACTIVATING,
    )
    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="deploys")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.IMAGE_AND_DAGS)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    force = models.BooleanField(default=False, help_text="Failed checks are recorded as warnings.")
    run_pytest = models.BooleanField(default=False)
    test_path = models.CharField(max_length=255, blank=True)
    image_name = models.CharField(max_length=255, blank=True, help_text="A prebuilt image: no build.")
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deploys"
    )
    created_by_token = models.ForeignKey(
        "ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="deploys"
    )
    is_rollback = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=128, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    source_deploy = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeploys",
        help_text="The deploy whose project (or, for a rollback, image and bundle) this one reuses.",
    )
    archive = models.FileField(upload_to="deploy-archives/%Y/%m/", blank=True, max_length=255)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    job_id = models.CharField(max_length=64, blank=True, help_text="The RQ job running this deploy.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The worker running it says it is alive every few seconds (its lease).")
    worker = models.CharField(max_length=200, blank=True, help_text="The machine and process running it.")
    finished_at = models.DateTimeField(null=True, blank=True)
    pruned_at = models.DateTimeField(
        null=True, blank=True, help_text="When retention removed its log, archive, and the image and DAG bundle no kept deploy uses.")
    image_repository = models.CharField(max_length=255, blank=True)
    image_tag = models.CharField(max_length=128, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    dag_bundle_version = models.CharField(max_length=64, blank=True)
    runtime_requested = models.CharField(max_length=255, blank=True, help_text="FROM line of the Dockerfile.")
    runtime_image_used = models.CharField(max_length=255, blank=True)
    runtime_version = models.CharField(max_length=32, blank=True, help_text="The Astro Runtime version the image is built on.")
    airflow_version = models.CharField(max_length=32, blank=True)
    airflow_change = models.CharField(
        max_length=64, blank=True, help_text="Set when the deploy moves the deployment to another Airflow major version."
    )
    parse_results = models.JSONField(default=dict, blank=True)
    test_results = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=Q(state__in=[
                    "QUEUED", "UNPACKING", "BUILDING", "PARSING", "TESTING",
                    "PUSHING", "UPLOADING_DAGS", "ACTIVATING",
                ]),  # Deploy.ACTIVE_STATES; a test keeps the two equal
                name="one_active_deploy_per_deployment",
            ),
            models.UniqueConstraint(
                fields=["deployment", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"Deploy {self.pk} of {self.deployment}"

    def get_absolute_url(self) -> str:
        return reverse("deploy_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def image(self) -> str:
        if not self.image_repository or not self.image_tag:
            return ""
        return f"{self.image_repository}:{self.image_tag}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class DeployStep(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        RUNNING = "RUNNING", "Running"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        SKIPPED = "SKIPPED", "Skipped"
        WARNING = "WARNING", "Failed (forced)"

    deploy = models.ForeignKey(Deploy, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=16, choices=Deploy.State.choices)
    position = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["deploy", "position"]
        constraints = [models.UniqueConstraint(fields=["deploy", "name"], name="one_step_per_name")]

    def __str__(self) -> str:
        return f"{self.get_name_display()} ({self.state})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class DeployLogLine(models.Model):
    """One line of a deploy's log; `seq` lets a page resume live updates where it left off."""

    deploy = models.ForeignKey(Deploy, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveIntegerField()
    step = models.CharField(max_length=16, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deploy", "seq"]
        constraints = [models.UniqueConstraint(fields=["deploy", "seq"], name="unique_log_seq")]

    def __str__(self) -> str:
        return f"{self.seq}: {self.text[:60]}"
