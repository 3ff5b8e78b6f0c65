"""Fit the confidence curve (``lexicons/mapping/calibration.yaml``) on a human-coded study.

Confidence is the probability that a human coder gives a passage its best element, as a logistic
curve of the best calibrated score and its margin over the runner-up. The curve is fitted on the
zero-shot scores of a coded study (the usual case: a codebook, no labelled passages yet), and
checked on the same study's few-shot scores, which it was not fitted on.

    python tests/benchmarks/fit_confidence.py shared/eval/pdpilot-user-study [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from pipeline.config import Config
from pipeline.evaluate import reliability, score_study
from pipeline.lexicons import lexicon_path
from pipeline.mapping.mapper import assign


def features_and_agreement(study: Path, few_shot: int) -> tuple[np.ndarray, np.ndarray]:
    cfg = Config()
    _, codes, scores, sets, primary = score_study(
        study / "transcripts", study / "codebook.csv", study / "coded_segments.csv", few_shot, cfg)
    predicted = assign(scores, codes, cfg.map)[0]
    top = np.sort(scores, axis=1)
    x = np.column_stack([top[:, -1], top[:, -1] - top[:, -2]])
    agree = np.array([p == g or p in s for p, g, s in zip(predicted, primary, sets)])
    return x, agree


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("study", type=Path)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    x, agree = features_and_agreement(args.study, 0)
    model = LogisticRegression(C=1.0).fit(x, agree)
    curve = {"intercept": round(float(model.intercept_[0]), 4),
             "best": round(float(model.coef_[0][0]), 4),
             "margin": round(float(model.coef_[0][1]), 4)}
    print("curve", curve)
    for name, few in (("zero-shot (fitted on)", 0), ("few-shot K=5 (not fitted on)", 5)):
        x, agree = features_and_agreement(args.study, few) if few else (x, agree)
        z = curve["intercept"] + curve["best"] * x[:, 0] + curve["margin"] * x[:, 1]
        bins, ece = reliability(1 / (1 + np.exp(-z)), agree)
        print(name, "ECE", ece, bins)
    if args.write:
        path = lexicon_path("mapping/calibration.yaml")
        header = (f"# Confidence curve: P(human coder gives the best element) = logistic(intercept\n"
                  f"# + best x best score + margin x (best - runner-up)). Fitted by\n"
                  f"# tests/benchmarks/fit_confidence.py on {args.study.name} zero-shot scores.\n")
        path.write_text(header + yaml.safe_dump(curve, sort_keys=False), encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    main()
