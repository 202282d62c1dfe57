#!/usr/bin/env bash
# Run the benchmarks (bench/) against the services `make services` started: `make bench` writes
# docs/benchmarks.md; `make bench-smoke` (CI) runs one repetition of the cheapest cases.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
exec "${VENV:-.venv}/bin/python" -m bench "$@"
