"""The table of Astro Runtime versions, how a base image resolves, and the Dockerfile parser."""
import json

import pytest

from deployments.services.runtimes import table
from deployments.services.runtimes.dockerfile import dockerfile_rewrite
from deployments.services.runtimes.locks import requirements
from deployments.services.runtimes.resolve import resolve
from portal.errors import Invalid

LINES = {"9": "2.7", "10": "2.8", "11": "2.9", "12": "2.10", "13": "2.11", "3.0": "3.0", "3.1": "3.1"}


def test_the_table_covers_runtime_9_to_13_and_3_0_and_3_1_each_row_with_its_source():
    lines = table.lines()
    for line, airflow in LINES.items():
        assert line in lines, f"no Runtime {line}.x in the table"
        assert all(v.airflow.startswith(airflow + ".") for v in lines[line]), line
    for version in table.versions():
        assert version.source and version.released and version.python.startswith("3.")
        assert version.providers, f"{version.runtime} lists no providers"
    data = json.loads(table.table_path().read_text())
    assert all("providers_source" in row for row in data["releases"])


def test_a_runtime_version_resolves_to_its_own_local_image():
    twelve = resolve("quay.io/astronomer/astro-runtime:12.12.0")
    assert (twelve.image, twelve.version.airflow, twelve.base, twelve.warning) == ("airdock/runtime:12.12.0", "2.10.5", False, "")
    three = resolve("astrocrpublic.azurecr.io/runtime:3.0-18-python-3.12-base")
    assert (three.image, three.version.airflow, three.base, three.python) == ("airdock/runtime:3.0-18-base", "3.0.6", True, "3.12")
    assert resolve("quay.io/astronomer/runtime:3.1-21").version.runtime == "3.1-21"
    other = resolve("python:3.11-slim")
    assert other.image == "python:3.11-slim" and not other.is_runtime


@pytest.mark.parametrize("requested, nearest", [
    ("quay.io/astronomer/astro-runtime:12.99.0", "12.12.0"),  # newer than the table
    ("quay.io/astronomer/astro-runtime:11.7.0", "11.5.0"),  # between known rows: the newest before it
    ("astrocrpublic.azurecr.io/runtime:3.0-2", "3.0-17"),  # older than the table: the oldest of its line
    ("astrocrpublic.azurecr.io/runtime:3.1-99", "3.1-21"),
])
def test_an_unknown_version_maps_to_the_nearest_of_its_line_with_a_warning(requested, nearest):
    resolution = resolve(requested)
    assert resolution.version.runtime == nearest
    assert "not in Airdock's table" in resolution.warning and nearest in resolution.warning


def test_an_unknown_line_is_refused_naming_the_supported_ones():
    with pytest.raises(Invalid) as caught:
        resolve("quay.io/astronomer/astro-runtime:8.8.0")
    assert "Supported lines: 9 (9.0.0" in caught.value.message and "3.1 (" in caught.value.message


def test_the_lock_pins_airflow_and_the_documented_providers():
    runtime = table.get("11.5.0")
    lines = requirements(runtime)
    assert lines[0] == "apache-airflow[celery,postgres]==2.9.2"
    assert f"apache-airflow-providers-http=={runtime.providers['apache-airflow-providers-http']}" in lines
    assert not any(line.startswith("astronomer-providers-logging") for line in lines)  # not on the public index


def test_the_parser_reads_arg_defaults_continuations_and_stages():
    text = (
        "# syntax=quay.io/astronomer/airflow-extensions:v1\n"
        "ARG RUNTIME_VERSION=12.12.0\n"
        "FROM --platform=linux/amd64 quay.io/astronomer/astro-runtime:${RUNTIME_VERSION} AS builder\n"
        "RUN echo a \\\n  && echo b\n"
        "FROM builder\n"
        "COPY --from=builder /a /b\n"
        "COPY --from=astrocrpublic.azurecr.io/runtime:3.1-21 /c /d\n"
    )
    done = dockerfile_rewrite(text)
    assert done.text.splitlines() == [
        "ARG RUNTIME_VERSION=12.12.0",
        "FROM --platform=linux/amd64 airdock/runtime:12.12.0 AS builder",
        "RUN echo a \\", "  && echo b",
        "FROM builder",
        "COPY --from=builder /a /b",
        "COPY --from=airdock/runtime:3.1-21 /c /d",
    ]
    assert [r.requested for r in done.resolutions] == [
        "quay.io/astronomer/astro-runtime:12.12.0", "astrocrpublic.azurecr.io/runtime:3.1-21",
    ]
    assert done.last_from is None  # the last stage builds on a stage, not an image
    assert any("syntax" in note for note in done.notes)


def test_the_parser_refuses_another_platform_clearly():
    with pytest.raises(Invalid, match="--platform=linux/arm64; this engine builds linux/amd64 only"):
        dockerfile_rewrite("FROM --platform=linux/arm64 quay.io/astronomer/astro-runtime:12.12.0\n")


def test_pyenv_becomes_plain_instructions():
    done = dockerfile_rewrite("FROM quay.io/astronomer/astro-runtime:12.12.0\nPYENV 3.8 snowpark snowpark-requirements.txt\n")
    lines = done.text.splitlines()
    assert not any(line.startswith("PYENV") for line in lines)
    assert "COPY --chown=astro:0 snowpark-requirements.txt /home/astro/.venv/snowpark/requirements.txt" in lines
    assert "ENV ASTRO_PYENV_snowpark=/home/astro/.venv/snowpark/bin/python" in lines
    assert any(line.startswith("RUN uv venv") and "-r /home/astro/.venv/snowpark/requirements.txt" in line for line in lines)
    assert done.warnings == ["PYENV snowpark asks for Python 3.8; this engine has Python 3.11, which the virtualenv uses."]
    with pytest.raises(Invalid, match="PYENV takes"):
        dockerfile_rewrite("FROM quay.io/astronomer/astro-runtime:12.12.0\nPYENV 3.11\n")


@pytest.mark.parametrize("version, known", [("3.0.6", True), ("3.1.8", True), ("3.2.1", True), ("3.2.2", False),
                                            ("3.3.2", False), ("2.10.5", False), ("", False), ("3.1.0rc1", True),
                                            ("3.1.8+local", True), ("3", False)])
def test_airflow_versions_with_a_known_issue_are_named_with_the_fix(version, known):
    from deployments.services.runtimes import airflow_known_issue

    issue = airflow_known_issue(version)
    assert bool(issue) is known
    if known:
        assert issue.startswith(f"Airflow {version} may run a task twice") and "apache/airflow#55004" in issue and "3.2-10" in issue
