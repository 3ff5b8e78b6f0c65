"""mapping.learned: labels read from the run's label table, what is learnt from them, and the
words that explain a candidate. Small synthetic vectors stand in for passages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import MapConfig
from pipeline.mapping.classifier import Prediction, _masked_max, typicality
from pipeline.mapping.learned import (Learned, LearningInputs, assignments, cross_validated_kappa,
                                      explain, labels_from, learn, scores_of)

IDS = ["p0", "p1", "p2", "p3", "p4", "p5"]
ELEMENTS = ["a", "b"]


def _inputs() -> LearningInputs:
    # p0-p2 talk about "a", p3-p5 about "b"; the mapper's zero-shot scores agree
    vecs = np.array([[1, 0.1], [0.9, 0.2], [0.95, 0.1], [0.1, 1], [0.2, 0.9], [0.1, 0.95]])
    vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    scores = np.array([[1.2, -0.5], [0.9, -0.2], [1.0, -0.4], [-0.6, 1.1], [-0.3, 0.8],
                       [-0.5, 1.0]])
    evidence = [(0, "definition", "Learning together"), (0, "indicator", "shared practice"),
                (1, "definition", "Owning it jointly")]
    ev = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    return LearningInputs(IDS, ELEMENTS, vecs, vecs.copy(), scores, evidence, ev)


def _table(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["passage_id", "element", "polarity", "text"])


@pytest.mark.parametrize("rows,labels,negatives", [
    ([], {}, {}),
    ([("p0", "a", 1, "")], {0: {0}}, {}),
    ([("p0", "a", 1, ""), ("p0", "b", 1, "")], {0: {0, 1}}, {}),
    ([("p1", "none", 1, "")], {1: set()}, {}),
    ([("p1", "none", 1, ""), ("p1", "b", 1, "")], {1: {1}}, {}),          # an element wins
    ([("p2", "a", -1, "")], {}, {2: {0}}),                                  # partial label
    ([("p2", "a", -1, ""), ("p2", "b", 1, "")], {2: {1}}, {}),            # complete wins
    ([("", "b", 1, "text of p4")], {4: {1}}, {}),                          # found by text
    ([("p9", "a", 1, ""), ("p0", "zzz", 1, "")], {}, {}),                  # not in this run
])
def test_labels_from(rows: list, labels: dict, negatives: dict) -> None:
    texts = [f"text of {p}" for p in IDS]
    got_labels, got_negatives = labels_from(_table(rows), IDS, ELEMENTS, texts)
    assert {r: set(s) for r, s in got_labels.items()} == labels
    assert {r: set(s) for r, s in got_negatives.items()} == negatives


def test_no_labels_keep_the_mappers_scores() -> None:
    inputs = _inputs()
    learned = learn(inputs, _table([]), MapConfig())
    assert not learned.learnt
    assert scores_of(learned, inputs) is inputs.scores


def test_labelled_passages_keep_their_labels() -> None:
    inputs = _inputs()
    table = _table([("p0", "a", 1, ""), ("p3", "b", 1, ""), ("p1", "none", 1, ""),
                    ("p4", "b", -1, ""), ("p5", "b", 1, ""), ("p2", "a", 1, "")])
    learned = learn(inputs, table, MapConfig())
    p = learned.probability
    assert learned.learnt and learned.n_labels == 5
    assert (p[0].tolist(), p[3].tolist(), p[1].tolist()) == ([1, 0], [0, 1], [0, 0])
    assert p[4, 1] == 0.0                       # ruled out by a rejection
    scores = scores_of(learned, inputs)
    assert scores[0, 0] == pytest.approx(9.21, abs=0.01) and scores[1, 0] < 0


def test_a_fit_is_kept_and_reused_for_the_same_inputs(tmp_path: Path, monkeypatch) -> None:
    """Issue 19: a rerun with the same labels reads the fit it made before (identical tables);
    other labels or other vectors are a new fit; only the newest fits are kept."""
    import pipeline.mapping.learned as learned_mod
    from pipeline.mapping.classifier import CodeClassifier

    inputs = _inputs()
    table = _table([("p0", "a", 1, ""), ("p3", "b", 1, ""), ("p1", "none", 1, ""),
                    ("p5", "b", 1, ""), ("p2", "a", 1, "")])
    first = learn(inputs, table, MapConfig(), cache=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    fits: list[int] = []
    real = CodeClassifier.fit_predict
    monkeypatch.setattr(CodeClassifier, "fit_predict",
                        lambda self, *a: fits.append(1) or real(self, *a))
    again = learn(inputs, table, MapConfig(), cache=tmp_path)
    assert fits == [] and np.array_equal(again.probability, first.probability)
    assert np.array_equal(again.prediction.p_given, first.prediction.p_given)  # learnt, kept
    learn(inputs, table.iloc[:4], MapConfig(), cache=tmp_path)          # other labels
    moved = LearningInputs(IDS, ELEMENTS, inputs.vectors[::-1].copy(), inputs.contexts,
                           inputs.scores, inputs.evidence, inputs.evidence_vectors)
    learn(moved, table, MapConfig(), cache=tmp_path)                    # other vectors
    assert len(fits) == 2 and len(list(tmp_path.glob("*.npz"))) == 3
    monkeypatch.setattr(learned_mod, "MODELS_KEPT", 2)
    learn(inputs, table.iloc[:3], MapConfig(), cache=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2


@pytest.mark.parametrize("p_code,given,codeable,labels,negatives,element,status,listed", [
    # nothing learnt for the row's codes: the normalised row is all there is
    ([0.7, 0.2, 0.1], None, 0.9, {}, {}, "a", "assigned", "a"),
    # torn: a further code a coder gives with a chance of a third is listed
    ([0.5, 0.45, 0.05], [0.6, 0.55, 0.1], 1.0, {}, {}, "a", "ambiguous", "a; b"),
    # coded when the team more likely than not codes it at all, though no element reaches 0.5
    ([0.4, 0.35, 0.25], [0.45, 0.2, 0.1], 0.8, {}, {}, "a", "assigned", "a"),
    ([0.7, 0.2, 0.1], None, 0.4, {}, {}, "none", "none", ""),
    # at most max_codes (2 in this table)
    ([0.3, 0.45, 0.25], [0.5, 0.75, 0.4], 1.0, {}, {}, "b", "assigned", "b; a"),
    # a labelled passage has its label; a rejected element is ruled out
    ([0.7, 0.2, 0.1], None, 0.9, {0: frozenset([2])}, {}, "c", "assigned", "c"),
    ([0.7, 0.2, 0.1], None, 0.9, {0: frozenset()}, {}, "none", "none", ""),
    ([0.5, 0.4, 0.1], None, 0.9, {}, {0: frozenset([0])}, "b", "assigned", "b"),
])
def test_assignments(p_code, given, codeable, labels, negatives, element, status,
                     listed) -> None:
    learned = learn(_inputs(), None, MapConfig())
    pred = Prediction(np.array([p_code]), np.array([codeable]),
                      None if given is None else np.array([given]))
    probability = pred.p_codeable[:, None] * pred.given
    for r, codes in negatives.items():
        probability[r, list(codes)] = 0.0
    for r, codes in labels.items():
        probability[r] = 0.0
        probability[r, list(codes)] = 1.0
    learned = Learned(pred, probability, labels, negatives)
    best, p, statuses, codes, conf = assignments(learned, ["a", "b", "c"], MapConfig(max_codes=2))
    assert (best, statuses, codes) == ([element], [status], [listed])
    column = {"a": 0, "b": 1, "c": 2}.get(element)
    assert p == [round(float(probability[0, column] if column is not None
                              else probability[0].max()), 6)]
    assert conf.tolist() == [round(float(probability[0].max()), 4)]


def test_why_names_probability_closest_line_and_closest_coded_passage() -> None:
    inputs = _inputs()
    texts = [f"text of {p}" for p in IDS]
    names = {"a": "Mutual learning", "b": "Joint ownership"}
    table = _table([("p0", "a", 1, ""), ("p3", "b", 1, ""), ("p4", "b", 1, ""),
                    ("p5", "none", 1, "")])
    learned = learn(inputs, table, MapConfig())
    cands = pd.DataFrame({"passage_id": ["p1", "p0"], "element": ["a", "a"]})
    out = explain(cands, learned, inputs, texts, names)
    assert out["why"].iloc[1] == "coded Mutual learning by the team"
    assert out["probability"].iloc[1] == 1.0
    why = out["why"].iloc[0]
    assert why.startswith(f"{out['probability'].iloc[0]:.0%} likely to be coded Mutual learning "
                          "(learnt from 4 labelled passages)")
    assert why.endswith('closest to its definition "Learning together"; and to a passage the '
                        'team coded so: "text of p0"')
    zero = explain(cands, learn(inputs, None, MapConfig()), inputs, texts, names)
    assert "(no labels yet: from the codebook alone)" in zero["why"].iloc[0]


def test_inputs_round_trip(tmp_path: Path) -> None:
    inputs = _inputs()
    inputs.save(tmp_path)
    back = LearningInputs.load(tmp_path)
    assert back.passage_ids == IDS and back.evidence == inputs.evidence
    for name in ("vectors", "contexts", "scores", "evidence_vectors"):
        assert np.array_equal(getattr(back, name), getattr(inputs, name))


def test_typicality_is_code_nexts_density() -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    direct = np.clip(_masked_max(vecs @ vecs.T, np.ones((50, 50), dtype=bool), 10), 0, 1)
    assert np.allclose(typicality(vecs, block=16), direct)


def test_agreement_estimate_needs_ten_labels() -> None:
    inputs = _inputs()
    few = learn(inputs, _table([("p0", "a", 1, ""), ("p3", "b", 1, "")]), MapConfig())
    assert cross_validated_kappa(few, inputs, MapConfig()) is None
