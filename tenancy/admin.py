"""Admin for operators. Changes of access (memberships) go through the services, which audit them;
the inlines only show who is a member."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .audit import Actor
from .models import (
    AuditEvent,
    Organization,
    OrganizationMembership,
    Workspace,
    WorkspaceMembership,
)


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR"))


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Members (change them under Memberships, where each change is audited)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrganizationMembershipInline(_ReadOnlyInline):
    model = OrganizationMembership


class WorkspaceMembershipInline(_ReadOnlyInline):
    model = WorkspaceMembership


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OrganizationMembershipInline]


class _MembershipAdmin(admin.ModelAdmin):
    """Save and delete through the membership services, so each change is checked and audited."""

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.scope_fields if obj is not None else []  # who and where are fixed; the role may change

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for membership in queryset:
            self.delete_model(request, membership)


@admin.register(OrganizationMembership)
class OrganizationMembershipAdmin(_MembershipAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    scope_fields = ["user", "organization"]

    def save_model(self, request, obj, form, change) -> None:
        saved = services.organization_member_set(
            organization=obj.organization, user=obj.user, role=obj.role, actor=_actor(request)
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.organization_member_remove(membership=obj, actor=_actor(request))


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "created_at"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    search_fields = ["name", "organization__name"]
    autocomplete_fields = ["organization"]
    inlines = [WorkspaceMembershipInline]


@admin.register(WorkspaceMembership)
class WorkspaceMembershipAdmin(_MembershipAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace__organization"]
    list_select_related = ["user", "workspace__organization"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]
    scope_fields = ["user", "workspace"]

    def save_model(self, request, obj, form, change) -> None:
        saved = services.workspace_member_set(workspace=obj.workspace, user=obj.user, role=obj.role, actor=_actor(request))
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.workspace_member_remove(membership=obj, actor=_actor(request))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor", "action", "target", "ip"]
    list_filter = ["action", "actor_kind", "organization"]
    list_select_related = ["organization"]
    search_fields = ["action", "target", "actor_name", "actor_token_prefix"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
