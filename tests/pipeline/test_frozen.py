from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.mapping.mapper import calibrate, centres_of, theme_scores_table
from pipeline.topics import FROZEN_NONE, assign_frozen, resolve_frozen_base

V = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.95, 0.05], [0.05, 0.95], [-1, 0]],
             dtype=float)
V = V / np.linalg.norm(V, axis=1, keepdims=True)


def test_assign_frozen_keeps_known_and_assigns_new() -> None:
    ids = ["a", "b", "c", "d", "new1", "new2", "far"]
    base = {"a": 0, "b": 0, "c": 1, "d": 1, "gone": 1}
    probs = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    result = assign_frozen(ids, V, base, probs, {0: ["x"], 1: ["y"]}, min_similarity=0.3)
    assert result.assignments == [0, 0, 1, 1, 0, 1, -1]
    assert result.probabilities[:4] == [0.9, 0.8, 0.7, 0.6] and result.probabilities[6] == 0.0
    assert result.sizes == {-1: 1, 0: 3, 1: 3}
    assert result.keywords[0] == ["x"] and result.keywords[-1] == []


def test_frozen_calibration_recovers_exact_scores() -> None:
    rng = np.random.default_rng(0)
    raw = np.round(rng.normal(0.3, 0.1, (50, 3)), 6)
    scores, centres = calibrate(raw)
    table = theme_scores_table([f"p{i}" for i in range(50)], scores, raw, ["a", "b", "c"],
                               ["a"] * 50, centres)
    recovered = centres_of(table, ["a", "b", "c"])
    assert np.array_equal(calibrate(raw, recovered)[0], scores)
    more = np.vstack([raw, np.round(rng.normal(0.5, 0.1, (20, 3)), 6)])
    assert np.array_equal(calibrate(more, recovered)[0][:50], scores)


def _run(outputs: Path, name: str) -> Path:
    run = outputs / name
    run.mkdir(parents=True)
    pd.DataFrame({"passage_id": [], "topic": [], "probability": []}).to_parquet(
        run / "passage_topics.parquet")
    return run


@pytest.mark.parametrize("mode,base,expect", [
    ("refit", "", None),
    ("frozen", "", "r2"),
    ("frozen", "r1", "r1"),
    ("frozen", FROZEN_NONE, None),
])
def test_resolve_frozen_base(tmp_path: Path, mode: str, base: str, expect: str | None) -> None:
    _run(tmp_path, "r1")
    _run(tmp_path, "r2")
    cfg = Config.model_validate({"topics": {"mode": mode, "frozen_base": base}})
    cfg2, path = resolve_frozen_base(cfg, tmp_path)
    assert (path.name if path else None) == expect
    if mode == "frozen" and expect:
        assert cfg2.topics.frozen_base == str((tmp_path / expect).resolve())


def test_frozen_first_run_records_none(tmp_path: Path) -> None:
    cfg = Config.model_validate({"topics": {"mode": "frozen"}})
    cfg2, path = resolve_frozen_base(cfg, tmp_path / "outputs")
    assert path is None and cfg2.topics.frozen_base == FROZEN_NONE


def test_frozen_base_must_exist(tmp_path: Path) -> None:
    cfg = Config.model_validate({"topics": {"mode": "frozen", "frozen_base": "nope"}})
    with pytest.raises(ConfigError, match="not a finished run"):
        resolve_frozen_base(cfg, tmp_path)
