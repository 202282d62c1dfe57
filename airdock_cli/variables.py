"""`airdock deployment variable list|create|update|delete`: a deployment's environment variables,
as `astro deployment variable` does them. A secret's value is never sent back by the portal; the
list shows it as ******."""
from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path

from .client import Client, CliError

SECRET_SHOWN = "******"


def parse_pairs(pairs: list[str]) -> list[tuple[str, str]]:
    """KEY=VALUE arguments as (key, value); the value may hold '=' and be empty."""
    found = []
    for position, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # Not echoed: a value typed without its key may be a secret.
            raise CliError(f"Argument {position} is not KEY=VALUE (for example MY_SETTING=1).")
        found.append((key, value))
    return found


def shown(variable: dict) -> str:
    if variable["is_secret"] or variable["value"] is None:
        return SECRET_SHOWN
    return variable["value"].replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def variables_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["No environment variables."]
    cells = [(v["key"], shown(v), "yes" if v["is_secret"] else "no", v["updated_at"][:19].replace("T", " ")) for v in rows]
    key_width = max(3, *(len(c[0]) for c in cells))
    value_width = min(60, max(5, *(len(c[1]) for c in cells)))
    lines = [f"{'KEY':<{key_width}}  {'VALUE':<{value_width}}  {'SECRET':<6}  UPDATED"]
    lines += [f"{key:<{key_width}}  {value:<{value_width}}  {secret:<6}  {updated}" for key, value, secret, updated in cells]
    return lines


def _path(args: argparse.Namespace, key: str | None = None) -> str:
    path = f"/deployments/{args.deployment_id}/variables"
    return path if key is None else f"{path}/{urllib.parse.quote(key, safe='')}"


def cmd_list(client: Client, args: argparse.Namespace) -> int:
    for line in variables_table(client.request("GET", _path(args))):
        print(line)
    return 0


def cmd_create(client: Client, args: argparse.Namespace) -> int:
    pairs = parse_pairs(args.pairs)
    if not pairs and not args.load:
        raise CliError("Give KEY=VALUE pairs, or --load [--env FILE] to load a .env file.")
    if args.load:
        try:
            text = Path(args.env).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"Cannot read {args.env}: {exc}") from exc
        counts = client.json("POST", _path(args, "import"), {"text": text, "is_secret": args.secret})
        print(f"Loaded {args.env}: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged.")
    if pairs:
        existing = {v["key"] for v in client.request("GET", _path(args))}
        clash = [key for key, _ in pairs if key in existing]
        if clash:
            raise CliError(f"Already set: {', '.join(clash)}. Change them with `airdock deployment variable update`.")
        for key, value in pairs:
            variable = client.json("POST", _path(args), {"key": key, "value": value, "is_secret": args.secret})
            print(f"Created {variable['key']}{' (secret)' if variable['is_secret'] else ''}.")
    return 0


def cmd_update(client: Client, args: argparse.Namespace) -> int:
    for key, value in parse_pairs(args.pairs):
        payload = {"value": value, **({"is_secret": True} if args.secret else {})}  # without --secret: kind kept
        variable = client.json("PUT", _path(args, key), payload)
        print(f"Updated {variable['key']}{' (secret)' if variable['is_secret'] else ''}.")
    return 0


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    for key in args.keys:
        client.request("DELETE", _path(args, key))
        print(f"Deleted {key}.")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`airdock deployment variable ...` on the `deployment` subcommands."""
    variable = commands.add_parser("variable", help="Environment variables (like astro deployment variable).")
    actions = variable.add_subparsers(dest="variable_command", required=True)

    lst = actions.add_parser("list", help="List the variables (secret values show as ******).")
    create = actions.add_parser("create", help="Create variables from KEY=VALUE pairs, or --load a .env file.")
    create.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    create.add_argument("--load", action="store_true", help="Load the variables of a .env file (--env), all or nothing.")
    create.add_argument("--env", default=".env", help="The .env file --load reads (default: .env).")
    update = actions.add_parser("update", help="Change variables' values (a secret stays secret).")
    update.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    for p in (create, update):
        p.add_argument("--secret", action="store_true", help="Make them secret: write-only, never shown again.")
    delete = actions.add_parser("delete", help="Delete variables.")
    delete.add_argument("keys", nargs="+", metavar="KEY")
    for p, run in ((lst, cmd_list), (create, cmd_create), (update, cmd_update), (delete, cmd_delete)):
        p.add_argument("--deployment-id", type=int, required=True)
        p.set_defaults(run=run)
