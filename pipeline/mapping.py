"""Map: score every passage against every framework element; assign an element or none.

Raw score = ``definition_weight`` x cosine(passage, definition) + the rest x mean of the top-k
cosines to the element's indicators and examples. Raw scores are not comparable across elements
(some definitions are simply closer to everyday talk), so each element's scores are centred on its
median over the corpus: the calibrated score says how much more a passage speaks to the element
than a typical passage does. A passage is assigned its best element when that score
reaches ``map.threshold``; "ambiguous" when the runner-up is within ``map.ambiguity_margin``
(still assigned to the best, flagged), otherwise "none". Topics are mapped by the shares of
their passages; a topic where most passages fit no element is emergent.

Usage::

    mapper = FrameworkMapper(cfg.map).fit(framework, encode)
    scores = mapper.transform(passage_vectors)   # (n_passages, n_elements)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from pipeline.config import MapConfig
from pipeline.framework import Framework
from pipeline.segment import model_text

Encoder = Callable[[list[str]], np.ndarray]


@dataclass
class FrameworkMapper:
    cfg: MapConfig

    def fit(self, framework: Framework, encode: Encoder) -> "FrameworkMapper":
        self.element_ids_ = [e.id for e in framework.elements]
        self.definition_vectors_ = encode([model_text(e.definition) for e in framework.elements])
        self.exemplar_vectors_ = [
            encode([model_text(t) for t in (*e.indicators, *e.examples)] or [model_text(e.definition)])
            for e in framework.elements]
        return self

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        w = self.cfg.definition_weight
        out = np.zeros((len(vectors), len(self.element_ids_)), dtype=np.float64)
        if len(vectors) == 0:
            return out
        for j, (dvec, evecs) in enumerate(zip(self.definition_vectors_, self.exemplar_vectors_)):
            sims = vectors @ evecs.T
            k = min(self.cfg.exemplar_top_k, sims.shape[1])
            top = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
            out[:, j] = w * (vectors @ dvec) + (1 - w) * top
        return np.round(out, 6)


def calibrate(raw: np.ndarray, medians: np.ndarray | None = None) -> np.ndarray:
    """Centre each element's column on its corpus median (see module docstring); ``medians``
    given (frozen mode: an earlier run's), on those, so earlier passages keep their scores."""
    if len(raw) == 0:
        return raw
    # Centres are rounded like the scores, so a later run recovers them exactly from the table.
    centre = np.round(np.median(raw, axis=0, keepdims=True) if medians is None
                      else medians[None, :], 6)
    return np.round(raw - centre, 6)


def medians_of(theme_scores: pd.DataFrame, element_ids: list[str]) -> np.ndarray:
    """The per-element centre an earlier run used, recovered from its theme_scores table
    (raw_score - score is the same on every row of an element)."""
    first = theme_scores.drop_duplicates("element").set_index("element")
    return np.round([float(first.at[e, "raw_score"] - first.at[e, "score"]) if e in first.index
                     else 0.0 for e in element_ids], 6)


def assign(scores: np.ndarray, element_ids: list[str], cfg: MapConfig
           ) -> tuple[list[str], list[float], list[str]]:
    """Best element (or 'none'), its score, and a status: assigned / ambiguous / none."""
    elements, best_scores, statuses = [], [], []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        best = float(row[order[0]]) if len(order) else 0.0
        second = float(row[order[1]]) if len(order) > 1 else -1.0
        if best < cfg.threshold:
            elements.append("none")
            statuses.append("none")
        else:
            elements.append(element_ids[order[0]])
            statuses.append("ambiguous" if best - second < cfg.ambiguity_margin else "assigned")
        best_scores.append(round(best, 6))
    return elements, best_scores, statuses


def theme_scores_table(passage_ids: list[str], scores: np.ndarray, raw: np.ndarray,
                       element_ids: list[str], best: list[str]) -> pd.DataFrame:
    rows = [(pid, el, float(scores[i, j]), float(raw[i, j]), best[i] == el)
            for i, pid in enumerate(passage_ids) for j, el in enumerate(element_ids)]
    return pd.DataFrame(rows, columns=["passage_id", "element", "score", "raw_score", "assigned"])


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
            "topic": int(topic), "n_passages": int(len(group)),
            "keywords": ", ".join(keywords.get(int(topic), [])[:8]),
            "lead_element": lead, "lead_share": round(float(fitted.get(lead, 0.0)), 4),
            "none_share": round(none_share, 4),
            "emergent": bool(topic != -1 and none_share >= cfg.emergent_share),
        })
    return pd.DataFrame(rows, columns=["topic", "n_passages", "keywords", "lead_element",
                                       "lead_share", "none_share", "emergent"])
