"""Where the machine's errors are, how far a second human gets, and how fast labels help.

``themeflow evaluate`` builds ``CodedUnits`` (passages of transcripts, or open-ended survey
answers) and this module reports on them:

- ``three_part``: *codeable* detection (did the human code the unit at all: precision, recall,
  F1), *code choice* on the units the human coded (macro-F1 and kappa), and the *combined*
  unit-level figures;
- ``human_ceiling``: coder B against coder A with the same statistics on the same units, so the
  machine can be read as a share of what a second human reaches;
- ``simulate_review``: from zero labels, rounds of picks ("code next", the review page's
  strategy, or random picks as a baseline) answered from coder A's codes, the classifier
  refitted each round, agreement measured on the units not yet labelled.

Kappa is over one label per unit: when two coders' code sets share a code they agree on it;
otherwise each side's label is its best code (a coder's set: its first code by name), or "none".
This credits a machine whose best code is any of the human's codes, as the accuracy always did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from pipeline.mapping.classifier import CodeClassifier, Labels, Prediction, code_next
from pipeline.review.agreement import cohen_kappa

MAX_CODES = 3  # as ``map.max_codes``' default
CONFIDENT = 0.8  # "the machine is sure": calibration asks that 80% of these agree with the human


@dataclass
class CodedUnits:
    """Units with their vectors, zero-shot mapper scores and human codes (code indices).
    ``gold_a[i]`` / ``gold_b[i]`` is None where that coder did not code unit i at all (a survey
    answer the second coder never saw), an empty set where they coded it "none"."""

    ids: list[str]
    codes: list[str]
    groups: list[str]                  # a survey question per unit ("" for transcripts)
    vectors: np.ndarray
    contexts: np.ndarray
    scores: np.ndarray                 # (n_units, n_codes) calibrated mapper scores
    allowed: np.ndarray                # (n_units, n_codes) bool
    gold_a: list[frozenset[int] | None]
    gold_b: list[frozenset[int] | None] | None = None

    def classifier(self) -> CodeClassifier:
        return CodeClassifier(self.vectors, self.contexts, self.scores, self.allowed)


def machine_sets(pred: Prediction) -> list[frozenset[int]]:
    """The codes the machine gives each unit, by the rule a run's tables use
    (``Prediction.codes``)."""
    return [frozenset(c) for c in pred.codes(MAX_CODES)]


def _pair_label(a: frozenset[int], b: frozenset[int], b_best: int | None,
                codes: list[str]) -> tuple[str, str]:
    if not a or not b:
        return (min((codes[j] for j in a), default="none"),
                codes[b_best] if b and b_best is not None else
                min((codes[j] for j in b), default="none"))
    if b_best is not None and b_best in a:
        return codes[b_best], codes[b_best]
    shared = a & b
    if shared:
        label = min(codes[j] for j in shared)
        return label, label
    return min(codes[j] for j in a), (codes[b_best] if b_best is not None
                                      else min(codes[j] for j in b))


def _macro_f1(a: list[frozenset[int]], b: list[frozenset[int]]) -> float:
    f1s = []
    for j in sorted(set().union(*a)) if a else []:
        tp = sum(j in x and j in y for x, y in zip(a, b))
        fp = sum(j not in x and j in y for x, y in zip(a, b))
        fn = sum(j in x and j not in y for x, y in zip(a, b))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return round(float(np.mean(f1s)), 4) if f1s else 0.0


def _prf(truth: list[bool], guess: list[bool]) -> dict:
    tp = sum(t and g for t, g in zip(truth, guess))
    prec = tp / sum(guess) if sum(guess) else 0.0
    rec = tp / sum(truth) if sum(truth) else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
            "units": len(truth), "coded_by_reference": int(sum(truth))}


def three_part(reference: list[frozenset[int]], other: list[frozenset[int]], codes: list[str],
               other_best: list[int | None] | None = None,
               forced_best: list[int] | None = None) -> dict:
    """Codeable detection, code choice on the units the reference coded, and combined figures,
    of ``other`` against ``reference`` over the same units. ``other_best`` is the other side's
    best code where it ranks its codes (the machine); ``forced_best`` the machine's best code
    even where it says "none" (code choice asks which code, given that the human coded it)."""
    best = other_best or [None] * len(other)
    pairs = [_pair_label(a, b, k, codes) for a, b, k in zip(reference, other, best)]
    coded = [i for i, a in enumerate(reference) if a]
    choice_sets = [frozenset([forced_best[i]]) if forced_best is not None else other[i]
                   for i in coded]
    choice_best = [forced_best[i] if forced_best is not None else best[i] for i in coded]
    choice_pairs = [_pair_label(reference[i], s, k, codes)
                    for i, s, k in zip(coded, choice_sets, choice_best)]
    return {
        "codeable": _prf([bool(a) for a in reference], [bool(b) for b in other]),
        "code_choice": {
            "units": len(coded),
            "macro_f1": _macro_f1([reference[i] for i in coded], choice_sets),
            "kappa": cohen_kappa(*map(list, zip(*choice_pairs))) if choice_pairs else 0.0},
        "combined": {
            "units": len(reference), "macro_f1": _macro_f1(reference, other),
            "kappa": cohen_kappa(*map(list, zip(*pairs))) if pairs else 0.0,
            "agreement": round(float(np.mean([x == y for x, y in pairs])), 4) if pairs else 0.0},
    }


def machine_report(units: CodedUnits, pred: Prediction, rows: list[int]) -> dict:
    sets = machine_sets(pred)
    best = [int(b) for b in pred.best]
    return three_part([units.gold_a[i] for i in rows], [sets[i] for i in rows], units.codes,
                      [best[i] if sets[i] else None for i in rows], [best[i] for i in rows])


def human_ceiling(units: CodedUnits, rows: list[int]) -> dict | None:
    """Coder B against coder A on the units of ``rows`` both coded (None without coder B)."""
    if units.gold_b is None:
        return None
    both = [i for i in rows if units.gold_a[i] is not None and units.gold_b[i] is not None]
    if not both:
        return None
    out = three_part([units.gold_a[i] for i in both], [units.gold_b[i] for i in both],
                     units.codes)
    return {**out, "rows": both}


def ratio(machine: float, human: float | None) -> float | None:
    return round(machine / human, 4) if human else None


def _pick(units: CodedUnits, pred: Prediction | None, labels: Labels, rows: list[int], n: int,
          strategy: str, rng: random.Random) -> list[int]:
    pool = [i for i in rows if i not in labels]
    if n <= 0 or not pool:
        return []
    if strategy == "random" or pred is None:
        return sorted(rng.sample(pool, min(n, len(pool))))
    return code_next(pred, units.vectors, set(labels), n, np.array(pool))


def simulate_review(units: CodedUnits, rounds: list[int], seed: int = 42,
                    random_repeats: int = 1) -> list[dict]:
    """Learning curves, active and random: ``rounds`` count labels per group (per survey
    question; for transcripts the whole study is one group). Random picks are repeated with
    ``random_repeats`` pick orders (seeds ``seed``, ``seed + 1``, ...) and averaged, since one
    order moves a point by more than a good strategy gains; ``kappa_range`` gives their spread."""
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(units.groups):
        if units.gold_a[i] is not None:
            groups.setdefault(g, []).append(i)
    curve = _curve(units, groups, rounds, "active", random.Random(seed))
    repeats = [_curve(units, groups, rounds, "random", random.Random(seed + r))
               for r in range(max(1, random_repeats))]
    for rows in zip(*repeats):
        mean = dict(rows[0])
        for key in rows[0]:
            numbers = [r[key] for r in rows if isinstance(r[key], (int, float))]
            if key not in ("labels", "labels_total", "units_scored", "strategy"):
                mean[key] = round(float(np.mean(numbers)), 4) if numbers else None
        mean["repeats"] = len(rows)
        mean["kappa_range"] = [min(r["kappa"] for r in rows), max(r["kappa"] for r in rows)]
        curve.append(mean)
    return curve


def _curve(units: CodedUnits, groups: dict[str, list[int]], rounds: list[int], strategy: str,
           rng: random.Random) -> list[dict]:
    model = units.classifier()
    curve = []
    labels: Labels = {}
    pred = model.fit_predict(labels)
    for target in sorted(rounds):
        for rows in groups.values():
            have = sum(i in labels for i in rows)
            for i in _pick(units, pred, labels, rows, target - have, strategy, rng):
                labels[i] = units.gold_a[i]
        pred = model.fit_predict(labels)
        rest = [i for rows in groups.values() for i in rows if i not in labels]
        if not rest:
            break
        machine = machine_report(units, pred, rest)
        human = human_ceiling(units, rest)
        if human:  # the machine on the very units the second coder coded
            machine = machine_report(units, pred, human["rows"])
        kappa = machine["combined"]["kappa"]
        scored = human["rows"] if human else rest
        sure = [i for i in scored if pred.p_best[i] >= CONFIDENT]
        curve.append({
            "labels": target, "labels_total": len(labels), "strategy": strategy,
            "kappa": kappa, "macro_f1": machine["combined"]["macro_f1"],
            "code_choice_kappa": machine["code_choice"]["kappa"],
            "codeable_f1": machine["codeable"]["f1"],
            "human_kappa": human["combined"]["kappa"] if human else None,
            "ratio_to_human": ratio(kappa, human["combined"]["kappa"] if human else None),
            "units_scored": len(scored),
            "confident_share": round(len(sure) / len(scored), 4),
            "confident_agreement": round(float(np.mean(
                [int(pred.best[i]) in (units.gold_a[i] or ()) for i in sure])), 4)
            if sure else None})
    return curve


def calibration_bins(units: CodedUnits, pred: Prediction, rows: list[int],
                     bins: int = 5) -> list[dict]:
    """Among units whose best code has probability in each band, how often the human gave it."""
    p = pred.p_best[rows]
    agree = np.array([int(pred.best[i]) in (units.gold_a[i] or ()) for i in rows])
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if inside.any():
            out.append({"bin": f"{lo:.1f}-{hi:.1f}", "units": int(inside.sum()),
                        "mean_probability": round(float(p[inside].mean()), 4),
                        "agreement": round(float(agree[inside].mean()), 4)})
    return out
