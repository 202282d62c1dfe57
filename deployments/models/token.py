"""API tokens for CI: scoped to an organization, a workspace or a deployment, with a role."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from tenancy.models import WorkspaceMembership


class ApiToken(models.Model):
    """A bearer token for CI, scoped to an organization, a workspace or a deployment, with a role.

    Only a hash is stored; the token itself is shown once, at creation.
    """

    Role = WorkspaceMembership.Role

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="api_tokens")
    workspace = models.ForeignKey("tenancy.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    deployment = models.ForeignKey("deployments.Deployment", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
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
