"""`manage.py airdock_runtime_watch` (what `make run` keeps running): each round applies the
hibernation schedules and prunes old component log lines, besides observing the deployments."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from deployments.models import ComponentLogLine, Deployment

pytestmark = pytest.mark.django_db


def test_one_round_applies_schedules_and_prunes_old_log_lines(deployment, settings):
    settings.AIRDOCK_COMPONENT_LOG_RETENTION_HOURS = 1
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        hibernation_schedules=[{"hibernate_at": f"{now.minute} {now.hour} * * *", "wake_at": "0 0 1 1 *"}],
        hibernation_checked_at=now - timedelta(minutes=2))
    ComponentLogLine.objects.create(deployment=deployment, component="scheduler", task_id="t", text="old",
                                    logged_at=now - timedelta(hours=3))
    call_command("airdock_runtime_watch", "--once")
    assert Deployment.objects.get(pk=deployment.pk).hibernating
    assert not ComponentLogLine.objects.exists()
