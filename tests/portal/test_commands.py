import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tenancy.models import Organization, OrganizationMembership

ROOT = Path(__file__).resolve().parents[2]


def test_it_creates_an_organization_and_a_new_owner(db):
    out, err = StringIO(), StringIO()
    call_command("create_organization", "data-platform", "--owner", "dana@example.com", stdout=out, stderr=err)
    assert out.getvalue().strip() == "data-platform"
    assert "password" in err.getvalue()
    user = get_user_model().objects.get(email="dana@example.com")
    assert OrganizationMembership.objects.get(organization__slug="data-platform", user=user).role == "owner"


def test_it_reuses_an_existing_user_and_refuses_a_taken_slug(db, alice):
    out, err = StringIO(), StringIO()
    call_command("create_organization", "second", "--owner", "alice@example.com", stdout=out, stderr=err)
    assert out.getvalue().strip() == "second" and err.getvalue() == ""
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_organization", "second", "--owner", "alice@example.com")
    with pytest.raises(CommandError, match="not a valid slug"):
        call_command("create_organization", "Bad Slug", "--owner", "alice@example.com")
    assert Organization.objects.filter(slug="second").count() == 1


def test_it_bootstraps_an_admin_and_a_demo_organization_once(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("airdock_bootstrap", stdout=out)
    call_command("airdock_bootstrap", stdout=StringIO())
    password = (tmp_path / "first-admin.txt").read_text().split()[1]
    assert password in out.getvalue()
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert Organization.objects.get(slug="demo").workspaces.get().deployments.count() == 1


def test_it_passes_check_deploy_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x7!k2" * 12,
        "DJANGO_ALLOWED_HOSTS": "airdock.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://airdock.example.com",
        "DJANGO_SECURE_HSTS_PRELOAD": "true",
        "AIRDOCK_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_fails_check_deploy_with_the_local_defaults(tmp_path):
    env = {**os.environ, "DJANGO_DEBUG": "false", "AIRDOCK_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr + result.stdout
