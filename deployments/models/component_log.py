"""The logs of a deployment's running Airflow components, as their agents ship them (each line
once, in order per container; the id orders lines across containers as they arrived)."""
from __future__ import annotations

from django.db import models

LOG_LINE_MAX = 8192  # characters; a longer line is cut, with a mark


class ComponentLogLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="component_log_lines")
    component = models.CharField(max_length=64)
    task_id = models.CharField(max_length=64, help_text="The Swarm task (container) that wrote it.")
    logged_at = models.DateTimeField(help_text="When the component wrote it, by its container's clock.")
    text = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["deployment", "id"]),
            models.Index(fields=["deployment", "component", "id"]),
            models.Index(fields=["logged_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.component}: {self.text[:60]}"
