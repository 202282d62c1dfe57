"""The house rules of docs/architecture.md, checked on the code itself: module size, no import
cycles, and imports only in the allowed directions (lazy imports inside functions count too)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("portal", "tenancy", "deployments", "airdock_cli", "runtime", "bench")
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file, each as precisely as it resolves."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "tenancy" and len(parts) > 1:
        return f"tenancy.{parts[1]}"
    if parts[0] == "deployments" and len(parts) > 1:
        return parts[1]
    return parts[0]


# (importer's layer, imported layer): forbidden, with the reason a reviewer would give.
FORBIDDEN = {
    ("models", "services"): "models hold data and invariants; they do not call services",
    ("models", "selectors"): "models do not read through selectors",
    ("integrations", "models"): "integrations talk to outside systems: keys and bytes in, no models",
    ("integrations", "services"): "integrations are called by services, not the reverse",
    ("selectors", "services"): "reads never write",
    ("services", "views"): "services do not know about pages",
    ("services", "api"): "services do not know about the API",
    ("services", "jobs"): "services enqueue jobs by dotted path; jobs import services",
    ("services", "webhooks"): "services do not know about webhooks",
    ("services", "consumers"): "services publish through events, not consumers",
}


def test_no_module_in_the_apps_is_longer_than_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (limit {MAX_LINES} lines): {long}"


def test_no_module_imports_itself_back_through_another():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def forbidden(module: str, target: str) -> str | None:
    """Why `module` may not import `target`, or None."""
    if module.startswith("tenancy") and target.startswith(("deployments", "runtime")):
        return "tenancy depends on no other app"
    if module.startswith("deployments") and target.startswith("runtime"):
        return "the data plane depends on deployments, never the reverse (enqueue by dotted path)"
    if module == "runtime.swarm" and target.startswith(("runtime.models", "deployments.models")):
        return "swarm talks to the engine: plain data in and out, no models"
    if module.startswith(("tenancy", "deployments", "runtime")) and target == "portal.urls":
        return "apps do not import the URL conf"
    if target.startswith("bench") and not module.startswith("bench"):
        return "the benchmarks drive the portal from outside; nothing of the portal imports them"
    return FORBIDDEN.get((layer(module), layer(target)))


def test_imports_go_only_in_the_allowed_directions():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            reason = forbidden(module, target)
            if reason:
                wrong.append(f"{module} imports {target}: {reason}")
    assert not wrong, "\n".join(wrong)


def test_jobs_only_call_services():
    targets = graph()["deployments.jobs"]
    assert targets and all(layer(t) == "services" for t in targets), targets


@pytest.mark.parametrize("module, target", [
    ("deployments.services.deploys.create", "deployments.views.deploys"),
    ("deployments.integrations.engine", "deployments.models"),
    ("tenancy.services", "deployments.models"),
    ("deployments.services.deploys.states", "runtime.reconcile"),
    ("runtime.swarm", "deployments.models"),
])
def test_the_checker_itself_catches_a_forbidden_import(module, target):
    """The rules above would fail on a forbidden import (the checker is not vacuous)."""
    assert forbidden(module, target)


def test_the_walker_sees_lazy_imports_inside_functions(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from deployments import jobs\n")
    assert imports("deployments.services.x", path, {"deployments.jobs", "deployments"}) == {"deployments.jobs"}
