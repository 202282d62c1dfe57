"""Refuse request bodies larger than any upload Airdock accepts, before anything reads them.

Under ASGI, Django reads (and spools) the whole body before any middleware runs, so the ASGI
wrapper answers from the Content-Length header alone; the Django middleware covers WSGI and tests.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat


def _too_large(length: int) -> str:
    limit = settings.AIRDOCK_UPLOAD_MAX_BYTES
    if length <= limit:
        return ""
    return (
        f"The upload is {filesizeformat(length)}, more than the {filesizeformat(limit)} this portal accepts "
        "(AIRDOCK_UPLOAD_MAX_BYTES). Leave large data out of the project (.dockerignore) and upload again."
    )


def _length(value: str | bytes | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class AsgiUploadLimit:
    """ASGI wrapper: answer 413 from the headers, without receiving the body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            message = _too_large(_length(headers.get(b"content-length")))
            if message:
                body = json.dumps({"detail": message}).encode()
                await send({"type": "http.response.start", "status": 413, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class UploadSizeLimitMiddleware:
    """Answer 413 to a body whose Content-Length exceeds AIRDOCK_UPLOAD_MAX_BYTES.

    It sits before the CSRF middleware, which would otherwise parse (and spool to disk) the whole
    multipart body just to read its token. Bodies without a length are still bounded later, by the
    archive limits.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        message = _too_large(_length(request.META.get("CONTENT_LENGTH")))
        if message:
            if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
