"""Measuring: repeat a case after a warm-up, summarize (median and spread), and render tables in
Markdown, each Airdock figure beside the raw floor measured in the same run, as a ratio."""
from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable


@dataclasses.dataclass
class Sample:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> str:
        return f"{min(self.values):.2f}–{max(self.values):.2f}" if len(self.values) > 1 else "one run"

    def p(self, percent: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered) + 0.5) - 1))]


def repeat(action: Callable[[], dict[str, float]], *, runs: int, warmup: int = 1) -> dict[str, Sample]:
    """Run `action` warmup + runs times; it returns named durations (seconds). The warm-up ones are
    dropped: they pay for caches the later runs find warm, as a user's second deploy does."""
    found: dict[str, list[float]] = {}
    for i in range(warmup + runs):
        measured = action()
        if i >= warmup:
            for key, value in measured.items():
                found.setdefault(key, []).append(value)
    return {key: Sample(values) for key, values in found.items()}


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


@dataclasses.dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def add(self, *cells) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines) + "\n"


def seconds(sample: Sample | float) -> str:
    value = sample.median if isinstance(sample, Sample) else sample
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def with_spread(sample: Sample) -> str:
    return f"{seconds(sample)} ({sample.spread})"


def ratio(ours: Sample | float, floor: Sample | float) -> float:
    a = ours.median if isinstance(ours, Sample) else ours
    b = floor.median if isinstance(floor, Sample) else floor
    return a / b if b else float("inf")


def verdict(value: float, target: float, unit: str = "×") -> str:
    """'met' or by how much it is missed (the table says so rather than hiding it)."""
    if value <= target:
        return f"met ({value:.2f}{unit} ≤ {target:g}{unit})"
    return f"**missed** by {value - target:.2f}{unit} ({value:.2f}{unit} > {target:g}{unit})"
