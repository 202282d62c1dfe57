"""An ended deploy's log is stored in compressed chunks, not a row per line; the deploy page, the
API and the text download read it a page at a time, and nothing is lost or doubled on the way."""
import pytest

from deployments.models import Deploy, DeployLogChunk, DeployLogLine
from deployments.selectors import deploy_log_after, deploy_log_last_seq, deploy_log_text
from deployments.services.deploys.log import DeployLog, log_compact
from tests import factories
from tests.api.conftest import Role, auth, make_token


def logged(deployment, count: int, state=Deploy.State.SUCCEEDED) -> Deploy:
    deploy = factories.DeployFactory(deployment=deployment, state=state)
    DeployLogLine.objects.bulk_create(
        DeployLogLine(deploy=deploy, seq=seq, step="BUILDING", text=f"#{seq} Step {seq}: RUN pip install package-{seq % 7}")
        for seq in range(1, count + 1))
    return deploy


def test_an_ended_deploys_lines_are_packed_into_compressed_chunks(deployment):
    deploy = logged(deployment, 2500)
    raw = sum(len(t) for t in DeployLogLine.objects.filter(deploy=deploy).values_list("text", flat=True))
    assert log_compact(deploy.pk) == 2500
    assert not deploy.log_lines.exists()
    chunks = list(deploy.log_chunks.order_by("first_seq"))
    assert [(c.first_seq, c.last_seq) for c in chunks] == [(1, 1000), (1001, 2000), (2001, 2500)]
    assert sum(len(c.data) for c in chunks) < raw / 4  # build logs repeat themselves
    assert [line["seq"] for line in deploy_log_after(deploy, 999, 5)] == [1000, 1001, 1002, 1003, 1004]
    assert deploy_log_after(deploy, 2498)[-1] == {"seq": 2500, "step": "BUILDING", "text": "#2500 Step 2500: RUN pip install package-1"}
    assert deploy_log_last_seq(deploy) == 2500 and len(deploy_log_text(deploy).splitlines()) == 2500
    assert log_compact(deploy.pk) == 0  # once


def test_a_running_deploys_lines_stay_rows_and_a_late_line_continues_the_numbering(deployment):
    running = logged(deployment, 10, state=Deploy.State.BUILDING)
    assert log_compact(running.pk) == 0 and running.log_lines.count() == 10
    ended = logged(factories.DeploymentFactory(workspace=deployment.workspace), 10)
    log_compact(ended.pk)
    late = DeployLog(ended)  # e.g. a job that comes back after its deploy was failed as lost
    late("one more")
    late.flush()
    assert [line["seq"] for line in deploy_log_after(ended, 8)] == [9, 10, 11]


def test_lines_read_while_the_log_is_being_packed_are_neither_lost_nor_doubled(deployment):
    deploy = logged(deployment, 30)
    rows = list(DeployLogLine.objects.filter(deploy=deploy, seq__lte=20).values_list("seq", "step", "text"))
    DeployLogChunk.objects.create(**{f: getattr(DeployLogChunk.pack(deploy.pk, rows), f) for f in ("deploy_id", "first_seq", "last_seq", "data")})
    assert [line["seq"] for line in deploy_log_after(deploy, 0, 100)] == list(range(1, 31))
    assert [line["seq"] for line in deploy_log_after(deploy, 15, 10)] == list(range(16, 26))


@pytest.mark.parametrize("packed", [False, True])
def test_the_deploy_page_shows_the_newest_page_live_and_links_the_earlier_ones(client, alice, deployment, packed):
    deploy = logged(deployment, 2500)
    if packed:
        log_compact(deploy.pk)
    client.force_login(alice)
    newest = client.get(f"/deploys/{deploy.pk}/").content.decode()
    assert "#2500 Step 2500" in newest and "#1501 Step" in newest and "#1500 Step" not in newest
    assert 'id="deploy-log"' in newest and 'data-log-url=' in newest  # followed live
    assert "Lines 1501–2500 of 2500" in newest and '?from=501"' in newest
    first = client.get(f"/deploys/{deploy.pk}/?from=1").content.decode()
    assert "#1 Step 1:" in first and "#1000 Step" in first and "#1001 Step" not in first
    assert 'id="deploy-log-page"' in first and "data-log-url=" not in first  # a page of the past: not appended to
    assert '?from=1001"' in first
    whole = client.get(f"/deploys/{deploy.pk}/log.txt")
    assert whole["Content-Type"].startswith("text/plain")
    assert b"".join(whole.streaming_content).decode().splitlines()[-1] == "#2500 Step 2500: RUN pip install package-1"


def test_the_api_pages_through_a_packed_log(client, org, deployment):
    deploy = logged(deployment, 2500)
    log_compact(deploy.pk)
    token = make_token(org, Role.OWNER)
    seen, offset = [], 0
    while True:
        page = client.get(f"/api/v1/deploys/{deploy.pk}/log?offset={offset}&limit=1000", **auth(token)).json()
        if not page["lines"]:
            break
        seen += [line["seq"] for line in page["lines"]]
        offset = page["next_offset"]
    assert seen == list(range(1, 2501)) and page["finished"]
