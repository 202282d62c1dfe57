"""Git secrets written before they were encrypted are encrypted by migration 0007's data step, and
read back; its reverse writes plain text again."""
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from deployments.models import Deployment
from tests import factories

EDITOR = SimpleNamespace(connection=connection)  # what the data step uses of a schema editor
step = importlib.import_module("deployments.migrations.0007_git_secrets_encrypted")


def raw(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT git_url, webhook_secret FROM deployments_deployment WHERE id = %s", [pk])
        return cursor.fetchone()


@pytest.mark.django_db
def test_plain_git_secrets_are_encrypted_in_place(workspace):
    secret = factories.DeploymentFactory(workspace=workspace, name="etl")
    plain = factories.DeploymentFactory(workspace=workspace, name="none")
    with connection.cursor() as cursor:  # as the rows were before the migration: plain text, "" when unset
        cursor.execute("UPDATE deployments_deployment SET git_url = %s, webhook_secret = %s WHERE id = %s",
                       ["https://u:tok123@git.example/x.git", "hook-1", secret.pk])
        cursor.execute("UPDATE deployments_deployment SET git_url = '', webhook_secret = '' WHERE id = %s", [plain.pk])
    step.encrypt(apps, EDITOR)
    url, hook = raw(secret.pk)
    assert "tok123" not in url and hook != "hook-1"
    assert raw(plain.pk) == (None, None)
    read = Deployment.objects.get(pk=secret.pk)
    assert (read.git_url, read.webhook_secret) == ("https://u:tok123@git.example/x.git", "hook-1")
    assert Deployment.objects.get(pk=plain.pk).git_url == ""

    step.decrypt(apps, EDITOR)
    assert raw(secret.pk) == ("https://u:tok123@git.example/x.git", "hook-1")
