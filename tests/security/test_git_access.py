"""Git per deployment: each deployment clones with its own deploy key and nothing of the portal's
(its ~/.ssh, agent or git config), against a real sshd of the test's own on 127.0.0.1; host keys are
pinned on the first clone; git secrets are encrypted at rest and never shown back."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from deployments.services import git as git_services
from portal.errors import Invalid
from tests import factories
from tests.projects import make_project

pytestmark = [pytest.mark.services, pytest.mark.django_db]
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sshd:
    """An sshd on 127.0.0.1 that lets in only the keys in its authorized_keys file."""

    def __init__(self, folder: Path) -> None:
        assert os.path.exists(SSHD), "the git tests need openssh-server (scripts/test.sh installs it)"
        self.folder, self.port, self.process = folder, free_port(), None
        folder.mkdir()
        self.authorized = folder / "authorized_keys"
        self.authorized.write_text("")
        self.new_host_key()

    def new_host_key(self) -> None:
        for old in self.folder.glob("host_key*"):
            old.unlink()
        keygen(self.folder / "host_key")

    def start(self) -> None:
        Path("/run/sshd").mkdir(exist_ok=True)
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.folder / 'host_key'}\n"
            f"AuthorizedKeysFile {self.authorized}\nPidFile {self.folder / 'pid'}\nStrictModes no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        )
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=open(self.folder / "log", "w"))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("sshd did not start: " + (self.folder / "log").read_text())

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def sshd(tmp_path):
    server = Sshd(tmp_path / "sshd")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def repo(tmp_path):
    bare, work = tmp_path / "repo.git", tmp_path / "work"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(bare)], check=True)
    make_project(work)
    for args in (["init", "--quiet", "--initial-branch", "main"], ["add", "-A"], ["commit", "--quiet", "-m", "first"],
                 ["push", "--quiet", str(bare), "main"]):
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
    return bare


def test_each_deployment_clones_with_its_own_key_and_never_the_portals(tmp_path, workspace, sshd, repo, monkeypatch, settings):
    settings.AIRDOCK_GIT_ALLOWED_SCHEMES = ["ssh"]
    url = f"ssh://root@127.0.0.1:{sshd.port}{repo}"
    # The portal's own identity: a key in its ~/.ssh that the server lets in, and an agent socket.
    home = tmp_path / "portal-home"
    (home / ".ssh").mkdir(parents=True)
    portal_key = keygen(home / ".ssh" / "id_ed25519")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    owner = factories.DeploymentFactory(workspace=workspace, name="owner", git_url=url)
    other_org = factories.WorkspaceFactory(organization=factories.OrganizationFactory(slug="other"))
    intruder = factories.DeploymentFactory(workspace=other_org, name="intruder", git_url=url)
    keyless = factories.DeploymentFactory(workspace=other_org, name="keyless", git_url=url)
    owner_key = git_services.git_deploy_key_generate(deployment=owner)
    git_services.git_deploy_key_generate(deployment=intruder)
    sshd.authorized.write_text(f"{owner_key}\n{portal_key}\n")

    packed, sha = git_services.git_fetch_project(deployment=owner)
    packed.unlink()
    assert len(sha) == 40
    owner.refresh_from_db()
    assert f"[127.0.0.1]:{sshd.port}" in owner.git_known_hosts  # pinned on first contact
    for deployment in (intruder, keyless):
        with pytest.raises(Invalid, match=r"(?s)Permission denied \(publickey\).*deploy key"):
            git_services.git_fetch_project(deployment=deployment)

    # The server's host key changes (a man in the middle): refused until the owner forgets it.
    sshd.stop()
    sshd.new_host_key()
    sshd.start()
    with pytest.raises(Invalid, match="host key is not the one recorded"):
        git_services.git_fetch_project(deployment=owner)
    git_services.git_host_keys_forget(deployment=owner)
    packed, _ = git_services.git_fetch_project(deployment=owner)
    packed.unlink()


def test_git_secrets_are_encrypted_at_rest_and_never_shown(client, alice, workspace, settings):
    token_url = "https://ci-bot:ghp_SECRETTOKEN123@git.example.com/acme/etl.git"
    deployment = factories.DeploymentFactory(workspace=workspace, git_url=token_url, webhook_secret="hook-secret-42")
    public = git_services.git_deploy_key_generate(deployment=deployment)
    deployment.refresh_from_db()
    assert deployment.git_url == token_url and "PRIVATE KEY" in deployment.git_deploy_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT git_url, webhook_secret, git_deploy_key FROM deployments_deployment WHERE id = %s",
                       [deployment.pk])
        raw = " ".join(cursor.fetchone())
    for secret in ("SECRETTOKEN", "hook-secret-42", "PRIVATE KEY", "git.example.com"):
        assert secret not in raw

    client.force_login(alice)
    page = client.get(deployment.get_absolute_url()).content.decode()
    settings_page = client.get(f"/deployments/{deployment.pk}/edit/").content.decode()
    assert public in page
    for shown in (page, settings_page):
        assert "SECRETTOKEN" not in shown and "hook-secret-42" not in shown and "PRIVATE KEY" not in shown
    assert "https://***@git.example.com/acme/etl.git" in settings_page
    # Saving the form as shown keeps the stored URL and secret.
    form = {"name": deployment.name, "runtime_image": deployment.runtime_image, "executor": deployment.executor,
            "worker_queues": '[{"name": "default", "workers": 1, "concurrency": 5}]', "git_url": "https://***@git.example.com/acme/etl.git",
            "git_branch": "main", "git_subdir": "", "webhook_secret": "", "dag_deploy_enabled": "on"}
    assert client.post(f"/deployments/{deployment.pk}/edit/", form).status_code == 302
    deployment.refresh_from_db()
    assert deployment.git_url == token_url and deployment.webhook_secret == "hook-secret-42"
