from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """The data plane: each deployment's Airflow components, run on Docker Swarm."""

    name = "runtime"
    default_auto_field = "django.db.models.BigAutoField"
