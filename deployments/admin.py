"""Admin for operators: every model, with columns, filters, search, read-only state and actions
that go through the same services as the rest of the portal."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from tenancy.audit import Actor

from . import selectors
from portal.errors import AirdockError

from .models import (
    ApiToken,
    ComponentLogLine,
    Deploy,
    Deployment,
    DeployStep,
    EnvironmentVariable,
    NotificationChannel,
    Rollout,
    normalize_worker_queues,
)
from .services import deployments as deployment_services
from .services import hibernation
from .services import tokens
from .services import variables as variable_services


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR"))


class DeploymentAdminForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = "__all__"  # noqa: DJ007 - the admin's own read-only and excluded fields apply

    def clean_worker_queues(self) -> object:
        return normalize_worker_queues(self.cleaned_data.get("worker_queues"))


class RolloutInline(admin.TabularInline):
    model = Rollout
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "summary", "actor_name", "state", "message", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = [
        "name", "workspace", "status", "desired_image_tag", "short_bundle_version",
        "desired_airflow_version", "dag_deploy_enabled", "updated_at",
    ]
    list_filter = ["status", "executor", "dag_deploy_enabled", "workspace__organization"]
    list_select_related = ["workspace__organization"]
    search_fields = ["name", "workspace__name", "desired_image_tag", "desired_dag_bundle_version"]
    autocomplete_fields = ["workspace"]
    readonly_fields = [
        "status", "status_reason", "desired_image_repository", "desired_image_tag", "desired_image_digest",
        "desired_dag_bundle_version", "desired_airflow_version", "current_deploy", "created_at", "updated_at",
        "hibernating", "hibernation_checked_at", "runtime_autoscale", "runtime_components", "runtime_migrated_image",
        "runtime_observed_at", "upgrade_readiness",
    ]
    exclude = ["git_deploy_key"]
    form = DeploymentAdminForm
    inlines = [RolloutInline]
    actions = ["enable_dag_deploys", "disable_dag_deploys", "hibernate", "wake_up"]

    def save_model(self, request: HttpRequest, obj: Deployment, form, change: bool) -> None:
        """A change goes through the service, as from the page: checked, audited, rolled out."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = {k: form.cleaned_data[k] for k in form.changed_data if k in deployment_services.EDITABLE_FIELDS}
        deployment_services.deployment_update(deployment=Deployment.objects.get(pk=obj.pk), actor=_actor(request), **fields)

    def _hibernation(self, request: HttpRequest, queryset: QuerySet[Deployment], hibernate: bool) -> None:
        done = 0
        for deployment in queryset:
            try:
                (hibernation.deployment_hibernate if hibernate else hibernation.deployment_wake_up)(
                    deployment=deployment, actor=_actor(request))
                done += 1
            except AirdockError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"{'Hibernating' if hibernate else 'Waking up'} {done} deployment(s).", messages.SUCCESS)

    @admin.action(description="Hibernate (stop every component)")
    def hibernate(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._hibernation(request, queryset, True)

    @admin.action(description="Wake up")
    def wake_up(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._hibernation(request, queryset, False)

    @admin.display(description="DAG bundle")
    def short_bundle_version(self, obj: Deployment) -> str:
        return obj.desired_dag_bundle_version[:12]

    def _set_dag_deploys(self, request: HttpRequest, queryset: QuerySet[Deployment], enabled: bool) -> None:
        for deployment in queryset:
            deployment_services.deployment_update(deployment=deployment, dag_deploy_enabled=enabled, actor=_actor(request))
        self.message_user(request, f"DAG-only deploys {'enabled' if enabled else 'disabled'} on {queryset.count()} deployment(s).", messages.SUCCESS)

    @admin.action(description="Enable DAG-only deploys")
    def enable_dag_deploys(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._set_dag_deploys(request, queryset, True)

    @admin.action(description="Disable DAG-only deploys (bake DAGs into the image)")
    def disable_dag_deploys(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._set_dag_deploys(request, queryset, False)


class DeployStepInline(admin.TabularInline):
    model = DeployStep
    extra = 0
    can_delete = False
    fields = ["name", "state", "started_at", "finished_at", "message"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Deploy)
class DeployAdmin(admin.ModelAdmin):
    list_display = ["id", "deployment", "kind", "state_badge", "force", "created_by", "created_at", "image_tag", "short_bundle_version"]
    list_filter = ["state", "kind", "force", "deployment__workspace__organization"]
    list_select_related = ["deployment__workspace", "created_by"]
    search_fields = ["=id", "deployment__name", "description", "image_tag", "image_digest", "dag_bundle_version"]
    date_hierarchy = "created_at"
    inlines = [DeployStepInline]
    readonly_fields = [
        "deployment", "kind", "state", "force", "run_pytest", "test_path", "image_name", "created_by",
        "source_deploy", "archive", "archive_sha256", "created_at", "started_at", "finished_at",
        "image_repository", "image_tag", "image_digest", "dag_bundle_version", "runtime_requested",
        "runtime_image_used", "airflow_version", "parse_results", "test_results", "warnings", "error", "log",
    ]
    fields = ["description", *readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deploys are made by uploads, the API and rollbacks, which validate them

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: Deploy) -> str:
        return format_html('<span class="badge status-{}">{}</span>', obj.state.lower(), obj.get_state_display())

    @admin.display(description="DAG bundle")
    def short_bundle_version(self, obj: Deploy) -> str:
        return obj.dag_bundle_version[:12]

    @admin.display(description="Log")
    def log(self, obj: Deploy) -> str:
        return format_html('<pre style="max-height:30rem;overflow:auto">{}</pre>', selectors.deploy_log_text(obj))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are read-only here: their scope and role are access, which only changes by making a
    new token (organization page, create_api_token) and revoking the old one, both audited."""

    list_display = ["name", "prefix", "organization", "workspace", "deployment", "role", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["role", "organization"]
    list_select_related = ["organization", "workspace", "deployment"]
    search_fields = ["name", "prefix", "organization__name"]
    fields = [
        "name", "organization", "workspace", "deployment", "role", "expires_at", "prefix", "token_hash",
        "created_by", "created_at", "last_used_at", "last_used_ip", "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token's secret is shown once: create them on the organization page or with create_api_token

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # revoke instead: the record of a token stays

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            tokens.token_revoke(token=token, actor=_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


@admin.register(EnvironmentVariable)
class EnvironmentVariableAdmin(admin.ModelAdmin):
    """Read-only, and without values (a secret's is never shown anywhere): variables change on the
    deployment page, the API or the CLI, which validate and audit; deleting here goes through the
    same service."""

    list_display = ("key", "deployment", "is_secret", "updated_at")
    list_filter = ("is_secret", "deployment__workspace__organization")
    list_select_related = ("deployment__workspace",)
    search_fields = ("key", "deployment__name")
    fields = ("deployment", "key", "is_secret", "created_at", "updated_at")
    readonly_fields = fields
    actions = ("delete_variables",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the action below deletes through the service (audited, rolled out)

    @admin.action(description="Delete selected variables (audited)")
    def delete_variables(self, request: HttpRequest, queryset: QuerySet[EnvironmentVariable]) -> None:
        count = 0
        for variable in queryset.select_related("deployment__workspace__organization"):
            variable_services.variable_delete(deployment=variable.deployment, key=variable.key, actor=_actor(request))
            count += 1
        self.message_user(request, f"Deleted {count} environment variable(s).", messages.SUCCESS)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "deployment", "kind", "url_shown", "enabled", "last_sent_at", "last_result"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["deployment"]
    search_fields = ["name", "deployment__name"]
    fields = ["deployment", "name", "kind", "url_shown", "events", "enabled", "last_sent_at", "last_result"]
    readonly_fields = ["deployment", "kind", "url_shown", "last_sent_at", "last_result"]  # URL and secret: never shown

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made on the deployment page or through the API, where the secret is shown once


@admin.register(ComponentLogLine)
class ComponentLogLineAdmin(admin.ModelAdmin):
    list_display = ["logged_at", "deployment", "component", "text"]
    list_filter = ["component"]
    list_select_related = ["deployment"]
    search_fields = ["=deployment__name", "text"]
    readonly_fields = ["deployment", "component", "task_id", "logged_at", "text"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
