"""Agreement between two coders over the same items: Cohen's kappa and Gwet's AC1.

Kappa is the field's familiar figure; AC1 is reported beside it because kappa collapses when one
category dominates (most candidate quotes accepted, most passages uncoded) even when coders agree
almost always. Used by ``themeflow evaluate`` (machine vs human) and by the review workspace
(analyst vs analyst).
"""

from __future__ import annotations

import numpy as np


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
