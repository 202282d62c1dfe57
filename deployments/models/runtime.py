"""The local Astro Runtime images this engine holds: one per Runtime version a deploy asked for."""
from __future__ import annotations

from django.db import models


class RuntimeImage(models.Model):
    """A Runtime version's image, built on first use: what it holds and when it was last used
    (old, unused ones are pruned, keeping AIRDOCK_RUNTIME_IMAGES_KEEP)."""

    runtime_version = models.CharField(max_length=32, unique=True)
    airflow_version = models.CharField(max_length=32)
    image = models.CharField(max_length=255, help_text="The local tag of the image with Astro's build triggers.")
    image_id = models.CharField(max_length=100)
    packages = models.JSONField(default=dict, blank=True, help_text="Every package the image holds, name → version.")
    build_seconds = models.FloatField(default=0)
    built_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_used_at"]

    def __str__(self) -> str:
        return f"Astro Runtime {self.runtime_version} ({self.image})"
