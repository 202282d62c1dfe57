"""Tenancy (organizations, workspaces, memberships), deployments and their deploys."""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Organization(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organization_detail", args=[self.slug])


class OrganizationMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="one_org_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Workspace(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="workspaces")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="unique_workspace_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("workspace_detail", args=[self.pk])


class WorkspaceMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        OPERATOR = "operator", "Operator"
        AUTHOR = "author", "Author"
        MEMBER = "member", "Member"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="one_workspace_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


def default_worker_queues() -> list[dict]:
    return [{"name": "default", "workers": 1, "concurrency": 5}]


def validate_worker_queues(value: object) -> None:
    """Accept a list of {"name", "workers", "concurrency"} with unique names and sane counts."""
    example = '[{"name": "default", "workers": 1, "concurrency": 5}]'
    if not isinstance(value, list) or not value:
        raise ValidationError(f"Give at least one worker queue as a list, for example {example}.")
    names = set()
    for queue in value:
        if not isinstance(queue, dict) or set(queue) != {"name", "workers", "concurrency"}:
            raise ValidationError(f"Each worker queue needs exactly name, workers and concurrency, as in {example}.")
        name = queue["name"]
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
            raise ValidationError(f"Queue name {name!r}: use lower-case letters, digits, '-' and '_'.")
        if name in names:
            raise ValidationError(f"Queue name {name!r} is given twice.")
        names.add(name)
        for key, top in (("workers", 50), ("concurrency", 256)):
            count = queue[key]
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= top:
                raise ValidationError(f"Queue {name!r}: {key} must be a whole number from 0 to {top}.")


class Deployment(models.Model):
    """One Airflow environment: what it should run (desired state) and how it is configured."""

    class Status(models.TextChoices):
        CREATING = "CREATING", "Creating"
        DEPLOYING = "DEPLOYING", "Deploying"
        HEALTHY = "HEALTHY", "Healthy"
        UNHEALTHY = "UNHEALTHY", "Unhealthy"

    class Executor(models.TextChoices):
        CELERY = "celery", "Celery"
        LOCAL = "local", "Local"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    runtime_image = models.CharField(
        max_length=255,
        default="astrocrpublic.azurecr.io/runtime:3.1-1",
        help_text="The Astro Runtime image this deployment is meant to run (projects name theirs in the Dockerfile).",
    )
    executor = models.CharField(max_length=16, choices=Executor.choices, default=Executor.CELERY)
    worker_queues = models.JSONField(default=default_worker_queues, validators=[validate_worker_queues])
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
    current_deploy = models.ForeignKey(
        "Deploy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    git_url = models.CharField("git repository", max_length=500, blank=True, help_text="URL of the project's git repository.")
    git_branch = models.CharField(max_length=255, blank=True, default="main")
    git_subdir = models.CharField("sub-folder", max_length=255, blank=True, help_text="Folder of the Astro project inside the repository.")
    webhook_secret = models.CharField(max_length=128, blank=True, help_text="Shared secret that signs push webhooks.")
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
    def airflow_major(self) -> int | None:
        """Return the Airflow major version of the current image (the runtime reads it)."""
        if not self.desired_airflow_version:
            return None
        return int(self.desired_airflow_version.split(".", 1)[0])


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

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="deploys")
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
    finished_at = models.DateTimeField(null=True, blank=True)
    image_repository = models.CharField(max_length=255, blank=True)
    image_tag = models.CharField(max_length=128, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    dag_bundle_version = models.CharField(max_length=64, blank=True)
    runtime_requested = models.CharField(max_length=255, blank=True, help_text="FROM line of the Dockerfile.")
    runtime_image_used = models.CharField(max_length=255, blank=True)
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
                ]),
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


class ApiToken(models.Model):
    """A bearer token for CI, scoped to an organization, a workspace or a deployment, with a role.

    Only a hash is stored; the token itself is shown once, at creation.
    """

    Role = WorkspaceMembership.Role

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=WorkspaceMembership.Role.choices)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope(self) -> str:
        if self.deployment_id:
            return f"deployment {self.deployment}"
        if self.workspace_id:
            return f"workspace {self.workspace}"
        return f"organization {self.organization}"


class AuditEvent(models.Model):
    """Who (a user or a token) did what, to what, when and from where."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_events")
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"

    @property
    def actor(self) -> str:
        if self.actor_token_id:
            return f"token {self.actor_token}"
        return self.actor_user.get_username() if self.actor_user else "system"
