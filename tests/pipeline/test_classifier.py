"""The label-trained classifier and the "code next" queue, on small fakes: three well-separated
clusters of unit vectors, one per code, plus a cluster nobody codes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.mapping.classifier import CodeClassifier, Prediction, _lead, code_next
from pipeline.simulate import CodedUnits, machine_sets, simulate_review, three_part


def clusters(per: int = 12, seed: int = 0, spread: float = 0.15
             ) -> tuple[np.ndarray, list[int]]:
    """Units around four orthogonal directions; cluster 3 is the uncoded one. A ``spread`` of
    0.6 makes them overlap, as real answers do."""
    rng = np.random.default_rng(seed)
    vecs, truth = [], []
    for c in range(4):
        centre = np.eye(8)[c]
        for _ in range(per):
            v = centre + spread * rng.standard_normal(8)
            vecs.append(v / np.linalg.norm(v))
            truth.append(c)
    return np.array(vecs), truth


def units(scores: np.ndarray | None = None) -> CodedUnits:
    vecs, truth = clusters()
    gold = [frozenset() if c == 3 else frozenset([c]) for c in truth]
    flat = np.zeros((len(vecs), 3)) if scores is None else scores
    return CodedUnits([f"u{i}" for i in range(len(vecs))], ["a", "b", "c"], [""] * len(vecs),
                      vecs, np.zeros_like(vecs), flat, np.ones(flat.shape, dtype=bool), gold)


def labels_of(u: CodedUnits, rows: list[int]) -> dict[int, frozenset[int]]:
    return {i: u.gold_a[i] for i in rows}


def right_scores() -> np.ndarray:
    """Zero-shot scores that name every unit's code (and none for the uncoded cluster)."""
    _, truth = clusters()
    scores = np.full((len(truth), 3), -1.0)
    for i, c in enumerate(truth):
        if c < 3:
            scores[i, c] = 3.0
    return scores


def test_three_labels_per_code_and_three_nones_learn_every_cluster():
    u = units()
    picked = [0, 1, 2, 12, 13, 14, 24, 25, 26, 36, 37, 38]
    pred = u.classifier().fit_predict(labels_of(u, picked))
    sets = machine_sets(pred)
    rest = [i for i in range(len(u.ids)) if i not in picked]
    assert [sets[i] for i in rest] == [u.gold_a[i] for i in rest]


def test_zero_labels_follow_the_mapper_scores():
    _, truth = clusters()
    u = units(right_scores())
    pred = u.classifier().fit_predict({})
    assert [int(b) for b, t in zip(pred.best, truth) if t < 3] == [t for t in truth if t < 3]


def test_a_unit_only_competes_among_its_allowed_codes():
    u = units()
    allowed = np.ones((len(u.ids), 3), dtype=bool)
    allowed[:, 0] = False  # code "a" belongs to another question
    model = CodeClassifier(u.vectors, u.contexts, u.scores, allowed)
    pred = model.fit_predict(labels_of(u, [12, 13, 24, 25, 36, 37]))
    assert (pred.p_code[:, 0] == 0).all()
    assert int(pred.best[0]) != 0


def test_same_labels_give_identical_probabilities():
    u = units()
    a = u.classifier().fit_predict(labels_of(u, [0, 12, 24, 36, 1, 13]))
    b = u.classifier().fit_predict(labels_of(u, [36, 24, 12, 0, 13, 1]))
    assert np.array_equal(a.p_code, b.p_code) and np.array_equal(a.p_codeable, b.p_codeable)


@pytest.mark.parametrize("zero_shot_right, rows, weight", [
    # Zero-shot scores that know nothing: three labels per code and three nones win outright.
    (False, [0, 1, 2, 12, 13, 14, 24, 25, 26, 36, 37, 38], 1.0),
    # Zero-shot scores that are right, and one label per code: a model fitted without a code's
    # only label cannot find that code, so the mix keeps half of the zero-shot model...
    (True, [0, 12, 24, 36], 0.5),
    # ... and with two labels per code the labels carry every fold.
    (True, [0, 1, 12, 13, 24, 25, 36, 37], 1.0),
])
def test_the_labels_weigh_what_they_predict_of_one_another(zero_shot_right: bool,
                                                          rows: list[int], weight: float) -> None:
    u = units(right_scores() if zero_shot_right else None)
    model = u.classifier()
    labels = labels_of(u, rows)
    assert model._label_weight(labels, None) == weight
    learnt, zero, mixed = model._fit(labels), model._fit({}), model.fit_predict(labels)
    assert np.array_equal(mixed.p_code, np.round(weight * learnt.p_code
                                                 + (1 - weight) * zero.p_code, 6))


@pytest.mark.parametrize("rows", [[0, 12, 24, 36], [0, 1, 12, 24, 36, 37], [0, 1, 2, 12]])
def test_a_labelled_unit_is_described_as_if_it_were_not(rows: list[int]) -> None:
    # Training rows must look like the unlabelled units the model scores: a labelled unit's own
    # label may not count in its neighbours, nor in its code's share of the labels. Counted in
    # the share, the model learnt that the code labelled most so far is everybody's code.
    u = units()
    model = u.classifier()
    labels = labels_of(u, rows)
    every = model._pair_features(labels)
    for r in rows:
        alone = model._pair_features({k: v for k, v in labels.items() if k != r})
        assert np.allclose(every[r], alone[r]), r


def test_the_code_labelled_most_does_not_take_every_unit():
    # Overlapping clusters; three labels of "a", one of "b" and "c", two "none"; zero-shot
    # scores that know nothing. With its own label in the share, the model gave all 31 coded
    # units "a"; the clusters must still decide.
    vecs, truth = clusters(spread=0.6)
    gold = [frozenset() if c == 3 else frozenset([c]) for c in truth]
    model = CodeClassifier(vecs, np.zeros_like(vecs), np.zeros((len(vecs), 3)))
    rows = [0, 1, 2, 12, 24, 36, 37]
    pred = model.fit_predict({r: gold[r] for r in rows})
    rest = [i for i in range(len(vecs)) if i not in rows and gold[i]]
    best = [int(pred.best[i]) for i in rest]
    assert sum(b == truth[i] for b, i in zip(best, rest)) >= len(rest) // 2
    assert all(best.count(code) >= len(rest) // 4 for code in range(3))


def test_held_out_labels_are_predicted_as_by_the_full_model():
    # _label_weight fits its folds on the labelled units alone: for them it must predict what
    # the model over every unit predicts, or the weight would be chosen on another model.
    u = units(right_scores())
    model = u.classifier()
    labels = labels_of(u, [0, 1, 5, 12, 13, 24, 25, 30, 36, 37])
    test, train = [1, 13, 30], {r: s for r, s in labels.items() if r not in (1, 13, 30)}
    rows = sorted(labels)
    sub = CodeClassifier(u.vectors[rows], u.contexts[rows], u.scores[rows], u.allowed[rows])
    at = {r: i for i, r in enumerate(rows)}
    full = model._fit(train)
    part = sub._fit({at[r]: s for r, s in train.items()})
    assert np.allclose(full.p_code[test], part.p_code[[at[r] for r in test]])
    assert np.allclose(full.p_codeable[test], part.p_codeable[[at[r] for r in test]])


def test_code_next_skips_labelled_and_near_duplicates_and_spreads_over_codes():
    u = units()
    pred = u.classifier().fit_predict(labels_of(u, [0, 12]))
    dup = u.vectors.copy()
    dup[5] = dup[0]  # an exact repeat of a labelled unit
    queue = code_next(pred, dup, {0, 12}, 6)
    assert 0 not in queue and 12 not in queue and 5 not in queue
    assert len(queue) == len(set(queue)) == 6
    assert {i // 12 for i in queue} >= {2, 3}  # both clusters nobody has labelled yet
    assert queue == code_next(pred, dup, {0, 12}, 6)


@pytest.mark.parametrize("values, allowed, expected", [
    # each code against the best of the unit's *other* codes
    ([[3.0, 1.0, 2.0]], [[1, 1, 1]], [[1.0, -2.0, -1.0]]),
    # a tie at the top leads by nothing
    ([[2.0, 2.0, 0.0]], [[1, 1, 1]], [[0.0, 0.0, -2.0]]),
    # a code the unit may not take neither leads nor sets the bar
    ([[5.0, 1.0, 2.0]], [[0, 1, 1]], [[0.0, -1.0, 1.0]]),
    # a unit with one allowed code has no other to lead
    ([[5.0, 1.0, 2.0]], [[0, 1, 0]], [[0.0, 0.0, 0.0]]),
])
def test_lead_is_the_distance_to_the_best_other_code(values, allowed, expected):
    assert _lead(np.array(values), np.array(allowed, dtype=bool)).tolist() == expected


def test_code_next_prefers_a_unit_torn_between_two_codes():
    """Two units equally typical and equally far from the labels: the queue asks first about
    the one whose two best codes are close, not the one whose code is plain though whether it
    is coded at all is a coin toss (a doubt human coders share, which teaches the model less)."""
    vecs = np.eye(4)
    pred = Prediction(np.array([[0.9, 0.05, 0.05], [0.45, 0.44, 0.11], [1, 0, 0], [1, 0, 0]]),
                      np.array([0.55, 1.0, 1.0, 1.0]))
    assert pred.margin.round(2).tolist() == [0.85, 0.01, 1.0, 1.0]
    assert code_next(pred, vecs, {2, 3}, 2, density=np.ones(4)) == [1, 0]


@pytest.mark.parametrize("p_given, p_best, sets", [
    # Nothing learnt: the normalised row is all there is.
    (None, [0.8, 0.5], [{0}, {0, 1}]),
    # Learnt: the pair regression's own chances. Normalising [0.5, 0.1, 0.1] made its best
    # code 71% likely, where the regression said 50%; a second code is listed when a coder
    # gives it with a chance of a third, whatever the row sums to.
    ([[0.5, 0.1, 0.1], [0.6, 0.55, 0.1]], [0.5, 0.6], [{0}, {0, 1}]),
])
def test_the_best_codes_chance_is_the_regressions_own(p_given, p_best, sets):
    pred = Prediction(np.array([[0.8, 0.1, 0.1], [0.5, 0.4, 0.1]]), np.array([1.0, 1.0]),
                      None if p_given is None else np.array(p_given))
    assert pred.best.tolist() == [0, 0]
    assert pred.p_best.round(3).tolist() == p_best
    assert machine_sets(pred) == [frozenset(s) for s in sets]


def test_a_learnt_fit_keeps_the_pair_chances_and_normalises_them_for_the_best_code():
    u = units()
    pred = u.classifier()._fit(labels_of(u, [0, 1, 2, 12, 13, 14, 24, 25, 26, 36, 37, 38]))
    given = pred.p_given
    assert given is not None and not np.allclose(given.sum(axis=1), 1)
    assert np.allclose(pred.p_code, given / given.sum(axis=1, keepdims=True), atol=1e-5)
    assert u.classifier()._fit({}).p_given is None


@pytest.mark.parametrize("reference, other, best, expected", [
    ([{0}, {1}, set()], [{0}, {1}, set()], [0, 1, None], (1.0, 1.0, 1.0)),
    ([{0}, {1}, set()], [{1}, {0}, {0}], [1, 0, 0], (0.8, 0.0, 0.0)),
    # any shared code agrees on the unit, but the missed code 0 still costs macro-F1
    ([{0, 1}, {1}], [{1}, {1}], [1, 1], (1.0, 0.5, 1.0)),
])
def test_three_part_separates_codeable_from_code_choice(reference, other, best, expected):
    out = three_part([frozenset(r) for r in reference], [frozenset(o) for o in other],
                     ["a", "b"], best, [b if b is not None else 0 for b in best])
    f1, choice_f1, combined_agreement = expected
    assert out["codeable"]["f1"] == pytest.approx(f1, abs=1e-3)
    assert out["code_choice"]["macro_f1"] == pytest.approx(choice_f1, abs=1e-3)
    assert out["combined"]["agreement"] == pytest.approx(combined_agreement, abs=1e-3)


def test_simulated_review_learns_and_reports_both_strategies():
    u = units()
    u.gold_b = list(u.gold_a)  # a second coder who agrees with the first throughout
    curve = simulate_review(u, [4, 10])
    assert [(r["labels"], r["strategy"]) for r in curve] == [
        (4, "active"), (10, "active"), (4, "random"), (10, "random")]
    last = {r["strategy"]: r for r in curve if r["labels"] == 10}
    assert last["active"]["human_kappa"] == 1.0
    assert last["active"]["kappa"] >= 0.9 and last["active"]["ratio_to_human"] >= 0.9


def test_the_random_baseline_is_the_mean_of_several_pick_orders():
    u = units()
    single = [next(r for r in simulate_review(u, [4], seed=s) if r["strategy"] == "random")
              for s in (7, 8, 9)]
    pooled = next(r for r in simulate_review(u, [4], seed=7, random_repeats=3)
                  if r["strategy"] == "random")
    kappas = [r["kappa"] for r in single]
    assert pooled["repeats"] == 3
    assert pooled["kappa"] == round(float(np.mean(kappas)), 4)
    assert pooled["kappa_range"] == [min(kappas), max(kappas)]
