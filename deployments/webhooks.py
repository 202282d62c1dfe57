"""Push webhooks from git forges: a signed push to the deployment's branch deploys that commit."""
from __future__ import annotations

import hashlib
import hmac
import json
import re

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.errors import AirdockError

from . import selectors
from .services.git import deploy_from_git

COMMIT_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object ids


def _signature_ok(request: HttpRequest, secret: str) -> bool:
    """GitHub and Gitea sign the body with HMAC-SHA256; GitLab sends the shared secret itself."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    github = request.headers.get("X-Hub-Signature-256", "")
    if github:
        return hmac.compare_digest(github.encode(), f"sha256={expected}".encode())
    gitea = request.headers.get("X-Gitea-Signature", "")
    if gitea:
        return hmac.compare_digest(gitea.encode(), expected.encode())
    gitlab = request.headers.get("X-Gitlab-Token", "")
    if gitlab:
        return hmac.compare_digest(gitlab.encode(), secret.encode())
    return False


def _delivery_id(request: HttpRequest) -> str:
    """The forge's id of this delivery: a replayed request carries the same one."""
    for header in ("X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"):
        value = request.headers.get(header, "").strip()
        if value:
            return value[:100]
    return ""


@csrf_exempt
@require_POST
def git_webhook(request: HttpRequest, pk: int) -> JsonResponse:
    deployment = selectors.webhook_deployment(pk)
    # One answer whether or not the deployment has a webhook: the URL does not tell which do.
    if deployment is None or not _signature_ok(request, deployment.webhook_secret):
        return JsonResponse({"detail": "Bad or missing signature (or no git webhook at this URL)."}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "The body is not a push event (a JSON object)."}, status=400)
    event = request.headers.get("X-GitHub-Event") or request.headers.get("X-Gitea-Event") or request.headers.get("X-Gitlab-Event", "push")
    if event not in ("push", "Push Hook"):
        return JsonResponse({"detail": f"Ignored: {event} events do not deploy."}, status=202)
    ref = str(payload.get("ref") or "")
    branch = deployment.git_branch or "main"
    commit = str(payload.get("checkout_sha") or payload.get("after") or "")
    if ref != f"refs/heads/{branch}":
        return JsonResponse({"detail": f"Ignored: {ref[:200] or 'no ref'} is not refs/heads/{branch}."}, status=202)
    if not commit or set(commit) == {"0"}:
        return JsonResponse({"detail": "Ignored: the branch was deleted."}, status=202)
    if not COMMIT_RE.fullmatch(commit):
        return JsonResponse({"detail": "The pushed commit is not a full hexadecimal commit id."}, status=400)
    delivery = _delivery_id(request)
    try:
        # A delivery id is an idempotency key: a replayed (or retried) delivery gets its first deploy back.
        deploy = deploy_from_git(
            deployment=deployment, commit=commit, ip=request.META.get("REMOTE_ADDR"),
            idempotency_key=f"webhook:{delivery}" if delivery else "",
        )
    except AirdockError as exc:
        return JsonResponse(exc.payload(), status=exc.status)
    return JsonResponse({"deploy_id": deploy.pk, "commit": deploy.git_commit, "url": request.build_absolute_uri(deploy.get_absolute_url())}, status=202)
