"""Push webhooks from git forges: a signed push to the deployment's branch deploys that commit."""
from __future__ import annotations

import hashlib
import hmac
import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Deployment
from .services import deploys
from .services.git import deploy_from_git


def _signature_ok(request: HttpRequest, secret: str) -> bool:
    """GitHub and Gitea sign the body with HMAC-SHA256; GitLab sends the shared secret itself."""
    body = request.body
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    github = request.headers.get("X-Hub-Signature-256", "")
    if github:
        return hmac.compare_digest(github, f"sha256={expected}")
    gitea = request.headers.get("X-Gitea-Signature", "")
    if gitea:
        return hmac.compare_digest(gitea, expected)
    gitlab = request.headers.get("X-Gitlab-Token", "")
    if gitlab:
        return hmac.compare_digest(gitlab, secret)
    return False


@csrf_exempt
@require_POST
def git_webhook(request: HttpRequest, pk: int) -> JsonResponse:
    deployment = Deployment.objects.filter(pk=pk).exclude(webhook_secret="").exclude(git_url="").first()
    if deployment is None:
        return JsonResponse({"detail": "No git webhook here."}, status=404)
    if not _signature_ok(request, deployment.webhook_secret):
        return JsonResponse({"detail": "Bad or missing signature."}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
    except json.JSONDecodeError:
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    event = request.headers.get("X-GitHub-Event") or request.headers.get("X-Gitea-Event") or request.headers.get("X-Gitlab-Event", "push")
    if event not in ("push", "Push Hook"):
        return JsonResponse({"detail": f"Ignored: {event} events do not deploy."}, status=202)
    ref = payload.get("ref", "")
    branch = deployment.git_branch or "main"
    commit = payload.get("checkout_sha") or payload.get("after") or ""
    if ref != f"refs/heads/{branch}":
        return JsonResponse({"detail": f"Ignored: {ref or 'no ref'} is not refs/heads/{branch}."}, status=202)
    if not commit or set(commit) == {"0"}:
        return JsonResponse({"detail": "Ignored: the branch was deleted."}, status=202)
    try:
        deploy = deploy_from_git(deployment=deployment, commit=commit, ip=request.META.get("REMOTE_ADDR"))
    except deploys.DeployConflict as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    except deploys.DeployError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse({"deploy_id": deploy.pk, "commit": deploy.git_commit, "url": request.build_absolute_uri(deploy.get_absolute_url())}, status=202)
