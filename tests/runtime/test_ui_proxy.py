"""The Airflow UI proxy against a stand-in for the API server (a local HTTP server): a member's
request is passed on under the deployment's prefix without the portal's cookies, Airflow's own
cookies come back, a write from another site is refused, a hibernating deployment says so."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime import spec, swarm

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def upstream(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Set-Cookie", "_token=abc; Path=/deployments/1/airflow; HttpOnly")
            self.end_headers()
            self.wfile.write(b"<title>Airflow</title>")

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(swarm, "gateway_address_of", lambda name: "127.0.0.1")
    monkeypatch.setattr(spec, "API_PORT", server.server_address[1])
    yield seen
    server.shutdown()


def test_a_member_reaches_airflow_under_the_prefix_without_the_portals_cookies(client, bob, deployment, upstream):
    deployment.desired_image_digest, deployment.desired_airflow_version = DIGEST, "3.1.1"
    deployment.save()
    client.force_login(bob)
    client.cookies["_token"] = "from-airflow"
    answer = client.get(f"/deployments/{deployment.pk}/airflow/dags?limit=5")
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == b"<title>Airflow</title>"
    assert answer.cookies["_token"].value == "abc" and answer.cookies["_token"]["path"] == "/deployments/1/airflow"
    [request] = upstream
    assert request["path"] == f"/deployments/{deployment.pk}/airflow/dags?limit=5"
    assert request["headers"]["Cookie"] == "_token=from-airflow"  # the portal's session stays in the portal
    assert request["headers"]["X-Forwarded-Host"] == "testserver"

    posted = client.post(f"/deployments/{deployment.pk}/airflow/api/v2/dags/x/dagRuns", "{}", content_type="application/json",
                         HTTP_ORIGIN="http://testserver")
    assert posted.status_code == 200 and upstream[-1]["method"] == "POST"
    forged = client.post(f"/deployments/{deployment.pk}/airflow/api/v2/dags/x/dagRuns", "{}", content_type="application/json",
                         HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403 and len(upstream) == 2


def test_without_a_running_api_server_or_while_hibernating_it_says_so(client, bob, deployment, monkeypatch):
    deployment.desired_image_digest = DIGEST
    deployment.save()
    client.force_login(bob)
    monkeypatch.setattr(swarm, "gateway_address_of", lambda name: "")
    assert b"not running yet" in client.get(f"/deployments/{deployment.pk}/airflow/").content
    deployment.hibernating = True
    deployment.save()
    answer = client.get(f"/deployments/{deployment.pk}/airflow/")
    assert answer.status_code == 503 and b"hibernating" in answer.content


def test_a_signed_out_browser_goes_to_the_sign_in_page(client, deployment):
    answer = client.get(f"/deployments/{deployment.pk}/airflow/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
