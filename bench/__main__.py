"""`make bench`: how fast a change reaches running Airflow, and how little Airdock adds to the tools
it drives. Each case prints a table; all of them are written to docs/benchmarks.md with the
machine, the date and the commit. `--smoke` (`make bench-smoke`, in CI) runs one repetition of the
cheapest cases, so the harness keeps working; `--only NAME` runs some cases."""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

from . import world as worlds

CASES = ["pages", "live_logs", "throughput", "dag_deploy", "image_deploy", "footprint", "builds"]
SMOKE = ["pages", "live_logs", "throughput"]


def machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=worlds.ROOT, check=False).stdout.strip()
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=False).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {int(memory) / 2**20:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Docker {docker}, Python {platform.python_version()}; commit {commit or 'unknown'}, "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="One repetition of the cheapest cases (CI).")
    parser.add_argument("--only", nargs="*", choices=CASES, help="Run only these cases.")
    parser.add_argument("--out", default=str(worlds.ROOT / "docs" / "benchmarks.md"), help="Where to write the tables ('' : nowhere).")
    args = parser.parse_args()
    env = worlds.configure()
    import django

    django.setup()
    import logging

    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per sign-in of the bench's clients: noise here
    portal = worlds.Portal(env)
    started = time.monotonic()
    tables, failed, took_by_case = [], [], []
    try:
        portal.start()
        world = worlds.World(portal)
        import importlib

        for name in args.only or (SMOKE if args.smoke else CASES):
            case = importlib.import_module(f"bench.cases.{name}")
            print(f"bench: {name} …", flush=True)
            began = time.monotonic()
            try:
                table = case.run(world, smoke=args.smoke)
            except Exception:  # noqa: BLE001 - one case's failure is reported; the others still run
                failed.append(name)
                traceback.print_exc()
                continue
            finally:
                took_by_case.append(f"{name} {time.monotonic() - began:.0f} s")
            print(table.markdown(), flush=True)
            tables.append(table)
    finally:
        portal.stop()
        try:
            worlds.remove_swarm_objects()
        except Exception:  # noqa: BLE001 - measured already; the next run cleans up
            traceback.print_exc()
    took = time.monotonic() - started
    from .harness import verdict

    header = (f"# Benchmarks\n\nWritten by `make bench{'-smoke' if args.smoke else ''}` in {took / 60:.1f} minutes "
              f"(target: under 15 minutes, {verdict(took / 60, 15, ' min')}) on "
              f"{machine()}.\nMedians over the runs after a warm-up, the spread (min–max) in brackets; every Airdock "
              "figure beside its raw floor measured in the same run, as a ratio. Time per case: "
              + ", ".join(took_by_case) + " (a case that needs running Airflow brings it up first).\n\n")
    if args.out and not args.smoke:
        with open(args.out, "w") as out:
            out.write(header + "\n".join(t.markdown() for t in tables))
        print(f"bench: wrote {args.out}")
    print(f"bench: {len(tables)} case(s) in {took:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
