"""Evaluate passage-to-code mapping against human coding (``themeflow evaluate``).

Input as in ``shared/eval/pdpilot-user-study``: a folder of transcripts, a codebook CSV and
``coded_segments.csv`` (``doc, code, text, start, end``; offsets into the transcript files). The
transcripts go through themeflow's own stages (ingest, redact, segment, embed) in a temporary
study; each passage is located in its original transcript, and a passage counts as coded with a
code when it overlaps a human segment of that code (codes are rolled up to top level).

Scoring is the pipeline's own (``pipeline.mapping.mapper``). Zero-shot scores passages and their
contexts against code definitions (and sub-code definitions). Few-shot adds K human-coded segments
per code, drawn only from training documents: their texts join the code's examples and the
passages they cover become its labelled passages. Documents are folded leave-one-out, so each
document is scored with exemplars from the others.

Reported per code and macro: precision, recall, F1 of the assigned codes (the best and any other
at ``map.secondary_threshold``); Cohen's kappa and Gwet's AC1 at passage level (human label = the
code covering most of the passage, or none; machine label = the best code or none); quote
recall@10 (share of codes with a human-coded passage among their 10 best-scored passages); the
agreement among passages whose confidence is at least 0.8, and a reliability table (agreement
per confidence band) with its expected calibration error.
"""

from __future__ import annotations

import csv
import itertools
import random
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.mapping.framework import Framework, top_level
from pipeline.mapping.mapper import (
    Exemplars,
    FrameworkMapper,
    assign,
    confidence,
    context_vectors,
    exemplars_from,
    score_passages,
)
from pipeline.review.agreement import cohen_kappa, gwet_ac1
from pipeline.segment import raw_offsets


def top_code(code: str, parents: dict[str, str | None]) -> str:
    while parents.get(code):
        code = parents[code] or code
    return code


def load_segments(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    frame = pd.DataFrame(rows)
    frame["start"] = frame["start"].astype(int)
    frame["end"] = frame["end"].astype(int)
    return frame


_PREPARED: dict[tuple[str, str], tuple[pd.DataFrame, np.ndarray, np.ndarray]] = {}


def prepare(transcripts: Path, cfg: Config) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Passages (with raw offsets), their vectors and context vectors, through themeflow's
    stages; once per folder and config in a process (``evaluate`` reports twice on them)."""
    key = (str(transcripts.resolve()), cfg.model_dump_json())
    if key not in _PREPARED:
        _PREPARED[key] = _prepare(transcripts, cfg)
    passages, vectors, contexts = _PREPARED[key]
    return passages.copy(), vectors, contexts


def _prepare(transcripts: Path, cfg: Config) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    from pipeline import stages
    from pipeline.build import build_encoder
    from pipeline.segment import model_texts, passage_prompts
    from pipeline.study import init_study

    tmp = Path(tempfile.mkdtemp(prefix="themeflow-eval-"))
    try:
        study = init_study(tmp / "study")
        block = study.transcripts_dir / "eval"
        block.mkdir()
        raws = {}
        for path in sorted(transcripts.glob("*")):
            if path.suffix.lower() in (".txt", ".docx"):
                shutil.copy(path, block / path.name)
                raws[path.stem] = unicodedata.normalize(
                    "NFC", path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n"))
        docs, bad = stages.ingest_stage(study, cfg, None)
        red = stages.redact_stage(study, cfg, docs, bad)
        passages = stages.segment_stage(red.turns, cfg)
        vectors, _ = stages.embed_stage(study, cfg, model_texts(passages))
        contexts = context_vectors(passages, passage_prompts(passages, red.turns), vectors,
                                   build_encoder(cfg.models))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return raw_offsets(passages, raws), vectors, contexts


def gold_labels(passages: pd.DataFrame, segments: pd.DataFrame, parents: dict[str, str | None],
                codes: list[str]) -> tuple[list[set[str]], list[str]]:
    """Codes overlapping each passage (multi-label) and the dominant one (or 'none')."""
    sets, primary = [], []
    by_doc = {d: g for d, g in segments.groupby("doc")}
    for row in passages.itertuples():
        overlap: dict[str, int] = {}
        for seg in by_doc.get(row.doc_id, pd.DataFrame()).itertuples() if row.raw_start >= 0 else []:
            n = min(row.raw_end, seg.end) - max(row.raw_start, seg.start)
            code = top_code(seg.code, parents)
            if n > 0 and code in codes:
                overlap[code] = overlap.get(code, 0) + n
        sets.append(set(overlap))
        primary.append(max(sorted(overlap), key=lambda c: overlap[c]) if overlap else "none")
    return sets, primary


def _overlapping(passages: pd.DataFrame, segments: pd.DataFrame) -> list[int]:
    """Rows of ``passages`` that overlap any of ``segments`` (raw offsets)."""
    rows = []
    for seg in segments.itertuples():
        mine = passages.index[(passages["doc_id"] == seg.doc) & (passages["raw_start"] >= 0)
                              & (passages["raw_start"] < seg.end) & (passages["raw_end"] > seg.start)]
        rows += [int(passages.index.get_loc(i)) for i in mine]
    return sorted(set(rows))


def few_shot_exemplars(framework: Framework, passages: pd.DataFrame, vectors: np.ndarray,
                       contexts: np.ndarray, train: pd.DataFrame, parents: dict[str, str | None],
                       k: int, rng: random.Random) -> tuple[Framework, Exemplars]:
    """K human-coded segments per code from the training documents: their texts join the code's
    examples and the passages they cover become its labelled passages."""
    elements, labelled = [], []
    ids = list(passages["passage_id"])
    for e in framework.elements:
        rows = train[[top_code(c, parents) == e.id for c in train["code"]]]
        picked = rows.loc[sorted(rng.sample(sorted(rows.index), min(k, len(rows))))]
        elements.append(replace(e, examples=(*e.examples, *picked["text"])))
        labelled += [(ids[i], e.id) for i in _overlapping(passages, picked)]
    fw = Framework(framework.id, framework.name, tuple(elements))
    return fw, exemplars_from(labelled, passages, vectors, contexts)


def reliability(confidence: np.ndarray, agree: np.ndarray, bins: int = 5) -> tuple[list[dict], float]:
    """Observed agreement per confidence bin, and the expected calibration error."""
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence >= lo) & ((confidence < hi) if hi < 1 else (confidence <= hi))
        if inside.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "passages": int(inside.sum()),
                         "mean_confidence": round(float(confidence[inside].mean()), 4),
                         "agreement": round(float(agree[inside].mean()), 4)})
            ece += inside.mean() * abs(confidence[inside].mean() - agree[inside].mean())
    return rows, round(float(ece), 4)


@dataclass
class CodedStudy:
    """A human-coded study run through themeflow's stages: passages (with raw offsets), their
    vectors and context vectors, the top-level codes used and the human labels per passage."""

    passages: pd.DataFrame
    vectors: np.ndarray
    contexts: np.ndarray
    framework: Framework
    segments: pd.DataFrame
    parents: dict[str, str | None]
    gold_sets: list[set[str]]
    gold_primary: list[str]

    @property
    def codes(self) -> list[str]:
        return [e.id for e in self.framework.elements]


def load_coded_study(transcripts: Path, codebook: Path, coded_segments: Path,
                     cfg: Config) -> CodedStudy:
    from pipeline.mapping.codebook import load_codebook

    full = load_codebook(codebook)
    parents = {e.id: e.parent for e in full.elements}
    segments = load_segments(coded_segments)
    passages, vectors, contexts = prepare(transcripts, cfg)
    passages = passages.reset_index(drop=True)
    framework = top_level(full)
    used = {top_code(c, parents) for c in segments["code"]}
    framework = Framework(framework.id, framework.name,
                          tuple(e for e in framework.elements if e.id in used))
    gold_sets, gold_primary = gold_labels(passages, segments, parents,
                                          [e.id for e in framework.elements])
    return CodedStudy(passages, vectors, contexts, framework, segments, parents, gold_sets,
                      gold_primary)


def score_study(transcripts: Path, codebook: Path, coded_segments: Path, few_shot: int = 0,
                cfg: Config | None = None, seed: int = 42
                ) -> tuple[pd.DataFrame, list[str], np.ndarray, list[set[str]], list[str]]:
    """Passages, codes, the pipeline's scores (few-shot: each document with exemplars from the
    others) and the human labels (sets and dominant code)."""
    from pipeline.build import build_encoder

    cfg = cfg or Config()
    study = load_coded_study(transcripts, codebook, coded_segments, cfg)
    passages, codes = study.passages, study.codes
    encode = build_encoder(cfg.models)
    docs = sorted(passages["doc_id"].unique())
    scores = np.zeros((len(passages), len(codes)))
    folds = [[d] for d in docs] if few_shot else [docs]
    rng = random.Random(seed)
    for test_docs in folds:
        fw, exemplars = study.framework, None
        if few_shot:
            train = study.segments[~study.segments["doc"].isin(test_docs)]
            fw, exemplars = few_shot_exemplars(study.framework, passages, study.vectors,
                                               study.contexts, train, study.parents, few_shot,
                                               rng)
        mapper = FrameworkMapper(cfg.map).fit(fw, encode, exemplars)
        _, fold_scores, _ = score_passages(mapper, passages, study.vectors, study.contexts)
        mask = passages["doc_id"].isin(test_docs).to_numpy()
        scores[mask] = fold_scores[mask]
    return passages, codes, scores, study.gold_sets, study.gold_primary


def code_f1(predicted_sets: list[set[str]], gold_sets: list[set[str]], code: str
            ) -> tuple[int, float, float, float]:
    """Support, precision, recall and F1 of one code's passage assignment (multi-label)."""
    tp = sum(code in p and code in g for p, g in zip(predicted_sets, gold_sets))
    fp = sum(code in p and code not in g for p, g in zip(predicted_sets, gold_sets))
    fn = sum(code not in p and code in g for p, g in zip(predicted_sets, gold_sets))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return tp + fn, prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def evaluate(transcripts: Path, codebook: Path, coded_segments: Path, few_shot: int = 0,
             cfg: Config | None = None, seed: int = 42) -> dict:
    cfg = cfg or Config()
    passages, codes, scores, gold_sets, gold_primary = score_study(
        transcripts, codebook, coded_segments, few_shot, cfg, seed)
    predicted, _, _, all_codes = assign(scores, codes, cfg.map)
    predicted_sets = [set(c.split("; ")) if c else set() for c in all_codes]
    conf = confidence(scores)
    per_code = {}
    for j, code in enumerate(codes):
        support, prec, rec, f1 = code_f1(predicted_sets, gold_sets, code)
        top10 = np.argsort(-scores[:, j], kind="stable")[:10]
        per_code[code] = {"support": support, "precision": round(prec, 4),
                          "recall": round(rec, 4), "f1": round(f1, 4),
                          "quote_hit_at_10": bool(any(code in gold_sets[i] for i in top10))}
    supported = [c for c in codes if per_code[c]["support"]]
    confident = conf >= 0.8
    agree = np.array([p == g or p in s for p, g, s in zip(predicted, gold_primary, gold_sets)])
    bins, ece = reliability(conf, agree)
    return {
        "mode": f"few-shot K={few_shot}" if few_shot else "zero-shot",
        "passages": len(passages), "located": int((passages["raw_start"] >= 0).sum()),
        "macro_f1": round(float(np.mean([per_code[c]["f1"] for c in supported])), 4),
        "kappa": cohen_kappa(gold_primary, predicted),
        "ac1": gwet_ac1(gold_primary, predicted),
        "quote_recall_at_10": round(float(np.mean([per_code[c]["quote_hit_at_10"]
                                                   for c in supported])), 4),
        "accuracy": round(float(agree.mean()), 4),
        "confident_share": round(float(confident.mean()), 4),
        "confident_agreement": round(float(agree[confident].mean()), 4)
        if confident.any() else None,
        "calibration_error": ece, "reliability": bins,
        "per_code": per_code,
    }


def markdown(result: dict) -> str:
    confident = (f"agreement {result['confident_agreement']}" if result["confident_agreement"]
                 is not None else "none reach it")
    summary = (f"{result['mode']}: {result['passages']} passages ({result['located']} located); "
               f"macro-F1 {result['macro_f1']}, kappa {result['kappa']}, AC1 {result['ac1']}, "
               f"quote recall@10 {result['quote_recall_at_10']}, best code agrees with the human "
               f"on {result['accuracy']:.0%}; confidence>=0.8 on {result['confident_share']:.0%} "
               f"({confident}); calibration error {result['calibration_error']}")
    lines = [summary, "", "| code | support | precision | recall | F1 | quote@10 |",
             "|---|---|---|---|---|---|"]
    for code, m in result["per_code"].items():
        lines.append(f"| {code} | {m['support']} | {m['precision']} | {m['recall']} | {m['f1']} | "
                     f"{'yes' if m['quote_hit_at_10'] else 'no'} |")
    lines += ["", "| confidence | passages | mean confidence | agreement |", "|---|---|---|---|"]
    lines += [f"| {b['bin']} | {b['passages']} | {b['mean_confidence']} | {b['agreement']} |"
              for b in result["reliability"]]
    return "\n".join(lines)

