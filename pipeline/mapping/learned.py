"""Codes learnt from the team's labels: the one way from zero-shot scores and labels to a run's
mapping, shared by ``themeflow run`` and the review server, so the page's live re-ranking and
the next run agree exactly.

A run saves what learning needs (``LearningInputs``: passage and context vectors, the mapper's
zero-shot scores, the codebook's lines and their vectors) in its folder. Labels are the run's
``review_labels`` table: polarity +1 rows are what a passage carries (a "code next" answer, an
accepted or relabelled quote; element ``none`` for "none of these"), -1 rows only rule an
element out (a rejected quote). ``learn`` fits ``classifier.CodeClassifier`` on them and gives,
per passage and element, the probability that the team codes the passage so; a labelled
passage keeps its label (probability 1 or 0). ``assignments`` turns that into the
passage_themes columns, and ``why`` into words an analyst can check.

With no labels nothing is learnt: the mapper's scores and assignment stand, as before the
classifier existed (``map.learner = "exemplars"`` keeps the older few-shot sums for good).

A run keeps what each fit predicted in ``STUDY/cache/models/``, under a hash of the labels,
the passage vectors and scores (so the encoder and codebook), the classifier's version and
the settings it reads: a rerun with the same labels reuses it, and gives the same tables.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schemas
from pipeline.config import MapConfig
from pipeline.fsutil import atomic_write
from pipeline.mapping.classifier import CodeClassifier, Labels, Prediction
from pipeline.mapping.framework import Framework

NONE = schemas.NONE
# Bump when the classifier's features or fit change, so cached predictions are not reused.
CLASSIFIER_VERSION = 5
MODELS_KEPT = 20  # cached fits kept per study (the newest); each is a few hundred KB
MAX_LOGIT = 9.21  # probability 1e-4 .. 1 - 1e-4, in the mapper's score column
WHY_CHARS = 90


@dataclass
class LearningInputs:
    """What a run saves for learning (``learning.npz`` numbers, ``learning.json`` words)."""

    passage_ids: list[str]
    element_ids: list[str]
    vectors: np.ndarray
    contexts: np.ndarray
    scores: np.ndarray             # the mapper's zero-shot scores (calibrated, turn-smoothed)
    evidence: list[tuple[int, str, str]]   # (element index, kind, codebook line)
    evidence_vectors: np.ndarray

    def save(self, folder: Path) -> None:
        import io

        buf = io.BytesIO()
        np.savez(buf, vectors=self.vectors, contexts=self.contexts, scores=self.scores,
                 evidence_vectors=self.evidence_vectors)
        atomic_write(folder / "learning.npz", buf.getvalue())
        words = {"passage_ids": self.passage_ids, "element_ids": self.element_ids,
                 "evidence": [list(e) for e in self.evidence]}
        atomic_write(folder / "learning.json", json.dumps(words).encode("utf-8"))

    @classmethod
    def load(cls, folder: Path) -> LearningInputs:
        words = json.loads((folder / "learning.json").read_text(encoding="utf-8"))
        with np.load(folder / "learning.npz") as arrays:
            return cls(words["passage_ids"], words["element_ids"], arrays["vectors"],
                       arrays["contexts"], arrays["scores"],
                       [(int(j), k, t) for j, k, t in words["evidence"]],
                       arrays["evidence_vectors"])


def evidence_of(framework: Framework, definition_vectors: np.ndarray,
                line_vectors: list[np.ndarray]) -> tuple[list[tuple[int, str, str]], np.ndarray]:
    """Each element's definition, indicators and examples with the vectors the mapper fitted
    (``line_vectors[j]`` holds element j's indicators then examples)."""
    lines, vectors = [], []
    for j, e in enumerate(framework.elements):
        lines.append((j, "definition", e.definition))
        vectors.append(definition_vectors[j])
        extra = [("indicator", t) for t in e.indicators] + [("example", t) for t in e.examples]
        for (kind, text), vec in zip(extra, line_vectors[j] if extra else []):
            lines.append((j, kind, text))
            vectors.append(vec)
    dim = definition_vectors.shape[1] if definition_vectors.ndim == 2 else 0
    return lines, np.array(vectors).reshape(len(vectors), dim)


def labels_from(table: pd.DataFrame | None, passage_ids: list[str], element_ids: list[str],
                texts: list[str] | None = None) -> tuple[Labels, dict[int, frozenset[int]]]:
    """Complete labels ``{row: codes}`` (empty = none of these) and partial ones (codes ruled
    out); a text-only label finds its passage by exact text. Labels of passages or elements not
    in this run are left out."""
    if table is None or not len(table):
        return {}, {}
    row = {p: i for i, p in enumerate(passage_ids)}
    by_text = {t: i for i, t in enumerate(texts or [])}
    col = {e: j for j, e in enumerate(element_ids)}
    pos: dict[int, set[int]] = {}
    neg: dict[int, set[int]] = {}
    for pid, element, polarity, text in zip(table["passage_id"], table["element"],
                                            table["polarity"], table["text"]):
        r = row.get(pid) if pid else by_text.get(text)
        if r is None or (element != NONE and element not in col):
            continue
        if int(polarity) > 0:
            pos.setdefault(r, set()).update(() if element == NONE else (col[element],))
        elif element != NONE:
            neg.setdefault(r, set()).add(col[element])
    labels = {r: frozenset(s) for r, s in sorted(pos.items())}
    negatives = {r: frozenset(s) for r, s in sorted(neg.items()) if r not in labels}
    return labels, negatives


@dataclass
class Learned:
    prediction: Prediction          # the classifier's (its zero-shot curve without labels)
    probability: np.ndarray         # (n, k): the team codes passage i with element j
    labels: Labels
    negatives: dict[int, frozenset[int]]

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def learnt(self) -> bool:
        """Whether any label taught the model something (else the mapper's scores stand)."""
        return bool(self.labels or self.negatives)


def learn(inputs: LearningInputs, table: pd.DataFrame | None, cfg: MapConfig,
          texts: list[str] | None = None, cache: Path | None = None) -> Learned:
    """Fit on the labels in ``table`` (see module docstring) and predict every passage; with a
    ``cache`` folder, a fit already made on the same inputs is read instead (the review server
    passes none: each decision is a new fit, not worth keeping)."""
    labels, negatives = labels_from(table, inputs.passage_ids, inputs.element_ids, texts)
    clf = CodeClassifier(inputs.vectors, inputs.contexts, inputs.scores,
                         threshold=cfg.threshold)
    key = fit_key(inputs, labels, negatives, cfg) if cache is not None and (
        labels or negatives) else None
    pred = _cached(cache, key)
    if pred is None:
        pred = clf.fit_predict(labels, negatives)
        if key is not None:
            _keep(cache, key, pred)
    decided = with_decisions(pred, labels, negatives)
    probability = decided.p_codeable[:, None] * decided.given
    return Learned(pred, np.round(probability, 6), labels, negatives)


def with_decisions(pred: Prediction, labels: Labels, negatives: dict[int, frozenset[int]]
                   ) -> Prediction:
    """The prediction with the team's decisions laid over it: a labelled passage is coded
    with its label's elements for certain (a "none" label: not coded), and a rejected element
    is ruled out. The run's probabilities and its assignments both read this, so a table never
    disagrees with what the team decided."""
    p_code, p_codeable, given = pred.p_code.copy(), pred.p_codeable.copy(), pred.given.copy()
    for r, codes in negatives.items():
        p_code[r, list(codes)] = given[r, list(codes)] = 0.0
    for r, codes in labels.items():
        p_codeable[r] = float(bool(codes))
        p_code[r] = given[r] = 0.0
        p_code[r, list(codes)] = given[r, list(codes)] = 1.0
    return Prediction(p_code, p_codeable, given)


def fit_key(inputs: LearningInputs, labels: Labels, negatives: dict[int, frozenset[int]],
            cfg: MapConfig) -> str:
    """What a fit depends on, hashed: the classifier's version and threshold, the passages and
    elements, the labels, and the vectors and zero-shot scores it reads."""
    h = hashlib.sha256(json.dumps({
        "version": CLASSIFIER_VERSION, "threshold": cfg.threshold,
        "passages": inputs.passage_ids, "elements": inputs.element_ids,
        "labels": [[r, sorted(c)] for r, c in sorted(labels.items())],
        "negatives": [[r, sorted(c)] for r, c in sorted(negatives.items())]},
        sort_keys=True).encode("utf-8"))
    for array in (inputs.vectors, inputs.contexts, inputs.scores):
        h.update(str(array.dtype).encode() + str(array.shape).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _cached(cache: Path | None, key: str | None) -> Prediction | None:
    path = cache / f"{key}.npz" if cache is not None and key else None
    if path is None or not path.exists():
        return None
    try:
        with np.load(path) as arrays:
            return Prediction(arrays["p_code"], arrays["p_codeable"],
                              arrays["p_given"] if "p_given" in arrays else None)
    except (OSError, ValueError, KeyError):  # a damaged entry is refitted and rewritten
        return None


def _keep(cache: Path, key: str, pred: Prediction) -> None:
    """Save a fit's predictions; only the newest ``MODELS_KEPT`` stay."""
    cache.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    arrays = {"p_code": pred.p_code, "p_codeable": pred.p_codeable}
    if pred.p_given is not None:
        arrays["p_given"] = pred.p_given
    np.savez(buf, **arrays)
    atomic_write(cache / f"{key}.npz", buf.getvalue())
    old = sorted(cache.glob("*.npz"), key=lambda p: (p.stat().st_mtime, p.name))[:-MODELS_KEPT]
    for path in old:
        path.unlink(missing_ok=True)


def scores_of(learned: Learned, inputs: LearningInputs) -> np.ndarray:
    """The score matrix ranking and the tables use: the mapper's until something is learnt,
    then the learnt probability as log-odds (0 = even odds, on about the mapper's scale)."""
    if not learned.learnt:
        return inputs.scores
    p = np.clip(learned.probability, 1e-4, 1 - 1e-4)
    return np.round(np.clip(np.log(p / (1 - p)), -MAX_LOGIT, MAX_LOGIT), 6)


def assignments(learned: Learned, element_ids: list[str], cfg: MapConfig
                ) -> tuple[list[str], list[float], list[str], list[str], np.ndarray]:
    """Best element (or none), its probability, a status, the elements listed and the
    confidence. The elements are ``Prediction.codes``, the rule ``themeflow evaluate``
    measures: a passage is coded when the team more likely than not codes it at all, with its
    best element, and further elements that a coder who codes it gives with a chance of a third
    (at most ``max_codes``). A labelled passage has its label; a rejected element is ruled out.
    "ambiguous" when the runner-up's probability is within 0.1 of the best's."""
    decided = with_decisions(learned.prediction, learned.labels,
                             learned.negatives).codes(cfg.max_codes)
    elements, best_p, statuses, listed = [], [], [], []
    for row, codes in zip(learned.probability, decided):
        if not codes:
            elements.append(NONE)
            statuses.append("none")
            listed.append("")
            best_p.append(round(float(row.max()) if len(row) else 0.0, 6))
            continue
        second = max((float(row[j]) for j in range(len(row)) if j != codes[0]), default=0.0)
        elements.append(element_ids[codes[0]])
        statuses.append("ambiguous" if row[codes[0]] - second < 0.1 else "assigned")
        listed.append("; ".join(element_ids[j] for j in codes))
        best_p.append(round(float(row[codes[0]]), 6))
    confidence = np.round(learned.probability.max(axis=1) if learned.probability.size
                          else np.zeros(len(learned.probability)), 4)
    return elements, best_p, statuses, listed, confidence


def _clip(text: str, chars: int = WHY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + "…"


def why(learned: Learned, inputs: LearningInputs, texts: list[str], labels: dict[str, str],
        row: int, j: int) -> str:
    """What made passage ``row`` a candidate for element ``j``, in words: the probability, how
    many labels it was learnt from, the closest codebook line and the closest passage the team
    coded so. ``labels`` maps element ids to their labels; ``texts`` are the passages' texts."""
    name = labels.get(inputs.element_ids[j], inputs.element_ids[j])
    if j in learned.labels.get(row, ()):
        return f"coded {name} by the team"
    p = float(learned.probability[row, j])
    n = learned.n_labels + len(learned.negatives)
    source = (f"learnt from {n} labelled passage{'s' * (n != 1)}" if learned.learnt
              else "no labels yet: from the codebook alone")
    parts = [f"{p:.0%} likely to be coded {name} ({source})"]
    mine = [i for i, (e, _, _) in enumerate(inputs.evidence) if e == j]
    if mine:
        sims = inputs.evidence_vectors[mine] @ inputs.vectors[row]
        _, kind, text = inputs.evidence[mine[int(np.argmax(sims))]]
        parts.append(f'closest to its {kind} "{_clip(text)}"')
    coded = np.array(sorted(r for r, s in learned.labels.items() if j in s and r != row),
                     dtype=np.int64)
    if len(coded):
        near = int(coded[int(np.argmax(inputs.vectors[coded] @ inputs.vectors[row]))])
        parts.append(f'and to a passage the team coded so: "{_clip(texts[near])}"')
    return "; ".join(parts)


def explain(candidates: pd.DataFrame, learned: Learned, inputs: LearningInputs,
            texts: list[str], element_labels: dict[str, str]) -> pd.DataFrame:
    """``candidates`` plus ``probability`` (that the team codes the passage with the candidate's
    element) and ``why`` (``why``)."""
    row = {p: i for i, p in enumerate(inputs.passage_ids)}
    col = {e: j for j, e in enumerate(inputs.element_ids)}
    pairs = [(row[p], col[e]) for p, e in zip(candidates["passage_id"], candidates["element"])]
    return candidates.assign(
        probability=[round(float(learned.probability[i, j]), 4) for i, j in pairs],
        why=[why(learned, inputs, texts, element_labels, i, j) for i, j in pairs])


def cross_validated_kappa(learned: Learned, inputs: LearningInputs, cfg: MapConfig,
                          folds: int = 5) -> float | None:
    """Estimated agreement with the team: Cohen's kappa of the best element (or none) against
    the labels, each fold predicted by a model that never saw it; None below 10 labels."""
    from sklearn.metrics import cohen_kappa_score

    rows = sorted(learned.labels)
    if len(rows) < 10:
        return None
    clf = CodeClassifier(inputs.vectors, inputs.contexts, inputs.scores,
                         threshold=cfg.threshold)
    human, machine = [], []
    for f in range(folds):
        test = rows[f::folds]
        train = {r: s for r, s in learned.labels.items() if r not in set(test)}
        pred = clf.fit_predict(train, learned.negatives)
        for r in test:
            guess = int(pred.best[r]) if pred.p_codeable[r] >= 0.5 else -1
            truth = learned.labels[r]
            human.append(guess if guess in truth else (min(truth) if truth else -1))
            machine.append(guess)
    if len(set(human) | set(machine)) < 2:
        return None
    return round(float(cohen_kappa_score(human, machine)), 3)
