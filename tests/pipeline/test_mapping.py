from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import MapConfig
from pipeline.mapping.codebook import load_framework
from pipeline.mapping.framework import Element, Framework
from pipeline.mapping.mapper import (
    Exemplars,
    FrameworkMapper,
    assign,
    calibrate,
    confidence,
    context_vectors,
    passage_positions,
    smooth_turns,
    topic_themes_table,
)

ELEMENTS = ["mutual_learning", "joint_ownership", "empowered_participation",
            "collaborative_governance", "distributive_leadership", "boundary_spanning"]


def test_default_framework_has_the_six_elements_with_examples() -> None:
    fw = load_framework("collaborative_innovation")
    assert [e.id for e in fw.elements] == ELEMENTS
    for e in fw.elements:
        assert e.definition and e.indicators
        assert 8 <= len(e.examples) <= 15


@pytest.mark.parametrize("row, expected", [
    ([2.0, 0.1, 0.0], ("a", "assigned", "a")),
    ([2.0, 1.9, 0.0], ("a", "ambiguous", "a; b")),
    ([0.4, 0.1, 0.0], ("none", "none", "")),
    ([0.1, 3.0, 2.9], ("b", "ambiguous", "b; c")),
    ([1.5, 1.1, 0.9], ("a", "assigned", "a; b")),
    ([1.7, 1.1, 1.2, 1.3], ("a", "assigned", "a; d; c")),
])
def test_assign_best_ambiguous_none_and_secondary(row: list[float],
                                                  expected: tuple[str, str, str]) -> None:
    best, _, status, codes = assign(np.array([row]), ["a", "b", "c", "d"][:len(row)], MapConfig(
        threshold=0.5, ambiguity_margin=0.25, secondary_threshold=1.0))
    assert (best[0], status[0], codes[0]) == expected


def test_calibrate_standardises_each_element_and_reuses_centres() -> None:
    raw = np.array([[0.5, 0.1], [0.3, 0.2], [0.4, 0.3]])
    scores, (centre, scale) = calibrate(raw)
    np.testing.assert_allclose(centre, [0.4, 0.2])
    np.testing.assert_allclose(scores, (raw - centre) / raw.std(axis=0), atol=1e-4)
    more = np.vstack([raw, [[0.9, 0.9]]])
    np.testing.assert_array_equal(calibrate(more, (centre, scale))[0][:3], scores)


def test_turn_smoothing_blends_with_the_turn_mean_only() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    out = smooth_turns(scores, ["d/1", "d/1", "d/2"], 0.5)
    np.testing.assert_allclose(out, [[0.75, 0.25], [0.25, 0.75], [3.0, 3.0]])


def test_positions_and_contexts_per_passage() -> None:
    passages = pd.DataFrame({"doc_id": ["a", "a", "b"], "turn_index": [1, 1, 1],
                             "start": [50, 0, 10], "end": [100, 50, 20]})
    np.testing.assert_allclose(passage_positions(passages), [0.5, 0.0, 0.5])
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[1.0, 0.0, 0.0]] * len(texts))
    vectors = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    ctx = context_vectors(passages, ["Why?", "Why?", ""], vectors, encode)
    assert calls == [["Why?"]]  # one prompt shared by a turn is encoded once
    # the later passage of turn a/1 adds the passage before it (row 1, which starts at 0)
    np.testing.assert_allclose(ctx, [[0.707107, 0, 0.707107], [1, 0, 0], [0, 0, 0]], atol=1e-6)


@pytest.mark.parametrize("best, margin, low, high", [(0.0, 0.0, 0.25, 0.35), (3.0, 2.0, 0.5, 0.7)])
def test_confidence_rises_with_score_and_margin(best: float, margin: float, low: float,
                                                high: float) -> None:
    conf = confidence(np.array([[best, best - margin]]))[0]
    assert low <= conf <= high


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


def test_labelled_passages_pull_their_element_by_text_context_and_position() -> None:
    """A passage like an analyst-accepted one, asked the same question at the same point of an
    interview, moves to that passage's element even though the definitions favour another."""
    def unit(*rows: list[float]) -> np.ndarray:
        out = np.array(rows, dtype=float)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    fw = Framework("t", "t", (Element("a", "A", "x"), Element("b", "B", "y")))
    mapper = FrameworkMapper(MapConfig(definition_weight=1.0)).fit(
        fw, lambda texts: unit(*[[1, 0, 0] if t == "x" else [0, 1, 0] for t in texts]))
    passage, ctx = unit([0.6, 0.5, 0.6]), unit([0, 0, 1])
    alone = mapper.transform(passage, ctx, np.array([0.2]))
    assert alone[0, 0] > alone[0, 1]
    mapper.labelled_ = Exemplars(["b"], unit([0.6, 0.5, 0.6]), unit([0, 0, 1]), np.array([0.2]))
    learnt = mapper.transform(passage, ctx, np.array([0.2]))
    assert learnt[0, 1] > learnt[0, 0]
    np.testing.assert_allclose(learnt[0, 1] - alone[0, 1], 1.0 + 0.5 + 0.5, atol=1e-6)


def test_topic_marked_emergent_when_most_passages_fit_none() -> None:
    table = topic_themes_table([0, 0, 0, 1, 1, -1], ["none", "none", "a", "a", "b", "none"],
                               {0: ["childcare", "bus"], 1: ["team"]}, MapConfig(emergent_share=0.6))
    rows = {r.topic: r for r in table.itertuples()}
    assert rows[0].emergent and not rows[1].emergent and not rows[-1].emergent
    assert rows[0].keywords == "childcare, bus"


def test_review_exemplars_take_accepted_texts_only() -> None:
    from pipeline.mapping.mapper import with_review_exemplars

    fw = Framework("t", "t", (Element("a", "A", "x", (), ("old",)), Element("b", "B", "y")))
    labels = pd.DataFrame({"passage_id": ["p1", "p2", "p3", "p4"], "element": ["a", "a", "b", "z"],
                           "polarity": [1, -1, 1, 1], "text": ["kept", "rejected", "", "unknown"]})
    out = with_review_exemplars(fw, labels)
    assert [e.examples for e in out.elements] == [("old", "kept"), ()]
