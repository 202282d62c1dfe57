"""`airdock`: deploy Astro projects to an Airdock portal from a shell or CI, like `astro deploy`.

Reads the portal URL and token from AIRDOCK_URL and AIRDOCK_API_TOKEN. Standard library only, so a
CI image needs nothing but Python.
"""
from __future__ import annotations

import argparse
import fnmatch
import functools
import io
import os
import posixpath
import re
import sys
import tarfile
import time
import uuid
from pathlib import Path

from . import deployments, logs, variables
from .client import Client, CliError

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def dockerignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@functools.lru_cache(maxsize=512)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore glob as a regex: `*` and `?` stop at `/`, `**` spans folders.

    The pattern is cleaned first, as Docker cleans it (`./x`, `x/`, `/x` and `a//b/../x` too).
    """
    pattern = posixpath.normpath(pattern.strip()).lstrip("/")
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")  # `**/`: zero or more folders
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = pattern.find("]", i + 2)
            if close == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:close]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = close
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a folder match covers its files."""
    result = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern[1:] if negate else pattern)
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negate
    return result


# Never uploaded, whatever .dockerignore says (the portal drops them too: deployments.services.archives).
NEVER_UPLOADED_NAMES = (
    ".env", ".env.*", "airflow_settings.yaml", "airflow_settings.yml", "airflow.db", "*.pem", "*.key",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pgpass",
)
NEVER_UPLOADED_DIRS = (".git", ".aws", ".ssh", ".gnupg")


def never_uploaded(rel: str) -> bool:
    parts = rel.split("/")
    if any(part in NEVER_UPLOADED_DIRS for part in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pattern) for pattern in NEVER_UPLOADED_NAMES)


def pack_project(root: Path, *, dags_only: bool = False) -> bytes:
    """Pack the project as a .tar.gz, honouring .dockerignore (dags/ and .astro/ for a DAG deploy)."""
    if not root.is_dir():
        raise CliError(f"{root} is not a folder.")
    if dags_only and not (root / "dags").is_dir():
        raise CliError(f"{root} has no dags/ folder.")
    if not dags_only and not (root / "Dockerfile").is_file():
        raise CliError(f"{root} is not an Astro project: it has no Dockerfile.")
    patterns = dockerignore_patterns(root)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or path.is_symlink():
                continue
            if dags_only and not rel.startswith(("dags/", ".astro/")):
                continue
            if never_uploaded(rel) or (not rel.startswith("dags/") and ignored(rel, patterns)):
                continue
            archive.add(path, rel, recursive=False)
    return buffer.getvalue()


def follow(client: Client, deploy_id: int, wait_time: int) -> dict:
    """Print the deploy's log as it comes until it ends; return the final deploy."""
    offset, deadline = 0, time.monotonic() + wait_time
    while True:
        page = client.request("GET", f"/deploys/{deploy_id}/log?offset={offset}")
        for line in page["lines"]:
            print(line["text"], flush=True)
        offset = page["next_offset"]
        if page["finished"] and not page["lines"]:
            return client.request("GET", f"/deploys/{deploy_id}")
        if time.monotonic() > deadline:
            raise CliError(f"Deploy {deploy_id} did not finish within {wait_time} s (--wait-time); it goes on in the portal.")
        if not page["lines"]:
            time.sleep(1)


def report(deploy: dict) -> int:
    if deploy["state"] == "SUCCEEDED":
        print(f"Deploy {deploy['id']} succeeded: image {deploy['image'] or '(unchanged)'}, "
              f"DAG bundle {deploy['dag_bundle_version'][:12] or '(unchanged)'}")
        for warning in deploy.get("warnings") or []:
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    print(f"Deploy {deploy['id']} {deploy['state'].lower()}: {deploy.get('error') or ''}", file=sys.stderr)
    return 1


DATA_COMPONENTS = ("db", "broker")


def wait_until_live(client: Client, deployment_id: int, deploy: dict, deadline: float) -> int:
    """After a deploy succeeded: wait until the deployment is HEALTHY with every Airflow component
    running the deploy's image and DAG bundle (as astro deploy --wait does); 1 if it turns UNHEALTHY."""
    last = ""
    while True:
        deployment = client.request("GET", f"/deployments/{deployment_id}")
        if deployment["current_deploy_id"] != deploy["id"]:
            print(f"Deploy {deploy['id']} was followed by deploy {deployment['current_deploy_id']}.", file=sys.stderr)
            return 1
        if deployment["status"] == "HIBERNATING":
            print(f"Deployment {deployment['name']} is hibernating: deploy {deploy['id']} is activated and runs when it "
                  "wakes up (airdock deployment wake-up).", flush=True)
            return 0
        serving = [c for c in deployment["components"]
                   if c["name"] not in DATA_COMPONENTS and c["state"] not in ("draining", "stopped")]
        live = bool(serving) and all(
            c["running_image_digest"] == deployment["desired_image_digest"]
            and c["running_dag_bundle_version"] in ("", deployment["desired_dag_bundle_version"]) for c in serving)
        if deployment["status"] == "HEALTHY" and live:
            print(f"Deployment {deployment['name']} is HEALTHY on deploy {deploy['id']}: "
                  + ", ".join(f"{c['name']} {c['running_image_digest'][7:19]}" for c in serving), flush=True)
            return 0
        if deployment["status"] == "UNHEALTHY":
            print(f"Deployment {deployment['name']} is UNHEALTHY: {deployment['status_reason']}", file=sys.stderr)
            return 1
        if deployment["status_reason"] != last:
            print(f"{deployment['status']}: {deployment['status_reason']}", flush=True)
            last = deployment["status_reason"]
        if time.monotonic() > deadline:
            print(f"Deployment {deployment['name']} is not running deploy {deploy['id']} yet after --wait-time; "
                  "it goes on in the portal.", file=sys.stderr)
            return 1
        time.sleep(2)


def cmd_deploy(client: Client, args: argparse.Namespace) -> int:
    kind = "dags" if args.dags else "image" if args.image else "image_and_dags"
    fields = {"kind": kind, "description": args.description or "", "force": str(args.force).lower()}
    if args.pytest or args.test:
        fields["pytest"] = "true"
    if args.test:
        fields["test_path"] = args.test
    if args.image_name:
        fields["image_name"] = args.image_name
    files = {}
    root = Path(args.project_dir)
    if not (args.image_name and args.image):
        files["archive"] = ("project.tar.gz", pack_project(root, dags_only=args.dags))
    headers = {"Idempotency-Key": os.environ.get("AIRDOCK_IDEMPOTENCY_KEY") or uuid.uuid4().hex}
    deploy = client.multipart(f"/deployments/{args.deployment_id}/deploys", fields, files, headers)
    print(f"Deploy {deploy['id']} queued: {deploy['url']}", flush=True)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.wait_time
    finished = follow(client, deploy["id"], args.wait_time)
    if report(finished) != 0:
        return 1
    return wait_until_live(client, args.deployment_id, finished, deadline)


def cmd_deploys_list(client: Client, args: argparse.Namespace) -> int:
    rows = client.request("GET", f"/deployments/{args.deployment_id}/deploys?limit={args.limit}")
    print(f"{'ID':>6}  {'STATE':<10} {'KIND':<15} {'CREATED':<20} {'IMAGE TAG':<34} BUNDLE")
    for d in rows:
        print(f"{d['id']:>6}  {d['state']:<10} {d['kind']:<15} {d['created_at'][:19]:<20} "
              f"{d['image_tag'] or '-':<34} {d['dag_bundle_version'][:12] or '-'}")
    return 0


def cmd_rollback(client: Client, args: argparse.Namespace) -> int:
    deploy = client.json("POST", f"/deployments/{args.deployment_id}/rollback", {"deploy_id": args.deploy_id})
    print(f"Deploy {deploy['id']} queued: rolling back to deploy {args.deploy_id}", flush=True)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.wait_time
    finished = follow(client, deploy["id"], args.wait_time)
    return report(finished) or wait_until_live(client, args.deployment_id, finished, deadline)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="airdock", description="Deploy Astro projects to Airdock.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="Deploy a project (like astro deploy).")
    d.add_argument("project_dir", nargs="?", default=".")
    d.add_argument("--deployment-id", type=int, required=True)
    group = d.add_mutually_exclusive_group()
    group.add_argument("--dags", action="store_true", help="DAG-only deploy.")
    group.add_argument("--image", action="store_true", help="Image-only deploy (DAGs kept).")
    d.add_argument("--image-name", help="Deploy this image from the portal's Docker engine instead of building.")
    d.add_argument("--force", action="store_true", help="Failed checks become warnings.")
    d.add_argument("--pytest", action="store_true", help="Run the project's tests/ too.")
    d.add_argument("--test", help="Run pytest on this path under tests/.")
    d.add_argument("--description", default="")
    d.add_argument("--wait", action="store_true", help=(
        "Follow the log, then wait until the deployment is HEALTHY on the new image and DAG bundle; "
        "exit non-zero if the deploy fails or the deployment turns UNHEALTHY."))
    d.add_argument("--wait-time", type=int, default=3600)
    d.set_defaults(run=cmd_deploy)
    deploys = sub.add_parser("deploys", help="Deploy history.").add_subparsers(dest="deploys_command", required=True)
    lst = deploys.add_parser("list")
    lst.add_argument("--deployment-id", type=int, required=True)
    lst.add_argument("--limit", type=int, default=20)
    lst.set_defaults(run=cmd_deploys_list)
    r = sub.add_parser("rollback", help="Deploy an earlier deploy's image and DAG bundle again.")
    r.add_argument("--deployment-id", type=int, required=True)
    r.add_argument("--deploy-id", type=int, required=True)
    r.add_argument("--wait", action="store_true")
    r.add_argument("--wait-time", type=int, default=3600)
    r.set_defaults(run=cmd_rollback)
    deployment = sub.add_parser("deployment", help="A deployment: its settings, hibernation, variables (like astro deployment).")
    commands = deployment.add_subparsers(dest="deployment_command", required=True)
    deployments.add_parser(commands)
    logs.add_parser(commands)
    variables.add_parser(commands)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = Client(os.environ.get("AIRDOCK_URL", ""), os.environ.get("AIRDOCK_API_TOKEN", ""))
        return args.run(client, args)
    except CliError as exc:
        print(f"airdock: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # `logs --follow`, `deploy --wait`: stopped by the user
        return 130


if __name__ == "__main__":
    sys.exit(main())
