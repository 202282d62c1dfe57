"""`airdock deployment logs`: a deployment's component logs, as `astro deployment logs` shows
them; --follow keeps printing new lines (asking the portal for the lines after the last one)."""
from __future__ import annotations

import argparse
import time
import urllib.parse

from .client import Client

COMPONENTS = ("api-server", "webserver", "scheduler", "dag-processor", "triggerer")


def line_text(line: dict) -> str:
    return f"{line['logged_at'][11:19]} {line['component']} {line['text']}"


def cmd_logs(client: Client, args: argparse.Namespace) -> int:
    query = {"component": args.component or "", "search": args.search or "", "since": args.since or "", "limit": args.limit}
    path = f"/deployments/{args.deployment_id}/logs"
    answer = client.request("GET", f"{path}?{urllib.parse.urlencode(query)}")
    for line in answer["lines"]:
        print(line_text(line), flush=True)
    last = answer["last_id"]
    while args.follow:
        time.sleep(args.poll)
        answer = client.request("GET", f"{path}?{urllib.parse.urlencode({**query, 'since': '', 'after': last, 'limit': 5000})}")
        for line in answer["lines"]:
            print(line_text(line), flush=True)
        last = answer["last_id"]
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    logs = commands.add_parser("logs", help="Show a deployment's component logs (like astro deployment logs).")
    logs.add_argument("--deployment-id", type=int, required=True)
    logs.add_argument("--component", help=f"Only this component ({', '.join(COMPONENTS)}, worker-<queue>, db, broker).")
    logs.add_argument("--search", help="Only lines holding this text (case-insensitive).")
    logs.add_argument("--since", help="From this time: 15m, 2h, 1d, or 2026-12-01T14:00 (UTC).")
    logs.add_argument("--limit", type=int, default=200, help="How many of the latest lines first (default 200).")
    logs.add_argument("-f", "--follow", action="store_true", help="Keep printing new lines until interrupted.")
    logs.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    logs.set_defaults(run=cmd_logs)
