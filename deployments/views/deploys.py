"""A deploy's pages and buttons: deploy (upload or folder), show with its live log, build again,
cancel, roll back to it."""
from __future__ import annotations

import json
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.errors import Invalid
from portal.web import errors_as_messages, form_submit

from .. import selectors
from ..forms import DeployForm
from ..models import Deploy
from ..services import archives
from ..services import deploys as deploy_services
from .deployments import deployment_context, visible_deployment

LOG_PAGE = 1000  # log lines the deploy page shows at once


def _uploaded_archive(request: HttpRequest):
    """The uploaded archive, or the files of a folder picked in the browser packed as one."""
    if request.FILES.get("archive"):
        return request.FILES["archive"]
    files = request.FILES.getlist("folder")
    if not files:
        return None
    try:
        paths = json.loads(request.POST.get("folder_paths", "[]"))
    except json.JSONDecodeError:
        paths = None
    if not isinstance(paths, list) or len(paths) != len(files) or not all(isinstance(p, str) for p in paths):
        raise Invalid("The folder upload lost its file paths; pick the folder again or upload an archive.")
    packed = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    archives.archive_from_files([(p, f, f.size) for p, f in zip(paths, files)], packed)
    return packed


@login_required
@require_http_methods(["POST"])
def deploy_create(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = visible_deployment(request, pk)
    if not selectors.can_deploy(request.user, deployment.workspace):
        raise PermissionDenied("Members may look, not deploy: ask a workspace owner for the author role.")
    form = DeployForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        deploy, status = form_submit(form, lambda: deploy_services.deploy_create(
            deployment=deployment, user=request.user, kind=data["kind"], archive=_uploaded_archive(request),
            image_name=data["image_name"], description=data["description"], force=data["force"],
            run_pytest=data["run_pytest"] or bool(data["test_path"]), test_path=data["test_path"],
        ))
        if deploy is not None:
            messages.success(request, f"Deploy {deploy.pk} queued.")
            return redirect(deploy)
    return render(request, "deployments/deployment_detail.html", deployment_context(request, deployment, form), status=status)


def _visible_deploy(request: HttpRequest, pk: int) -> Deploy:
    return selectors.get_or_404(
        selectors.deploys_for_user(request.user).select_related(
            "deployment__workspace__organization", "created_by", "created_by_token", "source_deploy"
        ),
        pk=pk,
    )


def _deploy_context(request: HttpRequest, deploy: Deploy) -> dict:
    steps = selectors.deploy_steps(deploy)
    done = sum(1 for s in steps if s.state not in ("PENDING", "RUNNING"))
    files = (deploy.parse_results or {}).get("files") or []
    slowest = max([f.get("seconds") or 0 for f in files] + [0.001])
    return {
        "deploy": deploy,
        "steps": steps,
        "progress": round(100 * done / len(steps)) if steps else 0,
        "parse_chart": [(f["file"], f.get("seconds") or 0, round(100 * (f.get("seconds") or 0) / slowest)) for f in files],
        "can_deploy": selectors.can_deploy(request.user, deploy.deployment.workspace),
    }


@login_required
def deploy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The deploy, and a page of its log: the newest LOG_PAGE lines, followed live, or with ?from=N
    the LOG_PAGE lines from line N on (earlier and later pages are linked)."""
    deploy = _visible_deploy(request, pk)
    last = selectors.deploy_log_last_seq(deploy)
    try:
        start = max(1, int(request.GET["from"])) if "from" in request.GET else None
    except ValueError:
        start = None
    if start is not None and start + LOG_PAGE > last:
        start = None  # that page reaches the end: the live page
    first = start or max(1, last - LOG_PAGE + 1)
    lines = selectors.deploy_log_after(deploy, first - 1, LOG_PAGE)
    return render(request, "deployments/deploy_detail.html", {
        **_deploy_context(request, deploy), "log_lines": lines, "log_live": start is None,
        "last_seq": lines[-1]["seq"] if lines else 0, "log_total": last,
        "log_first": lines[0]["seq"] if lines else 0,
        "log_earlier": max(1, first - LOG_PAGE) if first > 1 else None,
        "log_later": first + LOG_PAGE if start is not None else None,
    })


@login_required
def deploy_log_text(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The whole log as plain text, a page at a time."""
    deploy = _visible_deploy(request, pk)

    def pages():
        after = 0
        while lines := selectors.deploy_log_after(deploy, after):
            yield "".join(line["text"] + "\n" for line in lines)
            after = lines[-1]["seq"]

    answer = StreamingHttpResponse(pages(), content_type="text/plain; charset=utf-8")
    answer["Content-Disposition"] = f'inline; filename="deploy-{deploy.pk}.log"'
    return answer


@login_required
def deploy_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the deploy page (state, steps, checks), swapped in place by the page."""
    return render(request, "deployments/_deploy_panel.html", _deploy_context(request, _visible_deploy(request, pk)))


@login_required
def deploy_log_json(request: HttpRequest, pk: int) -> JsonResponse:
    """Log lines after `after` (a sequence number): the page's fallback while its socket is down."""
    deploy = _visible_deploy(request, pk)
    try:
        after = int(request.GET.get("after", 0))
    except ValueError:
        after = 0
    return JsonResponse({"state": deploy.state, "lines": selectors.deploy_log_after(deploy, after)})


def _deploy_to_act_on(request: HttpRequest, pk: int) -> Deploy:
    """A deploy of the user's, which the user may deploy or cancel (404 if foreign, 403 if read-only)."""
    deploy = selectors.get_or_404(selectors.deploys_for_user(request.user).select_related("deployment__workspace__organization"), pk=pk)
    if not selectors.can_deploy(request.user, deploy.deployment.workspace):
        raise PermissionDenied("Members may look, not deploy or cancel.")
    return deploy


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deploy_detail")
def deploy_redeploy(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    new = deploy_services.deploy_redeploy(deploy=deploy, user=request.user)
    messages.success(request, f"Deploy {new.pk} queued: building deploy {deploy.pk}'s project again.")
    return redirect(new)


@login_required
@require_http_methods(["POST"])
def deploy_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    if deploy_services.deploy_cancel(deploy=deploy, user=request.user):
        messages.success(request, f"Deploy {deploy.pk} cancelled; the deployment keeps what it ran.")
    else:
        messages.error(request, f"Deploy {deploy.pk} had already ended.")
    return redirect(deploy)


@login_required
@require_http_methods(["POST"])
@errors_as_messages("deploy_detail")
def deploy_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    deploy = _deploy_to_act_on(request, pk)
    new = deploy_services.deployment_rollback(
        deployment=deploy.deployment, deploy_id=deploy.pk, user=request.user, ip=request.META.get("REMOTE_ADDR")
    )
    messages.success(request, f"Deploy {new.pk} queued: rolling back to deploy {deploy.pk}.")
    return redirect(new)
