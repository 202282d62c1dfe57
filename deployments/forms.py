from __future__ import annotations

from django import forms

from tenancy.models import WorkspaceMembership

from .models import Deploy, Deployment, normalize_worker_queues
from .services.deployments import EDITABLE_FIELDS


class DeploymentForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "worker_queues": forms.Textarea(attrs={"rows": 3, "class": "mono"}),
            "resources": forms.Textarea(attrs={"rows": 2, "class": "mono"}),
            "hibernation_schedules": forms.Textarea(attrs={"rows": 2, "class": "mono"}),
            # Write-only: never sent back to a browser.
            "webhook_secret": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        }
        help_texts = {
            "runtime_image": (
                "The Astro Runtime the deployment runs (it follows each deploy). To move to another Airflow "
                "major version, set the new Runtime here first; a deploy that moves without it needs force."
            ),
            "worker_queues": (
                'JSON, e.g. [{"name": "default", "min_workers": 1, "max_workers": 10, "concurrency": 5}, '
                '{"name": "heavy", "min_workers": 0, "max_workers": 2, "concurrency": 2, "cpu": 2, "memory": 8192}]: '
                "each queue scales between its min and max workers with its backlog (cpu in cores, memory in MiB per worker)."
            ),
            "resources": 'JSON, e.g. {"scheduler": {"cpu": 2, "memory": 4096}}; components left out take the defaults.',
            "hibernation_schedules": (
                'JSON, e.g. [{"hibernate_at": "0 19 * * 1-5", "wake_at": "0 7 * * 1-5"}]: cron, in UTC.'
            ),
            "webhook_secret": "Shared secret that signs push webhooks. Never shown again: leave blank to keep the current one.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a token in the URL is never sent back to a browser
            self.initial["git_url"] = self.instance.git_url_shown
        self.fields["worker_grace_period"].required = False  # blank keeps the current (or default) period

    def clean_worker_queues(self) -> object:
        return normalize_worker_queues(self.cleaned_data.get("worker_queues"))

    def clean_resources(self) -> dict:
        return self.cleaned_data.get("resources") or {}

    def clean_hibernation_schedules(self) -> list:
        return self.cleaned_data.get("hibernation_schedules") or []

    def clean_worker_grace_period(self) -> int:
        value = self.cleaned_data.get("worker_grace_period")
        return self.instance.worker_grace_period if value is None else value

    def clean_git_url(self) -> str:
        """The URL as shown (its token masked) keeps the stored one."""
        url = self.cleaned_data.get("git_url", "")
        if self.instance.pk and url and url == self.instance.git_url_shown:
            return self.instance.git_url
        return url

    def clean_webhook_secret(self) -> str:
        """A blank field keeps the stored secret (the page never shows it)."""
        secret = self.cleaned_data.get("webhook_secret", "")
        if not secret and self.instance.pk:
            return self.instance.webhook_secret  # still the stored value: the form copies fields in after cleaning
        return secret


class DeployForm(forms.Form):
    kind = forms.ChoiceField(choices=Deploy.Kind.choices, initial=Deploy.Kind.IMAGE_AND_DAGS)
    archive = forms.FileField(
        required=False, label="Project archive",
        help_text="The Astro project as .zip or .tar.gz (Dockerfile and dags/ at its root).",
    )
    image_name = forms.CharField(
        required=False, max_length=255, label="Prebuilt image",
        help_text="Deploy an image already in the Docker engine instead of building one (like astro deploy --image-name).",
    )
    description = forms.CharField(required=False, max_length=500)
    run_pytest = forms.BooleanField(required=False, label="Run the project's pytest suite")
    test_path = forms.CharField(required=False, max_length=255, help_text="Optional: a path under tests/.")
    force = forms.BooleanField(required=False, help_text="Failed checks become warnings instead of failing the deploy.")


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="CI token")
    scope = forms.ChoiceField(help_text="Where the token may act.")
    role = forms.ChoiceField(choices=WorkspaceMembership.Role.choices, initial=WorkspaceMembership.Role.AUTHOR)
    expires_in_days = forms.IntegerField(min_value=0, max_value=3650, initial=90, help_text="0: never expires.")

    def __init__(self, *args, scopes: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scopes


class VariableForm(forms.Form):
    """Add or update one environment variable (the key names it; the rules are the service's)."""

    key = forms.CharField(max_length=255, widget=forms.TextInput(attrs={
        "class": "mono", "placeholder": "MY_SETTING", "list": "variable-keys", "autocomplete": "off", "spellcheck": "false",
    }))
    value = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={
        "rows": 1, "class": "mono", "autocomplete": "off", "spellcheck": "false",
    }), help_text="Left blank on an existing plain variable: its value stays (to make it secret).")
    is_secret = forms.BooleanField(
        required=False, label="Secret",
        help_text="Write-only: encrypted, never shown again. A secret stays secret.",
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "id_variable_%s")  # the deployment page holds other forms
        super().__init__(*args, **kwargs)

    def clean_value(self) -> str:
        return self.cleaned_data["value"].replace("\r\n", "\n")  # browsers send a text area's lines with CRLF


class VariablesImportForm(forms.Form):
    text = forms.CharField(strip=False, label=".env file", widget=forms.Textarea(attrs={
        "rows": 4, "class": "mono", "placeholder": "# KEY=VALUE lines\nMY_SETTING=1\nexport GREETING=\"hello\\nworld\"",
        "autocomplete": "off", "spellcheck": "false",
    }))
    is_secret = forms.BooleanField(required=False, label="Import as secrets")

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "id_import_%s")
        super().__init__(*args, **kwargs)
