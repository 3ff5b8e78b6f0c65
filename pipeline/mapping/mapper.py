"""Map: score every passage against every framework element; assign an element or none.

Channels, each a cosine-like similarity per passage and element, summed with weights from
``map``:
- definition: ``definition_weight`` x cosine(passage, definition) + the rest x mean of the top-k
  cosines to the element's indicators and examples;
- context (``context_weight``): the same for the passage's context (the interviewer's prompt and
  the passage before it in the answer, see ``context_vectors``). In a semi-structured interview
  the question says much about what an answer is about;
- labelled passages (``Exemplars``: few-shot examples, passages analysts accepted): top-k
  cosine to an element's labelled passages (``exemplar_weight``), to their contexts
  (``exemplar_context_weight``), and how close the passage sits to them in its interview
  (``position_weight``, relative position, Gaussian kernel): interview guides put topics in order.

Raw sums are not comparable across elements (some definitions are simply closer to everyday
talk), so each element's column is standardised on the corpus (median-centred, divided by its
standard deviation): the calibrated score says by how many spreads a passage speaks to the
element more than a typical passage does, the same scale for every code. Scores are then blended
with the mean of their turn (``turn_smoothing``): human coders code whole answers, not sentences.

A passage is assigned its best element when that score reaches ``map.threshold``; "ambiguous"
when the runner-up is within ``map.ambiguity_margin`` (still assigned to the best, flagged),
otherwise "none"; up to ``map.max_codes`` elements at or above ``map.secondary_threshold`` are
listed (passages often carry several codes, rarely more than three). ``confidence`` is the
probability that a human coder gives the passage its best element: a logistic curve of the best
score and its margin, fitted on human-coded interviews (``lexicons/mapping/calibration.yaml``). Topics are mapped by the shares of
their passages; a topic where most passages fit no element is emergent.

Usage::

    mapper = FrameworkMapper(cfg.map).fit(framework, encode, exemplars)
    raw = mapper.transform(vectors, contexts, positions)     # (n_passages, n_elements)
    scores = smooth_turns(calibrate(raw)[0], turn_keys, cfg.map.turn_smoothing)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline import schemas
from pipeline.config import MapConfig
from pipeline.lexicons import lexicon_path
from pipeline.mapping.framework import Framework
from pipeline.mapping.learned import (Learned, LearningInputs, assignments, evidence_of, learn,
                                      scores_of)
from pipeline.segment import model_text

Encoder = Callable[[list[str]], np.ndarray]
POSITION_BANDWIDTH = 0.1  # of an interview's length: "the same part of the guide"
# The question is usually at the end of the interviewer's turn: its last 200 characters scored as
# well on pdpilot as 400 and cost about a third less to encode.
PROMPT_CHARS = 200


@dataclass
class Exemplars:
    """Labelled passages: their element, vector, context vector and relative position."""

    elements: list[str]
    vectors: np.ndarray
    contexts: np.ndarray
    positions: np.ndarray


@dataclass
class FrameworkMapper:
    cfg: MapConfig

    def fit(self, framework: Framework, encode: Encoder,
            exemplars: Exemplars | None = None) -> FrameworkMapper:
        self.element_ids_ = [e.id for e in framework.elements]
        self.definition_vectors_ = encode([model_text(e.definition) for e in framework.elements])
        self.exemplar_vectors_ = [
            encode([model_text(t) for t in (*e.indicators, *e.examples)] or [model_text(e.definition)])
            for e in framework.elements]
        self.labelled_ = exemplars
        return self

    def _definition_channel(self, vectors: np.ndarray) -> np.ndarray:
        w = self.cfg.definition_weight
        out = np.zeros((len(vectors), len(self.element_ids_)), dtype=np.float64)
        for j, (dvec, evecs) in enumerate(zip(self.definition_vectors_, self.exemplar_vectors_)):
            out[:, j] = w * (vectors @ dvec) + (1 - w) * _top_k(vectors @ evecs.T,
                                                                 self.cfg.exemplar_top_k)
        return out

    def transform(self, vectors: np.ndarray, contexts: np.ndarray | None = None,
                  positions: np.ndarray | None = None) -> np.ndarray:
        """Raw weighted channel sums; ``contexts`` (zero rows where a passage has none) and
        ``positions`` (0..1 within the interview) are optional."""
        out = np.zeros((len(vectors), len(self.element_ids_)), dtype=np.float64)
        if len(vectors) == 0:
            return out
        out += self._definition_channel(vectors)
        if contexts is not None and self.cfg.context_weight:
            out += self.cfg.context_weight * self._definition_channel(contexts)
        ex = self.labelled_
        if ex is not None and len(ex.elements):
            k = self.cfg.exemplar_top_k
            labels = np.asarray(ex.elements)
            for j, element in enumerate(self.element_ids_):
                mine = np.where(labels == element)[0]
                if not len(mine):
                    continue
                out[:, j] += self.cfg.exemplar_weight * _top_k(vectors @ ex.vectors[mine].T, k)
                if contexts is not None:
                    out[:, j] += self.cfg.exemplar_context_weight * _top_k(
                        contexts @ ex.contexts[mine].T, k)
                if positions is not None:
                    gap = positions[:, None] - ex.positions[mine][None, :]
                    out[:, j] += self.cfg.position_weight * np.exp(
                        -gap ** 2 / (2 * POSITION_BANDWIDTH ** 2)).mean(axis=1)
        return np.round(out, 6)


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


def context_vectors(passages: pd.DataFrame, prompts: list[str], vectors: np.ndarray,
                    encode: Encoder) -> np.ndarray:
    """Each passage's context as a vector: its turn's prompt (the interviewer's question) plus
    the passage before it in the same answer, summed and normalised (zero rows where a passage
    has neither). Prompts are shared by a turn's passages and encoded once; the passage before
    is already embedded, so context costs about one encoding per question, not per passage."""
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    texts = [model_text(_tail(p, PROMPT_CHARS)) if p else "" for p in prompts]
    unique = sorted({t for t in texts if t.strip()})
    out = np.zeros((len(texts), dim), dtype=np.float64)
    if unique:
        found = dict(zip(unique, encode(unique)))
        for i, t in enumerate(texts):
            if t in found:
                out[i] = found[t]
    previous: dict[tuple[str, int], int] = {}
    order = passages.assign(_row=np.arange(len(passages))).sort_values(
        ["doc_id", "turn_index", "start"], kind="stable")
    for doc_id, turn, row in zip(order["doc_id"], order["turn_index"], order["_row"]):
        if (doc_id, turn) in previous:
            out[row] += vectors[previous[(doc_id, turn)]]
        previous[(doc_id, turn)] = int(row)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.round(out / np.where(norms > 0, norms, 1.0), 6)


def _tail(text: str, chars: int) -> str:
    """The last ``chars`` characters of ``text``, starting at a word."""
    return text if len(text) <= chars else text[-chars:].split(" ", 1)[-1]


def passage_positions(passages: pd.DataFrame) -> np.ndarray:
    """Where each passage starts, as a share of its interview (0 = first words)."""
    if len(passages) == 0:
        return np.zeros(0)
    length = passages.groupby("doc_id")["end"].transform("max").to_numpy(dtype=np.float64)
    return np.round(passages["start"].to_numpy(dtype=np.float64) / np.maximum(length, 1.0), 6)


def turn_keys(passages: pd.DataFrame) -> list[str]:
    return [f"{d}\x1f{t}" for d, t in zip(passages["doc_id"], passages["turn_index"])]


def exemplars_from(labelled: list[tuple[str, str]], passages: pd.DataFrame, vectors: np.ndarray,
                   contexts: np.ndarray) -> Exemplars:
    """``(passage_id, element)`` pairs of labelled passages present in ``passages``."""
    row = {p: i for i, p in enumerate(passages["passage_id"])}
    pairs = sorted((row[p], e) for p, e in labelled if p in row)
    idx = np.array([i for i, _ in pairs], dtype=np.int64)
    return Exemplars([e for _, e in pairs], vectors[idx], contexts[idx],
                     passage_positions(passages)[idx])


def score_passages(mapper: FrameworkMapper, passages: pd.DataFrame, vectors: np.ndarray,
                   contexts: np.ndarray, centres: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Raw and calibrated (standardised, turn-smoothed) scores and the centres used."""
    raw = mapper.transform(vectors, contexts, passage_positions(passages))
    scores, centres = calibrate(raw, centres)
    return raw, smooth_turns(scores, turn_keys(passages), mapper.cfg.turn_smoothing), centres


def calibrate(raw: np.ndarray, centres: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Standardise each element's column (see module docstring) and return the (centre, scale)
    used; ``centres`` given (frozen mode: an earlier run's), those, so earlier passages keep
    their scores."""
    if centres is None:
        centre = np.round(np.median(raw, axis=0), 6) if len(raw) else np.zeros(raw.shape[1])
        spread = np.round(raw.std(axis=0), 6) if len(raw) else np.ones(raw.shape[1])
        centres = (centre, np.where(spread > 0, spread, 1.0))
    if len(raw) == 0:
        return raw, centres
    return np.round((raw - centres[0][None, :]) / centres[1][None, :], 6), centres


def smooth_turns(scores: np.ndarray, turn_keys: list[str], weight: float) -> np.ndarray:
    """Blend each passage's scores with its turn's mean: ``(1 - weight) x own + weight x turn``."""
    if not weight or len(scores) == 0:
        return scores
    means = pd.DataFrame(scores).groupby(np.asarray(turn_keys)).transform("mean").to_numpy()
    return np.round((1 - weight) * scores + weight * means, 6)


def centres_of(theme_scores: pd.DataFrame, element_ids: list[str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """The per-element centre and scale an earlier run used, from its theme_scores table."""
    first = theme_scores.drop_duplicates("element").set_index("element")
    centre = [float(first.at[e, "centre"]) if e in first.index else 0.0 for e in element_ids]
    scale = [float(first.at[e, "scale"]) if e in first.index else 1.0 for e in element_ids]
    return np.array(centre), np.array(scale)


@lru_cache(maxsize=1)
def _confidence_curve() -> dict[str, float]:
    data = yaml.safe_load(lexicon_path("mapping/calibration.yaml").read_text(encoding="utf-8"))
    return {k: float(data[k]) for k in ("intercept", "best", "margin")}


def confidence(scores: np.ndarray) -> np.ndarray:
    """Probability that a human coder gives each passage its best element (module docstring)."""
    if scores.shape[1] == 0 or len(scores) == 0:
        return np.zeros(len(scores))
    top = np.sort(scores, axis=1)
    second = top[:, -2] if scores.shape[1] > 1 else np.zeros(len(scores))
    c = _confidence_curve()
    z = c["intercept"] + c["best"] * top[:, -1] + c["margin"] * (top[:, -1] - second)
    return np.round(1 / (1 + np.exp(-z)), 4)


def assign(scores: np.ndarray, element_ids: list[str], cfg: MapConfig
           ) -> tuple[list[str], list[float], list[str], list[str]]:
    """Best element (or 'none'), its score, a status (assigned / ambiguous / none) and the
    elements at or above ``secondary_threshold``, at most ``max_codes`` (best first,
    ``; ``-joined)."""
    elements, best_scores, statuses, all_codes = [], [], [], []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        best = float(row[order[0]]) if len(order) else 0.0
        second = float(row[order[1]]) if len(order) > 1 else -np.inf
        if best < cfg.threshold:
            elements.append("none")
            statuses.append("none")
            all_codes.append("")
        else:
            elements.append(element_ids[order[0]])
            statuses.append("ambiguous" if best - second < cfg.ambiguity_margin else "assigned")
            also = [element_ids[k] for k in order[1:]
                    if row[k] >= max(cfg.secondary_threshold, cfg.threshold)][:cfg.max_codes - 1]
            all_codes.append("; ".join([element_ids[order[0]], *also]))
        best_scores.append(round(best, 6))
    return elements, best_scores, statuses, all_codes


def theme_scores_table(passage_ids: list[str], scores: np.ndarray, raw: np.ndarray,
                       element_ids: list[str], best: list[str],
                       centres: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """One row per passage and element: calibrated and raw score, and the element's centre and
    scale (so that a frozen-mode run scores new passages exactly as this one did)."""
    rows = [(pid, el, float(scores[i, j]), float(raw[i, j]), float(centres[0][j]),
             float(centres[1][j]), best[i] == el)
            for i, pid in enumerate(passage_ids) for j, el in enumerate(element_ids)]
    return pd.DataFrame(rows, columns=schemas.THEME_SCORES)


def topic_themes_table(topics: list[int], best: list[str], keywords: dict[int, list[str]],
                       cfg: MapConfig) -> pd.DataFrame:
    """Per topic: passages, share per element and of none, the leading element, emergent flag."""
    frame = pd.DataFrame({"topic": topics, "element": best})
    rows = []
    for topic, group in frame.groupby("topic", sort=True):
        shares = group["element"].value_counts(normalize=True)
        none_share = float(shares.get("none", 0.0))
        fitted = shares.drop("none", errors="ignore")
        lead = str(fitted.sort_index().idxmax()) if len(fitted) else "none"
        rows.append({
            "topic": int(topic), "n_passages": len(group),
            "keywords": ", ".join(keywords.get(int(topic), [])[:8]),
            "lead_element": lead, "lead_share": round(float(fitted.get(lead, 0.0)), 4),
            "none_share": round(none_share, 4),
            "emergent": bool(topic != -1 and none_share >= cfg.emergent_share),
        })
    return pd.DataFrame(rows, columns=schemas.TOPIC_THEMES)


def with_review_exemplars(framework: Framework, labels: pd.DataFrame) -> Framework:
    """Accepted quotes join their element's examples (labels for unknown elements are ignored)."""
    positives = labels[(labels["polarity"] > 0) & (labels["text"].astype(str).str.strip() != "")]
    elements = tuple(
        replace(e, examples=(*e.examples, *positives.loc[positives["element"] == e.id, "text"]))
        for e in framework.elements)
    return replace(framework, elements=elements)


@dataclass
class Mapped:
    """What mapping gives a run: the framework (with its exemplars, in exemplars mode), the
    score matrix ranking uses, the theme_scores and passage_themes tables, and what learning
    needs (saved in the run for the review server) with what was learnt."""

    framework: Framework
    scores: np.ndarray
    theme_scores: pd.DataFrame
    passage_themes: pd.DataFrame
    inputs: LearningInputs
    learned: Learned


def map_passages(framework: Framework, passages: pd.DataFrame, vectors: np.ndarray,
                 prompts: list[str], encode: Callable[[list[str]], np.ndarray], cfg: MapConfig,
                 labels: pd.DataFrame | None = None, base_scores: pd.DataFrame | None = None,
                 model_cache: Path | None = None) -> Mapped:
    """Scores per passage and element, calibrated on this corpus, or on a frozen base run's
    ``theme_scores`` (``base_scores``) so earlier passages keep their mapping. ``labels`` (the
    run's review_labels) train the classifier (``map.learner = "classifier"``, see
    ``pipeline.mapping.learned``) or, with ``"exemplars"``, join the sums as labelled passages.
    ``prompts`` are the interviewer's prompt before each passage; ``encode`` embeds prompts and
    element texts. ``model_cache`` keeps fits for reruns (``learned.learn``)."""
    labelled: list[tuple[str, str]] = []
    if cfg.learner == "exemplars" and labels is not None and len(labels):
        framework = with_review_exemplars(framework, labels)
        positives = labels[labels["polarity"] > 0]
        by_text = dict(zip(passages["text"], passages["passage_id"]))
        labelled = [(pid or by_text.get(text, ""), element) for pid, text, element in
                    zip(positives["passage_id"], positives["text"], positives["element"])]
    contexts = context_vectors(passages, prompts, vectors, encode)
    exemplars = exemplars_from(labelled, passages, vectors, contexts)
    mapper = FrameworkMapper(cfg).fit(framework, encode, exemplars)
    ids = mapper.element_ids_
    centres = centres_of(base_scores, ids) if base_scores is not None else None
    raw, scores, centres = score_passages(mapper, passages, vectors, contexts, centres)
    evidence, evidence_vectors = evidence_of(framework, mapper.definition_vectors_,
                                             mapper.exemplar_vectors_)
    inputs = LearningInputs(list(passages["passage_id"]), ids, vectors, contexts, scores,
                            evidence, evidence_vectors)
    learned = learn(inputs, labels if cfg.learner == "classifier" else None, cfg,
                    list(passages["text"]), model_cache)
    if not learned.learnt:
        best, best_scores, status, codes = assign(scores, ids, cfg)
        conf = confidence(scores)
    else:
        best, best_scores, status, codes, conf = assignments(learned, ids, cfg)
    final = scores_of(learned, inputs)
    theme_scores = theme_scores_table(list(passages["passage_id"]), final, raw, ids, best, centres)
    passage_themes = pd.DataFrame({"passage_id": passages["passage_id"], "element": best,
                                   "score": best_scores, "status": status, "elements": codes,
                                   "confidence": conf})
    return Mapped(framework, final, theme_scores, passage_themes, inputs, learned)
