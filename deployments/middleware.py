"""Refuse request bodies larger than any upload Airdock accepts, before anything reads them."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat


class UploadSizeLimitMiddleware:
    """Answer 413 to a body whose Content-Length exceeds AIRDOCK_UPLOAD_MAX_BYTES.

    It sits before the CSRF middleware, which would otherwise parse (and spool to disk) the whole
    multipart body just to read its token. Bodies without a length are still bounded later, by the
    archive limits.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.AIRDOCK_UPLOAD_MAX_BYTES
        if length > limit:
            message = (
                f"The upload is {filesizeformat(length)}, more than the {filesizeformat(limit)} this portal accepts "
                "(AIRDOCK_UPLOAD_MAX_BYTES). Leave large data out of the project (.dockerignore) and upload again."
            )
            if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
