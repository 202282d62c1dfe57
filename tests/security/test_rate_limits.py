"""Rate limits, counted in Redis: sign-in failures lock a user name out for an address; bad API
tokens from one address and deploy requests from one token are refused past their limits."""
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse

from deployments.services import tokens
from tenancy.models import WorkspaceMembership

pytestmark = [pytest.mark.services]


@pytest.fixture(autouse=True)
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": django_settings.REDIS_URL}}
    cache.clear()
    yield
    cache.clear()


def test_sign_in_is_locked_after_repeated_failures(client, alice):
    alice.set_password("the-right-password-1")
    alice.save()
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("login"), {"username": alice.username, "password": "wrong"})
        assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated
    assert client.post(reverse("login"), {"username": alice.username, "password": "wrong"}).status_code == 429
    locked = client.post(reverse("login"), {"username": alice.username, "password": "the-right-password-1"})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()


def test_bad_api_tokens_from_one_address_are_refused_past_the_limit(client, org, workspace, settings):
    settings.AIRDOCK_API_AUTH_FAILURES_PER_MINUTE = 3
    good = tokens.token_create(organization=org, role=WorkspaceMembership.Role.OWNER, name="ci")[1]
    codes = [client.get("/api/v1/workspaces", HTTP_AUTHORIZATION=f"Bearer adk_wrong{n}").status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]
    refused = client.get("/api/v1/workspaces", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert refused.status_code == 429 and "bad API tokens" in refused.json()["detail"]


def test_deploy_requests_from_one_token_are_refused_past_the_limit(client, org, workspace, deployment, settings):
    settings.AIRDOCK_API_DEPLOYS_PER_MINUTE = 2
    raw = tokens.token_create(organization=org, role=WorkspaceMembership.Role.AUTHOR, name="ci")[1]
    codes = [client.post(f"/api/v1/deployments/{deployment.pk}/deploys", {"kind": "image_and_dags"},
                         HTTP_AUTHORIZATION=f"Bearer {raw}").status_code for _ in range(3)]
    assert codes[:2] == [400, 400] and codes[2] == 429  # (no archive: refused, but counted)
