from __future__ import annotations

from django import forms

from .models import Deployment, Workspace


class WorkspaceForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class DeploymentForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = [
            "name", "description", "runtime_image", "executor", "worker_queues",
            "dag_deploy_enabled", "pytest_by_default",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "worker_queues": forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        }
        help_texts = {
            "worker_queues": 'JSON, e.g. [{"name": "default", "workers": 1, "concurrency": 5}]',
        }
