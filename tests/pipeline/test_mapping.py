from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import MapConfig
from pipeline.framework import Element, Framework, load_framework
from pipeline.mapping import FrameworkMapper, assign, calibrate, topic_themes_table

ELEMENTS = ["mutual_learning", "joint_ownership", "empowered_participation",
            "collaborative_governance", "distributive_leadership", "boundary_spanning"]


def test_default_framework_has_the_six_elements_with_examples() -> None:
    fw = load_framework("collaborative_innovation")
    assert [e.id for e in fw.elements] == ELEMENTS
    for e in fw.elements:
        assert e.definition and e.indicators
        assert 8 <= len(e.examples) <= 15


@pytest.mark.parametrize("row, expected", [
    ([0.20, 0.01, 0.00], ("a", "assigned")),
    ([0.20, 0.19, 0.00], ("a", "ambiguous")),
    ([0.05, 0.01, 0.00], ("none", "none")),
    ([0.01, 0.30, 0.29], ("b", "ambiguous")),
])
def test_assign_best_ambiguous_or_none(row: list[float], expected: tuple[str, str]) -> None:
    best, _, status = assign(np.array([row]), ["a", "b", "c"], MapConfig(threshold=0.08,
                                                                          ambiguity_margin=0.02))
    assert (best[0], status[0]) == expected


def test_calibrate_centres_each_element() -> None:
    raw = np.array([[0.5, 0.1], [0.3, 0.2], [0.4, 0.3]])
    np.testing.assert_allclose(calibrate(raw), [[0.1, -0.1], [-0.1, 0.0], [0.0, 0.1]])


def test_mapper_prefers_the_element_whose_examples_match() -> None:
    vocab = {"learn": [1, 0, 0], "lead": [0, 1, 0], "other": [0, 0, 1]}

    def encode(texts: list[str]) -> np.ndarray:
        out = np.array([[sum(vocab[w][i] for w in t.split() if w in vocab) + 0.01
                         for i in range(3)] for t in texts], dtype=float)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    fw = Framework("t", "t", (Element("ml", "ML", "learn", ("learn learn",), ("learn",)),
                              Element("dl", "DL", "lead", ("lead",), ("lead lead",))))
    mapper = FrameworkMapper(MapConfig()).fit(fw, encode)
    scores = mapper.transform(encode(["learn", "lead", "other"]))
    assert list(scores.argmax(axis=1)[:2]) == [0, 1]


def test_topic_marked_emergent_when_most_passages_fit_none() -> None:
    table = topic_themes_table([0, 0, 0, 1, 1, -1], ["none", "none", "a", "a", "b", "none"],
                               {0: ["childcare", "bus"], 1: ["team"]}, MapConfig(emergent_share=0.6))
    rows = {r.topic: r for r in table.itertuples()}
    assert rows[0].emergent and not rows[1].emergent and not rows[-1].emergent
    assert rows[0].keywords == "childcare, bus"
