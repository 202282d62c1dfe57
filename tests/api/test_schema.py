"""The OpenAPI schema names every field the CLI and the README rely on, and its documentation
page works without internet (Swagger UI from the project's own static files)."""
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

SCHEMA = "/api/v1/openapi.json"


@pytest.fixture
def schema(client):
    response = client.get(SCHEMA)
    assert response.status_code == 200
    return response.json()


def fields(schema, name):
    return set(schema["components"]["schemas"][name]["properties"])


def test_it_documents_the_deploy_and_deployment_fields(schema):
    assert {"id", "state", "kind", "url", "api_url", "steps", "image", "image_digest", "dag_bundle_version",
            "airflow_version", "parse_results", "test_results", "warnings", "error"} <= fields(schema, "DeployOut")
    assert {"id", "name", "status", "status_reason", "desired_image_digest", "desired_dag_bundle_version",
            "current_deploy_id", "git", "components", "worker_queues"} <= fields(schema, "DeploymentOut")
    assert {"name", "state", "replicas", "running_image_digest", "running_dag_bundle_version"} <= fields(schema, "ComponentOut")
    assert {"deploy_id", "state", "finished", "lines", "next_offset"} <= fields(schema, "DeployLogOut")
    assert "active_deploy_id" in fields(schema, "ConflictOut")


def test_every_response_of_every_operation_has_a_schema(schema):
    undocumented = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status == "204":
                    continue  # No Content: the one answer without a body
                content = response.get("content", {}).get("application/json", {})
                if not content.get("schema"):
                    undocumented.append(f"{method.upper()} {path} {status}")
    assert not undocumented, undocumented


def test_what_the_cli_reads_is_in_the_schema(schema):
    """The CLI reads these fields of API answers; each must be documented."""
    cli = "".join(Path(f"airdock_cli/{name}.py").read_text() for name in ("main", "client", "variables"))
    read = set(re.findall(r'\b(?:deploy|line|page|d|v|variable|counts)\[["\'](\w+)["\']\]', cli))
    read |= set(re.findall(r'\b(?:deploy|json\.loads\(exc\.read\(\)\))\.get\(["\'](\w+)["\']', cli))
    documented = set().union(*(set(s.get("properties", {})) for s in schema["components"]["schemas"].values()))
    assert read, "the CLI reads no fields? the pattern above is out of date"
    assert read <= documented, read - documented


def test_the_docs_page_loads_swagger_from_our_own_static_files(client):
    page = client.get("/api/v1/docs").content.decode()
    assert "cdn." not in page and "https://" not in page
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), page[:500]
    for asset in assets:
        assert finders.find(asset), f"{asset} is not in the static files"


def test_the_top_bar_and_the_tokens_page_link_to_the_docs(client, alice, org):
    client.force_login(alice)
    docs = reverse("api:openapi-view")
    assert f'href="{docs}"' in client.get(reverse("dashboard")).content.decode()
    assert 'id="api-docs"' in client.get(reverse("organization_tokens", args=[org.slug])).content.decode()
