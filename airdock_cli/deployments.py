"""`airdock deployment list|inspect|create|update|delete|hibernate|wake-up`, as astro-cli's
`astro deployment ...`. A deployment as code is the YAML (or JSON) document `inspect` prints:
edit it and apply it with `update --file`, or make a new deployment from one with `create --file`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from .client import Client, CliError

SETTLED = {"HEALTHY", "HIBERNATING", "UNHEALTHY"}


def _read(path: str) -> dict:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"Cannot read {path}: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML (nor JSON): {exc}") from exc
    if not isinstance(document, dict):
        raise CliError(f"{path} holds no `deployment:` mapping; start from `airdock deployment inspect --output yaml`.")
    return document


def dump(document: object, output: str) -> str:
    if output == "json":
        return json.dumps(document, indent=2)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def cmd_list(client: Client, args: argparse.Namespace) -> int:
    path = f"/workspaces/{args.workspace_id}/deployments" if args.workspace_id else "/deployments"
    rows = client.request("GET", path)
    if not rows:
        print("No deployments.")
        return 0
    cells = [(str(d["id"]), d["name"], str(d["workspace_id"]), d["status"], d["runtime_version"] or "—",
              d["desired_image_tag"] or "—") for d in rows]
    heads = ("ID", "NAME", "WORKSPACE", "STATUS", "RUNTIME", "IMAGE TAG")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    for line in [heads, *cells]:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())
    return 0


def cmd_inspect(client: Client, args: argparse.Namespace) -> int:
    document = client.request("GET", f"/deployments/{args.deployment_id}/config")
    if args.key:
        for part in args.key.split("."):
            if not isinstance(document, dict) or part not in document:
                raise CliError(f"No {args.key!r} in the deployment's configuration.")
            document = document[part]
    print(dump(document, args.output), end="" if args.output != "json" else "\n")
    return 0


def _shown(deployment: dict, verb: str) -> int:
    print(f"Deployment {deployment['name']} (id {deployment['id']}) {verb}: {deployment['status']}. {deployment['status_reason']}")
    return 0


def cmd_create(client: Client, args: argparse.Namespace) -> int:
    made = client.json("POST", f"/workspaces/{args.workspace_id}/deployments/config", _read(args.file))
    return _shown(made, "created")


def cmd_update(client: Client, args: argparse.Namespace) -> int:
    return _shown(client.json("PUT", f"/deployments/{args.deployment_id}/config", _read(args.file)), "updated")


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    deployment = client.request("GET", f"/deployments/{args.deployment_id}")
    if not args.force:
        if not sys.stdin.isatty():
            raise CliError(f"Deleting {deployment['name']} removes its Airflow and its metadata for good: add --force.")
        if input(f"Delete deployment {deployment['name']} and its metadata for good? Type its name: ").strip() != deployment["name"]:
            raise CliError("Not deleted.")
    client.request("DELETE", f"/deployments/{args.deployment_id}")
    print(f"Deleted deployment {deployment['name']}.")
    return 0


def _wait(client: Client, deployment_id: int, want: str, wait_time: int) -> int:
    deadline = time.monotonic() + wait_time
    while True:
        deployment = client.request("GET", f"/deployments/{deployment_id}")
        if deployment["status"] == want and (want != "HIBERNATING" or not any(c["running"] for c in deployment["components"])):
            return _shown(deployment, "is ready")
        if deployment["status"] == "UNHEALTHY" or time.monotonic() > deadline:
            print(f"Deployment {deployment['name']} is {deployment['status']}: {deployment['status_reason']}", file=sys.stderr)
            return 1
        time.sleep(3)


def cmd_hibernate(client: Client, args: argparse.Namespace) -> int:
    _shown(client.request("POST", f"/deployments/{args.deployment_id}/hibernate"), "hibernates")
    return _wait(client, args.deployment_id, "HIBERNATING", args.wait_time) if args.wait else 0


def cmd_wake_up(client: Client, args: argparse.Namespace) -> int:
    _shown(client.request("POST", f"/deployments/{args.deployment_id}/wake-up"), "wakes up")
    return _wait(client, args.deployment_id, "HEALTHY", args.wait_time) if args.wait else 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    lst = commands.add_parser("list", help="List the deployments the token may see.")
    lst.add_argument("--workspace-id", type=int, help="Only this workspace's.")
    lst.set_defaults(run=cmd_list)
    inspect = commands.add_parser("inspect", help="Print a deployment's whole configuration (secrets redacted).")
    inspect.add_argument("--output", choices=("yaml", "json"), default="yaml")
    inspect.add_argument("--key", help="Print only this part, e.g. deployment.worker_queues.")
    create = commands.add_parser("create", help="Create a deployment from a deployment file.")
    create.add_argument("--workspace-id", type=int, required=True)
    update = commands.add_parser("update", help="Apply a deployment file to a deployment (all or nothing).")
    for p in (create, update):
        p.add_argument("--file", required=True, help="The YAML or JSON file (as inspect prints it; - for stdin).")
    delete = commands.add_parser("delete", help="Delete a deployment and everything it runs.")
    delete.add_argument("--force", action="store_true", help="Do not ask for confirmation.")
    hibernate = commands.add_parser("hibernate", help="Stop every component; metadata, settings and versions are kept.")
    wake = commands.add_parser("wake-up", help="Start a hibernating deployment again.")
    for p in (hibernate, wake):
        p.add_argument("--wait", action="store_true", help="Wait until it is HIBERNATING with nothing running / HEALTHY.")
        p.add_argument("--wait-time", type=int, default=900)
    for p, run in ((inspect, cmd_inspect), (update, cmd_update), (delete, cmd_delete), (hibernate, cmd_hibernate),
                   (wake, cmd_wake_up)):
        p.add_argument("--deployment-id", type=int, required=True)
        p.set_defaults(run=run)
    create.set_defaults(run=cmd_create)
