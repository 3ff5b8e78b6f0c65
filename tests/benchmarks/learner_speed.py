"""Time the review server's refit, as the page waits on it: learn from the labels, re-rank the
candidates (``quotes.propose`` + ``learned.explain``) and pick the "code next" queue, which the
page then shows; then the agreement estimate by cross-validation, which follows; and training
inside a run per 1,000 labels.

Vectors are synthetic (clustered, 384 dimensions as MiniLM's) because the cost depends on the
counts, not on what the passages say:

    python tests/benchmarks/learner_speed.py --passages 5000 --labels 200 --codes 7
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.mapping.classifier import code_next, typicality
from pipeline.mapping.learned import (LearningInputs, assignments, cross_validated_kappa,
                                      explain, learn, scores_of)
from pipeline.quotes import propose


def synthetic(n: int, k: int, seed: int = 0) -> tuple[LearningInputs, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k + 3, 384))
    topic = rng.integers(0, k + 3, size=n)
    vecs = centres[topic] + 1.5 * rng.normal(size=(n, 384))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    scores = np.round(rng.normal(size=(n, k)) + 1.5 * (topic[:, None] == np.arange(k)), 6)
    ids = [f"p{i:05d}" for i in range(n)]
    ev = centres[:k] / np.linalg.norm(centres[:k], axis=1, keepdims=True)
    inputs = LearningInputs(ids, [f"c{j}" for j in range(k)], vecs, vecs.copy(), scores,
                            [(j, "definition", f"code {j}") for j in range(k)], ev)
    words = "We talked about it together and it made a real difference to how we work. "
    passages = pd.DataFrame({
        "passage_id": ids, "doc_id": [f"d{i // 50}" for i in range(n)], "text": [words * 2] * n,
        "context": "", "attribution": "Keyworker, Area 1, Year 1",
        "participant": [f"P{i // 50}" for i in range(n)], "block": "2014", "area": "1",
        "role": "Keyworker"})
    passages.attrs["topic"] = topic
    return inputs, passages


def labels_table(passages: pd.DataFrame, inputs: LearningInputs, n: int, k: int) -> pd.DataFrame:
    topic = passages.attrs["topic"]
    rows = []
    for i in np.random.default_rng(1).choice(len(passages), size=n, replace=False):
        element = inputs.element_ids[topic[i]] if topic[i] < k else "none"
        rows.append((inputs.passage_ids[i], element, 1, ""))
    return pd.DataFrame(rows, columns=["passage_id", "element", "polarity", "text"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=5000)
    ap.add_argument("--labels", type=int, default=200)
    ap.add_argument("--codes", type=int, default=7)
    args = ap.parse_args()
    cfg = Config()
    inputs, passages = synthetic(args.passages, args.codes)
    table = labels_table(passages, inputs, args.labels, args.codes)
    texts = list(passages["text"])
    names = {e: e for e in inputs.element_ids}

    t0 = time.perf_counter()
    density = typicality(inputs.vectors)
    t_density = time.perf_counter() - t0

    t0 = time.perf_counter()
    learned = learn(inputs, table, cfg.map, texts)
    t_learn = time.perf_counter() - t0
    t0 = time.perf_counter()
    best = assignments(learned, inputs.element_ids, cfg.map)[0]
    cands = propose(passages, best, scores_of(learned, inputs), inputs.element_ids,
                    inputs.vectors, cfg.quotes, table)
    explain(cands, learned, inputs, texts, names)
    t_rank = time.perf_counter() - t0
    t0 = time.perf_counter()
    code_next(learned.prediction, inputs.vectors, set(learned.labels), 5, density=density)
    t_queue = time.perf_counter() - t0
    t0 = time.perf_counter()
    kappa = cross_validated_kappa(learned, inputs, cfg.map)
    t_cv = time.perf_counter() - t0
    print(f"{args.passages} passages, {args.labels} labels, {args.codes} codes")
    print(f"  typicality (once per run):    {t_density:6.2f} s")
    print(f"  learn (fit + predict):        {t_learn:6.2f} s")
    print(f"  re-rank candidates + why:     {t_rank:6.2f} s")
    print(f"  pick the next queue items:    {t_queue:6.2f} s")
    print(f"  cross-validated kappa (5x):   {t_cv:6.2f} s   (kappa {kappa})")
    print(f"  refit as the page waits:      {t_learn + t_rank + t_queue:6.2f} s   "
          "(re-ranked candidates and queue published)")
    print(f"  ... with the estimate:        {t_learn + t_rank + t_queue + t_cv:6.2f} s")
    print(f"  per 1,000 labels in a run:    {1000 * t_learn / max(args.labels, 1):6.2f} s "
          "(learn, scaled)")


if __name__ == "__main__":
    main()
