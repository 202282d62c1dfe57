"""An outsider (charlie, a member of another organization) gets 404 on every route that names one
of alice's objects, pages and API alike, whatever the method, exactly as for an object that does
not exist: the routes come from the URL conf, so a new route is covered the day it is added."""
import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tenancy.models import Workspace
from tests import factories
from tests.api.conftest import Role, auth, make_token

METHODS = ("get", "post", "put", "patch", "delete")
# Routes that are public by design, each with its own check: signing in, the API's own index and
# schema, signed git webhooks, and the agents' endpoints (a deployment's own token).
PUBLIC = re.compile(r"^(login/|logout/|api/v1/(openapi\.json|docs)?$|hooks/git/|runtime/agent/)")


def routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def with_objects(route: str, objects: dict) -> str | None:
    """The route with alice's objects in it, or None when it names none of them."""
    def value(match: re.Match) -> str:
        name = match.group("name")
        if name == "pk":  # the page's kind of object is the path segment before it
            name = {"workspaces": "workspace_id", "deployments": "deployment_id", "deploys": "deploy_id"}[
                route[:match.start()].rstrip("/").rsplit("/", 1)[-1]]
        return str(objects[name])
    filled, count = re.subn(r"<(?:\w+:)?(?P<name>\w+)>", value, route)
    return "/" + filled if count else None


@pytest.fixture
def objects(org, workspace, deployment, charlie):
    deploy = factories.DeployFactory(deployment=deployment)
    deployment.environment_variables.create(key="REGION", value="eu")
    channel = deployment.notification_channels.create(name="alerts", url="https://hooks.example.com/x")
    return {"workspace_id": workspace.pk, "deployment_id": deployment.pk, "deploy_id": deploy.pk, "slug": org.slug,
            "key": "REGION", "channel_id": channel.pk, "path": "dags"}


@pytest.fixture
def foreign_token(charlie):
    other = Workspace.objects.get(name="Elsewhere")
    return make_token(other.organization, Role.OWNER)


# A body each write route accepts, so that the answer is the object's lookup, not the body's check.
BODIES = {"rollback": {"deploy_id": 1}, "deployments": {"name": "x"}, "variables": {"key": "X", "value": "1"},
          "import": {"text": "A=1"}, "config": {"deployment": {}},
          "notifications": {"name": "x", "url": "https://hooks.example.com/y"}}


def outsider_answers(client: Client, url: str, **headers) -> dict[str, int]:
    body = json.dumps(BODIES.get(url.rstrip("/").rsplit("/", 1)[-1], {}))
    return {method: getattr(client, method)(url, **({"data": body, "content_type": "application/json"} if method != "get" else {}),
                                            **headers).status_code for method in METHODS}


def test_every_route_naming_alices_objects_is_404_to_an_outsider(objects, charlie, foreign_token):
    browser = Client()
    browser.force_login(charlie)
    checked = []
    for route in routes():
        if route.startswith("admin/") or PUBLIC.match(route):
            continue
        url = with_objects(route, objects)
        if url is None:
            continue
        missing = with_objects(route, dict.fromkeys(objects, 999999) | {"slug": "nobody", "key": "NONE", "path": "dags"})
        ask = (lambda u: outsider_answers(Client(), u, **auth(foreign_token))) if route.startswith("api/") else \
            (lambda u: outsider_answers(browser, u))
        answers = ask(url)
        # As for an object that does not exist: 404 (or the method or body refused before any lookup).
        assert 404 in answers.values() and not any(code < 400 or code == 403 for code in answers.values()), (url, answers)
        assert answers == ask(missing), (url, answers)
        checked.append(route)
    # The routes of this wave are among them (a route left out of the walk would be missed silently).
    for new in ("api/v1/deployments/<deployment_id>/hibernate", "api/v1/deployments/<deployment_id>/config",
                "api/v1/deployments/<deployment_id>/rollouts", "deployments/<int:pk>/wake-up/",
                "api/v1/deployments/<deployment_id>/logs", "deployments/<int:pk>/logs/",
                "api/v1/deployments/<deployment_id>/notifications/<channel_id>/test", "deployments/<int:pk>/notifications/",
                "deployments/<int:pk>/airflow/<path:path>"):
        assert new in checked
    assert len(checked) > 40


def test_listings_show_an_outsider_nothing_of_alices(objects, charlie, foreign_token):
    for path in ("/api/v1/deployments", "/api/v1/workspaces"):
        answer = Client().get(path, **auth(foreign_token))
        assert answer.status_code == 200 and all(item.get("name") not in ("etl", "Analytics") for item in answer.json())
