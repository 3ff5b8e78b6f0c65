"""Learn codes from analysts' decisions: a classifier over (unit, code) pairs, and "code next".

The framework mapper (``pipeline.mapping.mapper``) sums cosines to definitions; labels only add
exemplars to those sums, so they barely move it. Here every decision is a training row. A unit
(a passage, or an open-ended answer) and a candidate code make a pair, described by features
that mean the same for every code:

- the mapper's calibrated score for that code (zero-shot: definitions, indicators, examples and
  the interviewer's question);
- how much closer the unit sits to units labelled with that code than to units labelled *not*
  that code (its own label left out while training, so a row never describes itself); the
  difference, not the two levels: "code next" picks labelled units far apart, so a labelled
  unit's nearest labelled neighbour is farther than an unlabelled one's, and levels learnt on
  the former misread the latter;
- the same for the unit's context (the question it answers);
- how common the code is among the labels so far (a labelled unit's own label left out here
  too);
- for the mapper score and the two labelled-neighbour differences, how far the code stands above
  the unit's best *other* code on the same feature. The pairs are scored one at a time, but the
  analyst chooses among codes: whether a code leads the unit's codes says more than its level.
  On the dev sets this lifted kappa at 25-100 labels by 0.03-0.07 (docs/benchmarks.md).

Because the features are code-agnostic, one logistic regression over all pairs learns from the
first few labels of any code (a head per code would need many labels of each). "Codeable" (does
the human code this unit at all?) is a second logistic regression over the unit's best pair
probability, its best mapper score and how much closer it sits to coded than to uncoded units.
Until the labels hold both answers of a regression, the mapper stands in (its scores, and its
``map.threshold`` for codeable).

With its first labels the learnt model can be worse than none: a dozen labels say little about
codes nobody has labelled yet (pdpilot: kappa 0.17-0.20 at 10-15 labels against 0.23-0.28 before
any). So the prediction is a mix, ``w`` of the learnt model and ``1 - w`` of the zero-shot one,
with ``w`` the share that best predicts each label from a model fitted without it
(``_label_weight``: five folds, log-likelihood). Where the zero-shot model knows little (a
survey's bare code names) the labels win from the first few; where definitions carry
information they take over as they earn it.

Probabilities: ``p_given[i, j]`` is the chance that the human gives unit i code j if they code
it (the pair regression's own answer; a unit may carry several codes, so a row need not sum to
one); ``p_code[i, j]`` is the same row normalised over the unit's codes, which says which code
is the unit's best and how torn it is between two (the queue's doubt); ``p_codeable[i]`` is the
chance they code it at all. The best code's probability of being the human's is
``p_codeable * p_given[best]``, the figure calibration is measured on. It used to be
``p_code[best]``: normalising a row whose pair probabilities sum to less than one inflated it,
and on pdpilot after 200 labels only 59% of the passages given 0.8 or more agreed with the
coder (93% over five resamples now). Before any label there is no pair regression, and
``p_given`` is ``p_code``.

Labels are ``{unit row: frozenset of code indices}``; an empty set is "none of these". A unit
only ever competes among the codes in its group (``allowed``: a survey question's own codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Labels = dict[int, frozenset[int]]
PAIR_FEATURES = ("score", "pos_minus_neg", "top3_minus_neg", "ctx_pos_minus_neg", "has_pos",
                 "share", "score_lead", "pos_minus_neg_lead", "top3_minus_neg_lead")
LEAD_OF = {"score_lead": 0, "pos_minus_neg_lead": 1, "top3_minus_neg_lead": 2}
MIN_EACH = 2  # labelled rows of each answer before a regression replaces the zero-shot curve
NEAR_DUPLICATE = 0.92  # cosine above which a unit is not worth asking about again
DENSITY_K = 10  # neighbours that say how typical a candidate is
ZERO_SHOT_SLOPE = 2.0  # per spread of mapper score, before any "none" label
# How much the model's doubt between its two best codes adds to a unit's claim on the queue. On
# the dev sets (pdpilot, the survey's pre-study questions; five resamples each) 10 gave the best
# curves at 50-200 labels (1 and 3 less, 30 the same). Doubt measured as the best code's
# probability near one half picked passages human coders split on about codeability and learnt
# less than random picks.
UNCERTAINTY_WEIGHT = 10.0
CODED_AT = 0.5  # codeable probability from which the machine codes a unit
FURTHER_AT = 1 / 3  # chance (``p_given``) from which a further code is listed
LABEL_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)  # the learnt model's share tried; on a tie, the first
FOLDS = 5


@dataclass
class Prediction:
    """See the module docstring for what each probability means."""
    p_code: np.ndarray      # (n_units, n_codes), zero outside a unit's allowed codes
    p_codeable: np.ndarray  # (n_units,)
    p_given: np.ndarray | None = None  # (n_units, n_codes); None (nothing learnt): p_code

    @property
    def given(self) -> np.ndarray:
        return self.p_code if self.p_given is None else self.p_given

    @property
    def best(self) -> np.ndarray:
        return np.argmax(self.p_code, axis=1)

    @property
    def p_best(self) -> np.ndarray:
        return self.p_codeable * self.given[np.arange(len(self.p_code)), self.best]

    def codes(self, max_codes: int = 3) -> list[list[int]]:
        """The codes the machine gives each unit, best first: none below ``CODED_AT`` codeable
        probability; else the best code, and up to ``max_codes - 1`` more that a coder who
        codes the unit gives with a chance of ``FURTHER_AT`` or more. The one rule for the
        run's assignments, the review page and ``themeflow evaluate``, so the figures
        evaluate prints are those of the tables a run writes."""
        out = []
        for i in range(len(self.p_codeable)):
            if self.p_codeable[i] < CODED_AT:
                out.append([])
                continue
            order = np.argsort(-self.p_code[i], kind="stable")
            out.append([int(order[0])] + [int(j) for j in order[1:max_codes]
                                          if self.given[i, j] >= FURTHER_AT])
        return out

    @property
    def margin(self) -> np.ndarray:
        """How far the best code's probability stands above the second's (1 with one code)."""
        if self.p_code.shape[1] < 2:
            return np.ones(len(self.p_code))
        top2 = -np.sort(-self.p_code, axis=1)[:, :2]
        return top2[:, 0] - top2[:, 1]


def _similarities(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return vectors @ vectors[rows].T if len(rows) else np.zeros((len(vectors), 0))


def _masked_max(sims: np.ndarray, mask: np.ndarray, k: int = 1) -> np.ndarray:
    """Per row, the mean of the k largest similarities where ``mask`` holds (0 where none)."""
    if sims.shape[1] == 0:
        return np.zeros(len(sims))
    masked = np.where(mask, sims, -np.inf)
    k = min(k, sims.shape[1])
    top = -np.sort(-masked, axis=1)[:, :k]
    found = np.isfinite(top)
    return np.where(found, top, 0.0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)


def _lead(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each code's value minus the best value among the unit's other allowed codes (0 where the
    unit has no other code, or may not take this one)."""
    masked = np.where(allowed, values, -np.inf)
    if values.shape[1] < 2:
        return np.zeros_like(values)
    top2 = -np.sort(-masked, axis=1)[:, :2]
    other = np.where(masked >= top2[:, :1], top2[:, 1:2], top2[:, :1])
    return np.where(allowed & np.isfinite(other), values - other, 0.0)


class CodeClassifier:
    """Fit on labels, predict every unit (see module docstring)."""

    def __init__(self, vectors: np.ndarray, contexts: np.ndarray, scores: np.ndarray,
                 allowed: np.ndarray | None = None, c: float = 1.0, threshold: float = 0.5):
        self.vectors, self.contexts, self.scores = vectors, contexts, scores
        self.allowed = np.ones(scores.shape, dtype=bool) if allowed is None else allowed
        self.c, self.threshold = c, threshold

    def _pair_features(self, labels: Labels) -> np.ndarray:
        """(n_units, n_codes, n_features); a labelled unit's own label never counts."""
        n, k = self.scores.shape
        rows = np.array(sorted(labels), dtype=np.int64)
        sims = _similarities(self.vectors, rows)
        ctx = _similarities(self.contexts, rows)
        self_mask = rows[None, :] == np.arange(n)[:, None]
        member = np.zeros((len(rows), k), dtype=bool)
        for r, row in enumerate(rows):
            member[r, list(labels[int(row)])] = True
        # the code's share of the labels, a labelled unit's own label left out like its
        # neighbours: counted in, a unit's own code looks likelier in training than the same
        # code is for any unlabelled unit, and the model learns to call everything the code
        # labelled most so far
        own = self_mask.astype(float) @ member
        share = ((member.sum(axis=0)[None, :] - own + 1)
                 / (len(rows) - self_mask.any(axis=1)[:, None] + k))
        feats = np.zeros((n, k, len(PAIR_FEATURES)))
        feats[:, :, 0] = self.scores
        for j in range(k):
            pos = member[:, j][None, :] & ~self_mask
            neg = ~member[:, j][None, :] & ~self_mask
            nearest_neg = _masked_max(sims, neg)
            feats[:, j, 1] = _masked_max(sims, pos) - nearest_neg
            feats[:, j, 2] = _masked_max(sims, pos, 3) - nearest_neg
            feats[:, j, 3] = _masked_max(ctx, pos) - _masked_max(ctx, neg)
            feats[:, j, 4] = pos.any(axis=1)
            feats[:, j, 5] = np.log(share[:, j])
        for name, source in LEAD_OF.items():
            feats[:, :, PAIR_FEATURES.index(name)] = _lead(feats[:, :, source], self.allowed)
        return feats

    def fit_predict(self, labels: Labels, negatives: dict[int, frozenset[int]] | None = None
                    ) -> Prediction:
        """``negatives``: partial labels, units known *not* to carry some codes (a rejected
        quote) while their full answer is unknown; each is one more negative pair. The learnt
        model is mixed with the zero-shot one by ``_label_weight`` (module docstring)."""
        learnt = self._fit(labels, negatives)
        w = self._label_weight(labels, negatives) if labels else 1.0
        if w == 1.0:
            return learnt
        zero = self._fit({})
        return Prediction(np.round(w * learnt.p_code + (1 - w) * zero.p_code, 6),
                          np.round(w * learnt.p_codeable + (1 - w) * zero.p_codeable, 6),
                          np.round(w * learnt.given + (1 - w) * zero.given, 6))

    def _label_weight(self, labels: Labels, negatives: dict[int, frozenset[int]] | None
                      ) -> float:
        """The learnt model's share in the mix (``LABEL_WEIGHTS``) under which the labels are
        likeliest, each predicted by a model fitted without its fold (folds by row order, so
        the same labels give the same weight). Fitted on the labelled units alone: their
        features depend only on one another, so the held-out predictions are those of the
        full model, for a fraction of its cost."""
        negatives = negatives or {}
        rows = np.array(sorted(set(labels) | set(negatives)), dtype=np.int64)
        at = {int(r): i for i, r in enumerate(rows)}
        sub = CodeClassifier(self.vectors[rows], self.contexts[rows], self.scores[rows],
                             self.allowed[rows], self.c, self.threshold)
        sub_labels = {at[r]: s for r, s in labels.items()}
        sub_negatives = {at[r]: s for r, s in negatives.items()}
        labelled = sorted(sub_labels)
        folds = min(FOLDS, len(labelled))
        held_code = np.zeros((len(rows), self.scores.shape[1]))
        held_codeable = np.zeros(len(rows))
        for f in range(folds):
            test = labelled[f::folds]
            held_out = set(test)
            pred = sub._fit({r: s for r, s in sub_labels.items() if r not in held_out},
                            sub_negatives)
            held_code[test], held_codeable[test] = pred.p_code[test], pred.p_codeable[test]
        zero = sub._fit({})

        def log_likelihood(w: float) -> float:
            p_code = w * held_code[labelled] + (1 - w) * zero.p_code[labelled]
            p_codeable = w * held_codeable[labelled] + (1 - w) * zero.p_codeable[labelled]
            total = 0.0
            for k, r in enumerate(labelled):
                codes = list(sub_labels[r])
                p = p_codeable[k] * p_code[k, codes].sum() if codes else 1 - p_codeable[k]
                total += float(np.log(max(p, 1e-6)))
            return round(total, 6)

        return max(LABEL_WEIGHTS, key=log_likelihood)

    def _fit(self, labels: Labels, negatives: dict[int, frozenset[int]] | None = None
             ) -> Prediction:
        """The learnt model alone. scikit-learn is imported only when there is something to
        fit: a run without labels skips its import (about a second)."""
        feats = self._pair_features(labels)
        n, k, _ = feats.shape
        coded = {r: s for r, s in labels.items() if s}
        pair_rows, pair_y = [], []
        for r, s in coded.items():
            for j in np.where(self.allowed[r])[0]:
                pair_rows.append(feats[r, j])
                pair_y.append(int(j in s))
        for r, codes in sorted((negatives or {}).items()):
            if r not in labels:
                for j in sorted(codes):
                    pair_rows.append(feats[r, j])
                    pair_y.append(0)
        if sum(pair_y) >= MIN_EACH and len(pair_y) - sum(pair_y) >= MIN_EACH:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.c, max_iter=1000)
            model.fit(np.array(pair_rows), np.array(pair_y))
            p = model.predict_proba(feats.reshape(n * k, -1))[:, 1].reshape(n, k)
            learnt = True
        else:
            p = 1 / (1 + np.exp(-self.scores))
            learnt = False
        p = np.where(self.allowed, p, 0.0)
        p_code = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        p_codeable = self._codeable(labels, p, feats)
        return Prediction(np.round(p_code, 6), np.round(p_codeable, 6),
                          np.round(p, 6) if learnt else None)

    def _codeable(self, labels: Labels, p: np.ndarray, feats: np.ndarray) -> np.ndarray:
        masked_scores = np.where(self.allowed, self.scores, -np.inf)
        rows = np.array(sorted(labels), dtype=np.int64)
        coded = np.array([bool(labels[int(r)]) for r in rows], dtype=bool)
        sims = _similarities(self.vectors, rows)
        self_mask = rows[None, :] == np.arange(len(p))[:, None]
        x = np.column_stack([p.max(axis=1), masked_scores.max(axis=1),
                             _masked_max(sims, coded[None, :] & ~self_mask)
                             - _masked_max(sims, ~coded[None, :] & ~self_mask)])
        if coded.sum() >= MIN_EACH and (~coded).sum() >= MIN_EACH:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.c, max_iter=1000)
            model.fit(x[rows], coded.astype(int))
            return model.predict_proba(x)[:, 1]
        if len(rows) and coded.all():
            return np.full(len(p), (coded.sum() + 1) / (len(rows) + 2))
        # no labels yet: the mapper's own rule, a best score at ``threshold`` is even odds
        return 1 / (1 + np.exp(-ZERO_SHOT_SLOPE * (masked_scores.max(axis=1) - self.threshold)))


def typicality(vectors: np.ndarray, k: int = DENSITY_K, block: int = 1024) -> np.ndarray:
    """Each unit's mean similarity to its ``k`` most similar units (itself included), clipped to
    0..1: the density ``code_next`` weighs by. Computed in blocks of rows, so a 40,000-passage
    study needs no 40,000-square matrix; the review server computes it once per run."""
    out = np.zeros(len(vectors))
    k = min(k, len(vectors))
    for start in range(0, len(vectors), block):
        sims = vectors[start:start + block] @ vectors.T
        top = -np.partition(-sims, k - 1, axis=1)[:, :k] if k else np.zeros((len(sims), 0))
        out[start:start + block] = top.mean(axis=1) if k else 0.0
    return np.clip(out, 0, 1)


def code_next(prediction: Prediction, vectors: np.ndarray, labelled: set[int], n: int,
              candidates: np.ndarray | None = None, density: np.ndarray | None = None
              ) -> list[int]:
    """The ``n`` units whose answer would teach the model most, picked one at a time by
    information density (Settles and Craven, 2008): units typical of many others (mean
    similarity to their ten nearest candidates), weighted up by the model's doubt
    (``UNCERTAINTY_WEIGHT``: how close its two best codes' probabilities are) and discounted by how
    close each sits to a labelled or already picked unit, so the queue spreads over the study
    (codes, participants, topics) instead of asking the same thing twice; a near-duplicate of
    one is never asked. Ties break on the row, so the same labels give the same queue.
    ``density`` (``typicality`` of every unit, computed once) replaces the density among the
    candidates, which costs a square matrix of them per call."""
    pool = np.arange(len(vectors)) if candidates is None else np.asarray(candidates)
    pool = np.array(sorted(int(i) for i in pool if int(i) not in labelled), dtype=np.int64)
    if not len(pool) or n <= 0:
        return []
    uncertainty = np.round(1 - prediction.margin[pool], 6)
    if density is not None:
        density = np.asarray(density)[pool]
    else:
        density = np.clip(_masked_max(vectors[pool] @ vectors[pool].T,
                                      np.ones((len(pool), len(pool)), dtype=bool), DENSITY_K),
                          0, 1)
    taken = np.array(sorted(labelled), dtype=np.int64)
    closest = ((vectors[pool] @ vectors[taken].T).max(axis=1) if len(taken)
               else np.full(len(pool), -1.0))
    open_ = closest < NEAR_DUPLICATE
    picked: list[int] = []
    while len(picked) < n and open_.any():
        gain = (1 + UNCERTAINTY_WEIGHT * uncertainty) * density * (1 - np.clip(closest, 0, 1))
        k = int(np.argmax(np.round(np.where(open_, gain, -np.inf), 6)))  # lowest row on a tie
        picked.append(int(pool[k]))
        closest = np.maximum(closest, vectors[pool] @ vectors[pool[k]])
        open_ &= closest < NEAR_DUPLICATE
    return picked
