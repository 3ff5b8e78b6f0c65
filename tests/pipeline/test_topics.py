from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pipeline.config import TopicsConfig
from pipeline.topics import SeparateProcessFit, fit_topics

GROUPS = [["water", "tank", "truck", "hauled", "gallons"],
          ["freeze", "pipes", "winter", "frozen", "cold"],
          ["laundry", "shower", "laundromat", "washing", "clothes"]]


def _corpus(n: int) -> tuple[list[str], np.ndarray]:
    """``n`` passages in three word groups, with vectors clustered the same way (seeded)."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(3, 24))
    texts, rows = [], []
    for i in range(n):
        g = i % 3
        words = rng.choice(GROUPS[g], size=6)
        texts.append(" ".join(words))
        rows.append(centres[g] + 0.05 * rng.normal(size=24))
    vectors = np.asarray(rows, dtype=np.float32)
    return texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("n, started", [
    (12, False),   # below topics.min_passages: no process at all
    (90, True),    # started (and warmed up) early, as the flow does when there is new text
])
def test_separate_process_fit_equals_the_fit_in_place(n: int, started: bool) -> None:
    # The run fits topics in a process of its own while it maps passages; the tables must be
    # exactly those of the fit in place (seeded), and the record gets that process's usage.
    texts, vectors = _corpus(n)
    cfg = TopicsConfig()
    fit = SeparateProcessFit()
    if started:
        fit.start()
    apart = fit(texts, vectors, cfg)
    assert fit._pool is None  # the process is shut down after the fit
    assert apart == fit_topics(texts, vectors, cfg)
    assert fit.usage["cpu_s"] >= 0 and fit.usage["peak_rss_mb"] > 0
    if n >= cfg.min_passages:
        assert len(set(apart.assignments) - {-1}) >= 2


def test_stopping_a_fit_ends_it_at_once() -> None:
    # A run that fails while the fit runs must not wait for it (minutes at paper scale).
    texts, vectors = _corpus(3000)
    fit = SeparateProcessFit()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = fit(texts, vectors, TopicsConfig())
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.0)
    started = time.perf_counter()
    fit.stop()
    worker.join(30)
    assert not worker.is_alive() and time.perf_counter() - started < 10
    assert "error" in outcome and "result" not in outcome


def test_a_fit_stopped_before_it_starts_never_starts() -> None:
    fit = SeparateProcessFit()
    fit.stop()
    texts, vectors = _corpus(90)
    with pytest.raises(RuntimeError, match="stopped"):
        fit(texts, vectors, TopicsConfig())


def test_a_started_process_that_gets_no_fit_is_closed() -> None:
    # A rerun whose topics are cached never asks for the fit: the flow closes the process.
    fit = SeparateProcessFit()
    fit.start()
    process = next(iter(fit._pool._processes.values()))
    started = time.perf_counter()
    fit.close()  # its warm-up (~20 s) is cut short, not waited for
    process.join(10)
    assert fit._pool is None and not process.is_alive() and time.perf_counter() - started < 10
