"""Git sources: clone a deployment's repository at a branch head or a pushed commit and deploy it."""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from portal.errors import Invalid

from ..models import ApiToken, Deploy, Deployment
from .deploys.create import deploy_create, deploy_for_idempotency_key


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ, "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": ":".join(settings.AIRDOCK_GIT_ALLOWED_SCHEMES),
    }
    # Never wait for a password or a host-key question: fail at once with ssh's message.
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=settings.AIRDOCK_GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise Invalid(f"git {args[0]} took longer than {settings.AIRDOCK_GIT_TIMEOUT} s (AIRDOCK_GIT_TIMEOUT).") from exc
    if result.returncode != 0:
        raise Invalid(f"git {args[0]} failed: {result.stderr.strip()[-500:] or result.stdout.strip()[-500:]}")
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
        checkout = work / "repo"
        branch = deployment.git_branch or "main"
        _git("clone", "--quiet", "--no-tags", "--single-branch", "--branch", branch, "--", deployment.git_url, str(checkout))
        if commit:
            _git("checkout", "--quiet", "--detach", commit, "--", cwd=checkout)
        sha = _git("rev-parse", "HEAD", cwd=checkout)
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
