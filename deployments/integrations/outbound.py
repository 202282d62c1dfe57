"""Outbound HTTP for notifications: POST a body to a user's URL, with a short timeout and no
redirects. Addresses of this machine itself and link-local ones (cloud metadata) are refused unless
AIRDOCK_NOTIFY_ALLOW_LOOPBACK is set (local receivers in development and tests)."""
from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from portal.errors import AirdockError


class OutboundError(AirdockError):
    status = 502


def check_url(url: str) -> None:
    """Refuse what is not an http(s) URL to a host Airdock may send to, with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("Give an http:// or https:// URL with a host, e.g. https://hooks.slack.com/services/….")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"The host {parts.hostname} does not resolve: {exc}.") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified or (ip.is_loopback and not settings.AIRDOCK_NOTIFY_ALLOW_LOOPBACK):
            raise OutboundError(f"{parts.hostname} is {ip}, an address of this machine or a link-local one: notifications "
                                "are not sent there.")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> str:
    """POST `body`; return "<status> <reason>" for a 2xx answer, raise OutboundError otherwise."""
    check_url(url)
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, data=body, method="POST", headers={"User-Agent": "Airdock", **headers})
    try:
        with opener.open(request, timeout=timeout) as answer:
            return f"{answer.status} {answer.reason}"
    except urllib.error.HTTPError as exc:
        raise OutboundError(f"{exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise OutboundError(f"no answer: {getattr(exc, 'reason', exc)}") from exc
