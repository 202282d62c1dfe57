"""The Airflow UI of a deployment over the portal's own address, behind the portal's sign-in:
`/deployments/<id>/airflow/...` is passed to the deployment's API server (Airflow 3) or webserver
(Airflow 2), which serves under that prefix ([api] / [webserver] base_url). Only users who may see
the deployment get through; Airflow itself trusts whoever reaches it there (its only other door is
the deployment's own network).

The portal reaches the API server at its container's address on this machine's docker_gwbridge
(the component runs on a manager, beside the portal; nothing of it is published). The portal's own
cookies are not passed on, and a write must come from a page of the portal (its Origin)."""
from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from deployments import selectors
from tenancy.selectors import get_or_404

from . import spec as specs
from . import swarm

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
PORTAL_COOKIES = ("sessionid", "csrftoken")


def _cookies(header: str) -> str:
    """The request's cookies without the portal's own (its session must never reach Airflow)."""
    ours = {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, *PORTAL_COOKIES}
    kept = [part.strip() for part in header.split(";") if part.strip() and part.strip().split("=", 1)[0] not in ours]
    return "; ".join(kept)


def _same_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return not origin or urlsplit(origin).netloc == request.get_host()


def _unavailable(text: str) -> HttpResponse:
    return HttpResponse(f"<!doctype html><title>Airflow UI</title><p>{text}</p>", status=503)


@csrf_exempt  # Airflow's own UI posts here; the Origin check below stands in for Django's token
@login_required
def airflow_ui(request: HttpRequest, pk: int, path: str = "") -> HttpResponse:
    deployment = get_or_404(selectors.deployments_for_user(request.user), pk=pk)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
        return HttpResponse("A change to Airflow must come from the portal's own pages.", status=403)
    if deployment.hibernating:
        return _unavailable(f"{deployment.name} is hibernating: wake it up to use its Airflow UI.")
    server = "api-server" if (deployment.airflow_major or 3) >= 3 else "webserver"
    address = swarm.gateway_address_of(f"{specs.prefix(deployment.pk)}-{server}")
    if not address:
        return _unavailable(f"The {server} of {deployment.name} is not running yet: try again in a moment.")
    query = request.META.get("QUERY_STRING", "")
    url = f"http://{address}:{specs.API_PORT}{specs.ui_prefix(deployment.pk)}/{path}" + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "cookie"}
    headers.update({"Cookie": _cookies(request.headers.get("Cookie", "")), "X-Forwarded-Host": request.get_host(),
                    "X-Forwarded-Proto": request.scheme, "X-Forwarded-For": request.META.get("REMOTE_ADDR", "")})
    try:
        answer = requests.request(request.method, url, headers=headers, data=request.body or None, stream=True,
                                  allow_redirects=False, timeout=(5, 300))
    except requests.RequestException as exc:
        return _unavailable(f"The {server} of {deployment.name} does not answer: {exc.__class__.__name__}.")
    response = StreamingHttpResponse(answer.raw.stream(65536, decode_content=False), status=answer.status_code)
    for key, value in answer.raw.headers.items():
        if key.lower() not in HOP_BY_HOP and key.lower() != "set-cookie":
            response[key] = value
    _pass_cookies(response, answer.raw.headers.getlist("Set-Cookie"))
    return response


def _pass_cookies(response: StreamingHttpResponse, cookies: list[str]) -> None:
    """Airflow's own cookies (its session or token, scoped to its prefix), each kept whole."""
    for raw in cookies:
        parsed = SimpleCookie()
        parsed.load(raw)
        for name, morsel in parsed.items():
            response.cookies[name] = morsel.value
            for attribute in ("path", "expires", "max-age", "secure", "httponly", "samesite"):
                if morsel[attribute]:
                    response.cookies[name][attribute] = morsel[attribute]
