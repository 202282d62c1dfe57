"""Load: 20 deploys across 10 deployments of two organizations, on two real workers. Acme asks for
16 of them first, then Globex for 4. With AIRDOCK_ORG_CONCURRENT_DEPLOYS=1 each organization runs
one deploy at a time, so Globex's deploys begin while Acme's are still queued instead of after all
of them (first in, first out, without the limit); and every deploy finishes."""
import io
import time

import pytest

from deployments.models import Deploy
from deployments.services import deploys
from tests import factories
from tests.projects import make_project, pack

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans (start, end) open at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_twenty_deploys_of_two_tenants_on_two_workers_all_finish_and_neither_starves(org, alice, tmp_path, start_worker):
    acme_space = factories.WorkspaceFactory(organization=org)
    acme = [factories.DeploymentFactory(workspace=acme_space, name=f"acme-{i}") for i in range(8)]
    globex_space = factories.WorkspaceFactory(organization=factories.OrganizationFactory(name="Globex"))
    globex = [factories.DeploymentFactory(workspace=globex_space, name=f"globex-{i}") for i in range(2)]
    archive = pack(make_project(tmp_path / "p"))
    for _ in range(2):
        start_worker("deploys", AIRDOCK_ORG_CONCURRENT_DEPLOYS="1", AIRDOCK_ORG_DEFER_SECONDS="0.5")
    began = time.monotonic()
    made: list[Deploy] = []
    for round_ in range(2):  # a deployment runs one deploy at a time: the second round follows the first
        for deployment in acme + globex:
            made.append(deploys.deploy_create(deployment=deployment, user=alice, archive=io.BytesIO(archive),
                                              description=f"round {round_}"))
        for deploy in made:
            while (state := Deploy.objects.get(pk=deploy.pk)).is_active:
                assert time.monotonic() - began < 900, f"deploy {deploy.pk} still {state.state} after 15 min"
                time.sleep(1)
    taken = time.monotonic() - began
    done = list(Deploy.objects.filter(pk__in=[d.pk for d in made]).select_related("deployment__workspace"))
    assert len(done) == 20 and {d.state for d in done} == {Deploy.State.SUCCEEDED}, [(d.pk, d.state, d.error) for d in done]
    by_org: dict[int, list[Deploy]] = {}
    for deploy in done:
        by_org.setdefault(deploy.deployment.workspace.organization_id, []).append(deploy)
    for deploys_of_one in by_org.values():  # never two of one organization at once
        assert overlap([(d.started_at.timestamp(), d.finished_at.timestamp()) for d in deploys_of_one]) == 1
    assert overlap([(d.started_at.timestamp(), d.finished_at.timestamp()) for d in done]) == 2  # both workers busy
    first_globex = min(d.started_at for d in done if d.deployment in globex)
    acme_before = sum(1 for d in done if d.deployment in acme and d.started_at < first_globex)
    assert acme_before <= 2, f"{acme_before} of Acme's deploys began before Globex's first"
    print(f"\n20 deploys, 2 workers, one deploy per organization at once: all SUCCEEDED in {taken:.0f} s")
    print("| organization | deploys | longest wait in the queue | all done after |")
    print("|---|---|---|---|")
    for name, deploys_of_one in (("Acme", [d for d in done if d.deployment in acme]),
                                 ("Globex", [d for d in done if d.deployment in globex])):
        wait = max((d.started_at - d.created_at).total_seconds() for d in deploys_of_one)
        end = max(d.finished_at.timestamp() for d in deploys_of_one) - min(d.created_at.timestamp() for d in done)
        print(f"| {name} | {len(deploys_of_one)} | {wait:.0f} s | {end:.0f} s |")
