"""How well can *any* classifier on themeflow's passage features reproduce a study's human
coding? A supervised ceiling for ``themeflow evaluate``.

Each document is held out in turn; a logistic regression (top-level codes plus "none", balanced
class weights) is trained on every coded passage of the other documents, not K examples per
code, and predicts the held-out one. Features: the MiniLM passage vectors, plus their context
vectors (the interviewer's question and the passage before), plus TF-IDF word and bigram counts.
Macro-F1 and kappa are computed as ``themeflow evaluate`` computes them. If these are far below
a target, more exemplars or better calibration cannot reach it with these features.

    python tests/benchmarks/mapping_ceiling.py ../shared/eval/pdpilot-user-study [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack

from pipeline.config import Config
from pipeline.evaluate import CodedStudy, code_f1, load_coded_study
from pipeline.review.agreement import cohen_kappa, gwet_ac1


def features(study: CodedStudy, kind: str, train: np.ndarray) -> csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    parts = [study.vectors] if kind != "tfidf" else []
    if kind in ("vectors+context", "all"):
        parts.append(study.contexts)
    if kind in ("tfidf", "all"):
        texts = list(study.passages["text"])
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        tfidf.fit([t for t, keep in zip(texts, train) if keep])
        parts.append(tfidf.transform(texts))
    return hstack([csr_matrix(p) for p in parts]).tocsr()


def held_out_predictions(study: CodedStudy, kind: str, c: float) -> list[str]:
    from sklearn.linear_model import LogisticRegression

    labels = study.codes + ["none"]
    y = np.array([labels.index(p) for p in study.gold_primary])
    docs = study.passages["doc_id"].to_numpy()
    predicted = np.empty(len(y), dtype=object)
    for doc in sorted(set(docs)):
        test = docs == doc
        x = features(study, kind, ~test)
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        model.fit(x[~test], y[~test])
        predicted[test] = [labels[i] for i in model.predict(x[test])]
    return list(predicted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("study", type=Path, help="folder with transcripts/, codebook.csv and "
                                                 "coded_segments.csv")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    study = load_coded_study(args.study / "transcripts", args.study / "codebook.csv",
                             args.study / "coded_segments.csv", Config())
    supported = [c for c in study.codes if any(c in g for g in study.gold_sets)]
    rows = []
    for kind in ("vectors", "vectors+context", "tfidf", "all"):
        for c in (0.3, 1.0, 3.0):
            predicted = held_out_predictions(study, kind, c)
            sets = [{p} - {"none"} for p in predicted]
            f1 = [code_f1(sets, study.gold_sets, code)[3] for code in supported]
            rows.append({"features": kind, "C": c, "macro_f1": round(float(np.mean(f1)), 4),
                         "kappa": cohen_kappa(study.gold_primary, predicted),
                         "ac1": gwet_ac1(study.gold_primary, predicted)})
    print(f"{len(study.passages)} passages, {len(supported)} top-level codes, "
          f"{np.mean([bool(g) for g in study.gold_sets]):.0%} human-coded; "
          "trained on all coded passages of the other documents\n")
    print("| features | C | macro-F1 | kappa | AC1 |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['features']} | {r['C']} | {r['macro_f1']} | {r['kappa']} | {r['ac1']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
