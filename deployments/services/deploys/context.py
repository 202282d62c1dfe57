"""What one run of a deploy carries from step to step, and how a step is entered and left."""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from portal.errors import AirdockError

from ... import events
from ...models import Deploy, Deployment, DeployStep
from . import states
from .log import DeployLog


class CheckFailed(AirdockError):
    """A check (DAG parse, pytest) failed: fatal, unless the deploy is forced (then a warning)."""


@dataclass
class RunContext:
    deploy: Deploy
    root: Path  # the run's private temporary folder, removed when the run ends
    log: DeployLog = field(init=False)
    image: str = ""  # the image the checks run in and the push sends: built, prebuilt or current
    steps: dict[str, DeployStep] = field(init=False)
    current_step: DeployStep | None = None

    def __post_init__(self) -> None:
        self.log = DeployLog(self.deploy, on_flush=self._on_flush)
        self.steps = {s.name: s for s in self.deploy.steps.all()}

    @classmethod
    @contextlib.contextmanager
    def open(cls, deploy: Deploy) -> Iterator[RunContext]:
        root = Path(tempfile.mkdtemp(prefix=f"{states.TEMP_PREFIX}{deploy.pk}-"))
        (root / "project").mkdir()
        ctx = cls(deploy=deploy, root=root)
        ctx.log.start_flushing()
        try:
            yield ctx
        finally:
            ctx.log.stop_flushing()
            shutil.rmtree(root, ignore_errors=True)

    @property
    def deployment(self) -> Deployment:
        return self.deploy.deployment

    @property
    def plan(self) -> list[str]:
        """The steps planned when the deploy was created, in order."""
        return list(self.steps)

    @property
    def container_labels(self) -> dict[str, str]:
        """Marks the check containers of this deploy (a reaper removes them if its worker is lost)."""
        return {"io.airdock.deploy": str(self.deploy.pk)}

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def upload(self) -> Path:
        return self.root / "upload"

    def _on_flush(self, lines: list) -> None:
        events.deploy_log(self.deploy.pk, lines)
        if self.deploy.is_active and not states.deploy_is_active(self.deploy.pk):  # ended by another: stop
            raise states.Cancelled()

    def save(self, *fields: str) -> None:
        """Record results of the run on the deploy (never its state: that is `states`' job)."""
        Deploy.objects.filter(pk=self.deploy.pk).update(**{f: getattr(self.deploy, f) for f in fields})

    def warn(self, message: str) -> None:
        self.deploy.warnings.append(message)
        self.save("warnings")
        self.log(f"WARNING: {message}")

    def skip(self, message: str) -> None:
        """The current step has nothing to do; say why."""
        step = self.current_step
        step.state, step.message = DeployStep.State.SKIPPED, message
        self.log(message)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[DeployStep]:
        step = self.steps[name]
        self.log.flush()
        self.log.step = name
        states.step_begin(self.deploy, step)
        self.current_step = step
        self.log(f"==> {step.get_name_display()}")
        outcome, message = DeployStep.State.SUCCEEDED, ""
        try:
            yield step
        except CheckFailed as exc:
            if not self.deploy.force:
                raise
            outcome, message = DeployStep.State.WARNING, exc.message
            self.warn(f"{exc.message} (forced: the deploy goes on)")
        if step.state != DeployStep.State.RUNNING:  # the step said how it ended (skipped)
            outcome = step.state
        self.log.flush()
        self.current_step = None
        states.step_end(self.deploy, step, outcome, message)
