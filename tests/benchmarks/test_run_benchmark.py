"""The benchmark's own arithmetic (the benchmark itself is run by hand: see docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from tests.benchmarks.run_benchmark import time_in_stages


def _stages(*spans: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {f"s{i}": {"start_s": a, "wall_s": w} for i, (a, w) in enumerate(spans)}


@pytest.mark.parametrize("stages, expected", [
    (_stages((0, 2), (2, 3)), 5),              # back to back
    (_stages((0, 10), (1, 2), (4, 3)), 10),    # map and quotes inside the topic fit
    (_stages((0, 4), (3, 4)), 7),              # a partial overlap counts once
    (_stages((0, 1), (5, 1)), 2),              # a gap between stages is outside them
    ({"a": {"wall_s": 2}, "b": {"wall_s": 3}}, 5),  # older manifests: no start times, a sum
])
def test_time_in_stages_counts_overlaps_once(stages: dict, expected: float) -> None:
    assert time_in_stages(stages) == pytest.approx(expected)
