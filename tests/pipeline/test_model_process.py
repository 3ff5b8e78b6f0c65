from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.build import build_encoder
from pipeline.config import Config, ModelsConfig, TopicsConfig
from pipeline.run.model_process import ModelProcess
from pipeline.topics import fit_topics

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


def _in_place_encode(texts: list[str]) -> np.ndarray:
    return build_encoder(Config().models)(texts)


def _nice_values(pid: int) -> set[int]:
    """The niceness of each thread of process ``pid`` (field 19 of its tasks' stat lines)."""
    values = set()
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            values.add(int(stat.read_text().rsplit(")", 1)[1].split()[16]))
        except (OSError, IndexError, ValueError):
            continue
    return values


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its new parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("n, started", [
    (12, False),   # below topics.min_passages: the fit needs no process
    (90, True),    # started early (loading and warming up), as the flow does with new text
])
def test_the_model_process_gives_what_the_flows_process_would(n: int, started: bool) -> None:
    # Vectors are those computed in place (to float rounding: this test process's torch may
    # run other thread counts; the flow's reruns compare exactly in the end-to-end tests), and
    # topics exactly those (a seeded fit); the record gets the fit's CPU time and memory.
    texts, vectors = _corpus(n)
    cfg = TopicsConfig()
    models = ModelProcess(ModelsConfig())
    try:
        if started:
            models.start(warm_topics=True)
        encoded = models.encode(texts[:40])
        fitted = models.fit(texts, vectors, cfg)
    finally:
        models.close()
    np.testing.assert_allclose(encoded, _in_place_encode(texts[:40]), atol=1e-5)
    assert fitted == fit_topics(texts, vectors, cfg)
    if n >= cfg.min_passages:
        assert len(set(fitted.assignments) - {-1}) >= 2
        assert models.fit_usage["cpu_s"] > 0 and models.fit_usage["peak_rss_mb"] > 0
    assert models._manager is None  # closed


def test_encoding_is_served_at_once_while_a_fit_runs_and_stop_ends_the_fit() -> None:
    # The flow maps passages (which encodes prompts) while topics are fitted: an encoding must
    # not wait for the fit, which runs in a nice-19 thread. A failed run stops the fit at once.
    texts, vectors = _corpus(3000)
    models = ModelProcess(ModelsConfig())
    models.encode(["loaded before the fit starts"])
    outcome: dict[str, object] = {}

    def fit() -> None:
        try:
            outcome["result"] = models.fit(texts, vectors, TopicsConfig())
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    worker = threading.Thread(target=fit)
    worker.start()
    time.sleep(2.0)
    pid = models._manager._process.pid
    assert 19 in _nice_values(pid) and 0 in _nice_values(pid)
    asked = time.perf_counter()
    encoded = models.encode(["what did the water cost", "we hauled it from the washeteria"])
    assert time.perf_counter() - asked < 5 and worker.is_alive()
    np.testing.assert_allclose(encoded, _in_place_encode(["what did the water cost",
                                                          "we hauled it from the washeteria"]),
                               atol=1e-5)
    stopped = time.perf_counter()
    models.stop()
    worker.join(30)
    assert not worker.is_alive() and time.perf_counter() - stopped < 10
    assert "error" in outcome and "result" not in outcome
    with pytest.raises(RuntimeError, match="stopped"):
        models.encode(["after stop"])


def test_a_model_process_stopped_before_it_starts_never_starts() -> None:
    models = ModelProcess(ModelsConfig())
    models.stop()
    texts, vectors = _corpus(90)
    with pytest.raises(RuntimeError, match="stopped"):
        models.fit(texts, vectors, TopicsConfig())
    assert models._manager is None


def test_closing_a_started_process_does_not_wait_for_its_warm_up() -> None:
    # A rerun whose vectors and topics are all cached never calls the process: the flow closes
    # it while it is still importing and warming up (~20 s), without waiting.
    models = ModelProcess(ModelsConfig())
    models.start(warm_topics=True)
    process = models._manager._process
    started = time.perf_counter()
    models.close()
    process.join(10)
    assert not process.is_alive() and time.perf_counter() - started < 10


def test_the_model_process_ends_when_the_flows_process_is_killed(tmp_path: Path) -> None:
    # An orphaned model process would hold the models' memory until the machine restarts.
    import signal
    import subprocess
    import sys

    script = ("import time\nfrom pipeline.config import ModelsConfig\n"
              "from pipeline.run.model_process import ModelProcess\n"
              "m = ModelProcess(ModelsConfig())\nm.start()\n"
              "print(m._manager._process.pid, flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _running(child):
            break
        time.sleep(0.2)
    else:
        subprocess.run(["kill", "-9", str(child)], check=False)
        pytest.fail("the model process outlived the process that started it")
