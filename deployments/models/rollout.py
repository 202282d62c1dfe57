"""A change to what a deployment runs that is not a deploy (its settings, environment variables,
hibernation), rolled out by the data plane like one: each has its own state and history."""
from __future__ import annotations

from django.db import models


class Rollout(models.Model):
    class Kind(models.TextChoices):
        SETTINGS = "settings", "Settings"
        VARIABLES = "variables", "Environment variables"
        HIBERNATE = "hibernate", "Hibernate"
        WAKE_UP = "wake_up", "Wake up"

    class State(models.TextChoices):
        ROLLING = "ROLLING", "Rolling out"
        DONE = "DONE", "Done"
        FAILED = "FAILED", "Failed"
        SUPERSEDED = "SUPERSEDED", "Superseded"

    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="rollouts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    summary = models.CharField(max_length=500, help_text="What changed, e.g. worker_queues, resources.")
    actor_name = models.CharField(max_length=150, blank=True, help_text="Who asked (a user, a token, or the schedule).")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ROLLING)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True, help_text="When a reconcile pass gave it to Swarm.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["deployment", "state"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.deployment}: {self.summary}"
