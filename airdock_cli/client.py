"""The portal's API as the `airdock` client calls it: bearer token, JSON in and out, errors as
`CliError` with the portal's message. Standard library only."""
from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid


class CliError(Exception):
    pass


class Client:
    def __init__(self, url: str, token: str) -> None:
        if not url or not token:
            raise CliError("Set AIRDOCK_URL (e.g. http://127.0.0.1:8000) and AIRDOCK_API_TOKEN (adk_…).")
        self.base = url.rstrip("/") + "/api/v1"
        self.token = token

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None) -> dict | list:
        req = urllib.request.Request(self.base + path, data=body, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json", **(headers or {}),
        })
        try:
            with urllib.request.urlopen(req, timeout=300) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise CliError(f"{exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise CliError(f"Cannot reach {self.base}: {exc.reason}") from exc

    def json(self, method: str, path: str, payload: dict) -> dict:
        return self.request(method, path, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})

    def multipart(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]], headers: dict) -> dict:
        boundary = uuid.uuid4().hex
        out = io.BytesIO()
        for name, value in fields.items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, data) in files.items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      "Content-Type: application/gzip\r\n\r\n".encode())
            out.write(data + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, body=out.getvalue(),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})
