"""Agreement between two coders over the same items: Cohen's kappa and Gwet's AC1.

Kappa is the field's familiar figure; AC1 is reported beside it because kappa collapses when one
category dominates (most candidate quotes accepted, most passages uncoded) even when coders agree
almost always. Used by ``themeflow evaluate`` (machine vs human) and by the review workspace
(analyst vs analyst: ``reviewer_agreement``, pooled with n, span overlap apart).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

# Kappa on fewer items is noise (issue 22: -0.33 from 2 items): per-element figures need this
# many items decided by both reviewers; the pooled figure is always given, with its n.
MIN_ITEMS_PER_ELEMENT = 10


def gwet_ac1(a: list[str], b: list[str]) -> float:
    cats = sorted(set(a) | set(b))
    if len(cats) < 2:
        return 1.0
    pa = float(np.mean([x == y for x, y in zip(a, b)]))
    pi = [(a.count(c) + b.count(c)) / (2 * len(a)) for c in cats]
    pe = sum(p * (1 - p) for p in pi) / (len(cats) - 1)
    return round((pa - pe) / (1 - pe), 4) if pe < 1 else 1.0


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Kappa; 1.0 when both coders used one and the same category throughout (sklearn gives nan)."""
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return 1.0
    value = float(cohen_kappa_score(a, b))
    return round(value, 4) if np.isfinite(value) else 0.0


def reviewer_agreement(current: pd.DataFrame, element_ids: list[str]
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per pair of reviewers, over the current decisions (``Workspace.decisions``): the items
    both decided, pooled over all elements (``element`` "all"), and per element where at least ``MIN_ITEMS_PER_ELEMENT`` items allow a figure;
    share agreeing, kappa and AC1 on the code (accept / reject / relabel to X: trims do not
    matter), and ``span_agreement``, the mean overlap (Jaccard) of the two kept spans where
    both accepted the same code. And the disagreements to settle (one row per item)."""
    current = current.copy()
    current["verdict"] = [
        "accept" if s == "accepted" else "reject" if s == "rejected" else f"relabel:{lab}"
        for s, lab in zip(current["status"], current["label"])]
    rows, disagreements = [], []
    by_reviewer = {r: g.set_index(["passage_id", "element"]) for r, g in
                   current.groupby("reviewer")}
    for a, b in combinations(sorted(by_reviewer), 2):
        both = sorted(set(by_reviewer[a].index) & set(by_reviewer[b].index))
        if not both:
            continue
        groups = [("all", both)] + [
            (e, [k for k in both if k[1] == e]) for e in element_ids]
        for element, items in groups:
            if not items or (element != "all" and len(items) < MIN_ITEMS_PER_ELEMENT):
                continue
            va = [by_reviewer[a].loc[k, "verdict"] for k in items]
            vb = [by_reviewer[b].loc[k, "verdict"] for k in items]
            spans = [_span_overlap(by_reviewer[a].loc[k], by_reviewer[b].loc[k])
                     for k, x, y in zip(items, va, vb) if x == y and x != "reject"]
            rows.append({"element": element, "reviewer_a": a, "reviewer_b": b,
                         "n": len(items),
                         "agreement": round(sum(x == y for x, y in zip(va, vb)) / len(items),
                                            4),
                         "kappa": cohen_kappa(va, vb), "ac1": gwet_ac1(va, vb),
                         "span_agreement": round(sum(spans) / len(spans), 4) if spans
                         else None})
        for k in both:
            x, y = by_reviewer[a].loc[k, "verdict"], by_reviewer[b].loc[k, "verdict"]
            if x != y:
                disagreements.append({"element": k[1], "passage_id": k[0],
                                      "text": by_reviewer[a].loc[k, "text"],
                                      "reviewer_a": a, "verdict_a": x,
                                      "reviewer_b": b, "verdict_b": y})
    return (pd.DataFrame(rows, columns=["element", "reviewer_a", "reviewer_b", "n",
                                        "agreement", "kappa", "ac1", "span_agreement"]),
            pd.DataFrame(disagreements, columns=["element", "passage_id", "text",
                                                 "reviewer_a", "verdict_a", "reviewer_b",
                                                 "verdict_b"]))


def _span_overlap(a: pd.Series, b: pd.Series) -> float:
    """Jaccard overlap of two reviewers' kept character ranges of one passage."""
    def kept(d: pd.Series) -> tuple[int, int]:
        if pd.isna(d["trim_start"]):
            return 0, len(d["text"])
        return int(d["trim_start"]), int(d["trim_end"])
    (s1, e1), (s2, e2) = kept(a), kept(b)
    inter = max(0, min(e1, e2) - max(s1, s2))
    union = max(e1, e2) - min(s1, s2)
    return inter / union if union else 1.0
