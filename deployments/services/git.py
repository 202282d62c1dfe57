"""Git sources: clone a deployment's repository at a branch head or a pushed commit and deploy it."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from portal.errors import Invalid
from tenancy.audit import Actor, audit_record

from ..models import ApiToken, Deploy, Deployment
from .deploys.create import deploy_create, deploy_for_idempotency_key


def _git_env(home: Path, deployment: Deployment) -> dict[str, str]:
    """An environment that holds only this deployment's credentials.

    No portal identity leaks in: HOME is an empty folder (no ~/.ssh, ~/.gitconfig or
    ~/.git-credentials), no system or global git config (no credential helpers), no SSH agent, and
    ssh reads no config and offers only the deployment's own deploy key. Host keys are the ones
    recorded for this deployment; an unknown host is recorded on the first clone (accept-new), a
    changed one is refused.
    """
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700)
    known_hosts = ssh / "known_hosts"
    known_hosts.write_text(deployment.git_known_hosts)
    command = [
        "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new",
        "-o", "HashKnownHosts=no", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
    ]
    if deployment.git_deploy_key:
        key = ssh / "deploy_key"
        key.touch(mode=0o600)
        key.write_text(deployment.git_deploy_key.rstrip("\n") + "\n")
        command += ["-i", str(key)]
    else:
        command += ["-o", "IdentityFile=none"]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
        "GIT_ALLOW_PROTOCOL": ":".join(settings.AIRDOCK_GIT_ALLOWED_SCHEMES),
        "GIT_SSH_COMMAND": " ".join(shlex.quote(part) for part in command),
    }


def _git(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=settings.AIRDOCK_GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise Invalid(f"git {args[0]} took longer than {settings.AIRDOCK_GIT_TIMEOUT} s (AIRDOCK_GIT_TIMEOUT).") from exc
    if result.returncode != 0:
        message = result.stderr.strip()[-500:] or result.stdout.strip()[-500:]
        if "Permission denied (publickey" in message or "Could not read from remote repository" in message:
            message += (" Add the deployment's deploy key (its settings page shows the public half) to the "
                        "repository as a read-only deploy key.")
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in message or "Host key verification failed" in message:
            message = ("the git server's SSH host key is not the one recorded on the first clone; if the server "
                       "really changed its key, clear the recorded host keys in the deployment's settings. " + message[-300:])
        raise Invalid(f"git {args[0]} failed: {message}")
    return result.stdout.strip()


def git_check_url(url: str) -> None:
    scheme = urlparse(url).scheme or ("ssh" if "@" in url and ":" in url else "")
    if scheme not in settings.AIRDOCK_GIT_ALLOWED_SCHEMES:
        raise Invalid(
            f"Git URLs with {scheme or 'no'} scheme are not allowed here; use one of "
            f"{', '.join(settings.AIRDOCK_GIT_ALLOWED_SCHEMES)} (AIRDOCK_GIT_ALLOWED_SCHEMES)."
        )


def git_fetch_project(*, deployment: Deployment, commit: str = "") -> tuple[Path, str]:
    """Clone the deployment's branch (at `commit` if given) and pack its project folder.

    Return the packed .tar.gz (the caller removes it) and the commit deployed.
    """
    if not deployment.git_url:
        raise Invalid(f"{deployment.name} has no git repository; set one in its settings.")
    git_check_url(deployment.git_url)
    work = Path(tempfile.mkdtemp(prefix="airdock-git-"))
    try:
        (work / "home").mkdir()
        env = _git_env(work / "home", deployment)
        checkout = work / "repo"
        branch = deployment.git_branch or "main"
        _git("clone", "--quiet", "--no-tags", "--single-branch", "--branch", branch, "--", deployment.git_url, str(checkout), env=env)
        _record_host_keys(deployment, work / "home" / ".ssh" / "known_hosts")
        if commit:
            _git("checkout", "--quiet", "--detach", commit, "--", cwd=checkout, env=env)
        sha = _git("rev-parse", "HEAD", cwd=checkout, env=env)
        project = (checkout / deployment.git_subdir).resolve() if deployment.git_subdir else checkout
        if not project.is_relative_to(checkout.resolve()) or not project.is_dir():
            raise Invalid(f"The sub-folder {deployment.git_subdir!r} is not a folder of the repository.")
        handle = tempfile.NamedTemporaryFile(prefix="airdock-git-", suffix=".tar.gz", delete=False)
        with handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
            for path in sorted(project.rglob("*")):
                rel = path.relative_to(project)
                if rel.parts[0] == ".git" or path.is_symlink() or not path.is_file():
                    continue
                archive.add(path, rel.as_posix(), recursive=False)
        return Path(handle.name), sha
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record_host_keys(deployment: Deployment, known_hosts: Path) -> None:
    """Keep the host keys ssh accepted on a first contact, so that a changed key is refused later."""
    seen = known_hosts.read_text() if known_hosts.exists() else ""
    if seen.strip() and seen != deployment.git_known_hosts:
        deployment.git_known_hosts = seen
        Deployment.objects.filter(pk=deployment.pk).update(git_known_hosts=seen)


def git_deploy_key_generate(*, deployment: Deployment, actor: Actor | None = None) -> str:
    """Make (or replace) the deployment's SSH deploy key; return its public half to add to the forge."""
    with tempfile.TemporaryDirectory(prefix="airdock-key-") as folder:
        path = Path(folder) / "key"
        comment = f"airdock {deployment.workspace.organization.slug}/{deployment.workspace.name}/{deployment.name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True, capture_output=True, timeout=30)
        private, public = path.read_text(), path.with_suffix(".pub").read_text().strip()
    replaced = bool(deployment.git_deploy_key)
    deployment.git_deploy_key, deployment.git_deploy_key_public = private, public
    deployment.save(update_fields=["git_deploy_key", "git_deploy_key_public", "updated_at"])
    audit_record(organization=deployment.workspace.organization, action="deployment.deploy_key",
                 target=deployment.name, actor=actor, replaced=replaced, fingerprint=_fingerprint(public))
    return public


def git_host_keys_forget(*, deployment: Deployment, actor: Actor | None = None) -> None:
    """Forget the recorded host keys: the next clone records the server's key again."""
    deployment.git_known_hosts = ""
    deployment.save(update_fields=["git_known_hosts", "updated_at"])
    audit_record(organization=deployment.workspace.organization, action="deployment.git_host_keys_forget",
                 target=deployment.name, actor=actor)


def _fingerprint(public: str) -> str:
    result = subprocess.run(["ssh-keygen", "-l", "-f", "-"], input=public, capture_output=True, text=True, timeout=10)
    return result.stdout.split()[1] if result.returncode == 0 and result.stdout else ""


def deploy_from_git(
    *, deployment: Deployment, user=None, token: ApiToken | None = None, ip: str | None = None,
    commit: str = "", kind: str = Deploy.Kind.IMAGE_AND_DAGS, idempotency_key: str = "",
) -> Deploy:
    """Build the head of the deployment's branch (or a pushed commit) and deploy it."""
    earlier = deploy_for_idempotency_key(deployment=deployment, key=idempotency_key, kind=kind, user=user, token=token)
    if earlier is not None:
        return earlier  # nothing to fetch: this request already made its deploy
    packed, sha = git_fetch_project(deployment=deployment, commit=commit)
    try:
        with open(packed, "rb") as archive:
            return deploy_create(
                deployment=deployment, user=user, token=token, ip=ip, kind=kind, archive=archive,
                description=f"git {deployment.git_branch or 'main'} @ {sha[:12]}", git_commit=sha,
                idempotency_key=idempotency_key,
            )
    finally:
        packed.unlink(missing_ok=True)
