"""Human-coded units for ``themeflow evaluate``'s three-part report, human ceiling and
learning curves (``pipeline.simulate``): open-ended survey answers (``response_units``) or the
passages of transcripts (``transcript_units``, through ``pipeline.evaluate``'s stages and
overlap rules), each with coder A's and optionally coder B's top-level codes, and the mapper's
zero-shot scores the classifier starts from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.evaluate import gold_labels, load_coded_study, load_segments, top_code
from pipeline.mapping.framework import top_level
from pipeline.mapping.mapper import FrameworkMapper, score_passages
from pipeline.simulate import (
    CodedUnits,
    calibration_bins,
    human_ceiling,
    machine_report,
    ratio,
    simulate_review,
)


def _standardise(raw: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each code's mapper score in spreads above its median, over the units it may code."""
    out = np.zeros_like(raw)
    for j in range(raw.shape[1]):
        rows = allowed[:, j]
        if rows.any():
            col = raw[rows, j]
            spread = col.std() or 1.0
            out[rows, j] = (col - np.median(col)) / spread
    return np.round(out, 6)


def _coder_rows(segments: pd.DataFrame, coder: str | None) -> pd.DataFrame:
    if coder and "coder" in segments.columns:
        segments = segments[segments["coder"] == coder]
    return segments


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def response_units(responses: Path, codebook: Path, coded: Path, coder: str | None = None,
                   second: Path | None = None, second_coder: str | None = None,
                   cfg: Config | None = None) -> CodedUnits:
    """Open-ended survey answers (``doc, text``, optional ``question_id``) as units, each coded
    only against its question's codes (a codebook ``question_id`` column), with coder A's and
    (given) coder B's top-level codes. An answer without a coded row of a coder was not coded by
    them (None)."""
    from pipeline.build import build_encoder
    from pipeline.mapping.codebook import load_codebook
    from pipeline.segment import model_text

    cfg = cfg or Config()
    answers = _read_csv(responses)
    if "question_id" not in answers.columns:
        answers["question_id"] = ""
    full = load_codebook(codebook)
    parents = {e.id: e.parent for e in full.elements}
    framework = top_level(full)
    codes = [e.id for e in framework.elements]
    index = {c: j for j, c in enumerate(codes)}
    encode = build_encoder(cfg.models)
    vectors = encode([model_text(t) for t in answers["text"]])
    questions = list(answers["question_id"])
    allowed = np.array([[e.question in (None, q) for e in framework.elements] for q in questions])
    raw = FrameworkMapper(cfg.map).fit(framework, encode).transform(vectors)
    row_of = {d: i for i, d in enumerate(answers["doc"])}

    def gold(path: Path, name: str | None) -> list[frozenset[int] | None]:
        sets: list[set[int] | None] = [None] * len(answers)
        segs = _coder_rows(_read_csv(path), name)
        for seg in segs.itertuples():
            i = row_of.get(seg.doc)
            if i is None or not seg.code.strip():
                continue
            q = getattr(seg, "question_id", "") or questions[i]
            top = top_code(f"{q}/{seg.code}" if q else seg.code, parents)
            if top in index:
                sets[i] = (sets[i] or set()) | {index[top]}
        return [frozenset(s) if s is not None else None for s in sets]

    return CodedUnits(list(answers["doc"]), codes, questions, vectors,
                      np.zeros_like(vectors), _standardise(raw, allowed), allowed,
                      gold(coded, coder), gold(second, second_coder) if second else None)


def transcript_units(transcripts: Path, codebook: Path, coded: Path, coder: str | None = None,
                     second: Path | None = None, second_coder: str | None = None,
                     cfg: Config | None = None) -> CodedUnits:
    """Passages of transcripts as units (every passage coded by each coder: none where no
    segment of theirs overlaps it), scored zero-shot by the pipeline's mapper."""
    from pipeline.build import build_encoder

    cfg = cfg or Config()
    study = load_coded_study(transcripts, codebook, coded, cfg)
    segments = _coder_rows(study.segments, coder)
    codes = study.codes
    index = {c: j for j, c in enumerate(codes)}
    mapper = FrameworkMapper(cfg.map).fit(study.framework, build_encoder(cfg.models))
    _, scores, _ = score_passages(mapper, study.passages, study.vectors, study.contexts)

    def gold(segs: pd.DataFrame) -> list[frozenset[int] | None]:
        sets, _ = gold_labels(study.passages, segs, study.parents, codes)
        return [frozenset(index[c] for c in s) for s in sets]

    second_sets = gold(_coder_rows(load_segments(second), second_coder)) if second else None
    return CodedUnits(list(study.passages["passage_id"]), codes,
                      [""] * len(study.passages), study.vectors, study.contexts, scores,
                      np.ones(scores.shape, dtype=bool), gold(segments), second_sets)


def evaluate_units(units: CodedUnits, rounds: list[int] | None = None,
                   random_repeats: int = 1) -> dict:
    """The three-part report of the classifier before any label, the human ceiling on the same
    units, and (``rounds``) the simulated-review learning curves (random picks averaged over
    ``random_repeats`` pick orders)."""
    rows = [i for i, g in enumerate(units.gold_a) if g is not None]
    pred = units.classifier().fit_predict({})
    machine = machine_report(units, pred, rows)
    human = human_ceiling(units, rows)
    if human:
        machine_on_b = machine_report(units, pred, human.pop("rows"))
        human["ratio"] = ratio(machine_on_b["combined"]["kappa"], human["combined"]["kappa"])
    out = {"units": len(units.ids), "coded_by_reference": len(rows), "codes": len(units.codes),
           **machine, "human": human,
           "reliability": calibration_bins(units, pred, rows)}
    if rounds:
        out["curve"] = simulate_review(units, rounds, random_repeats=random_repeats)
    return out


def _strategy(row: dict) -> str:
    if row.get("repeats", 1) > 1:
        low, high = row["kappa_range"]
        return f"random (mean of {row['repeats']} orders; kappa {low}-{high})"
    return row["strategy"]


def markdown_units(result: dict) -> str:
    """The three-part report, the human ceiling and the learning curves as markdown."""
    def part(name: str, r: dict) -> str:
        c, k, m = r["codeable"], r["code_choice"], r["combined"]
        return (f"| {name} | {c['precision']} / {c['recall']} / {c['f1']} | {k['macro_f1']} / "
                f"{k['kappa']} | {m['macro_f1']} / {m['kappa']} |")
    lines = [f"{result['coded_by_reference']} of {result['units']} units coded by coder A, "
             f"{result['codes']} codes", "",
             "| who (before any label) | codeable P / R / F1 | code choice macro-F1 / kappa | "
             "combined macro-F1 / kappa |", "|---|---|---|---|",
             part("machine", result)]
    if result.get("human"):
        lines += [part("coder B", result["human"]), "",
                  f"machine kappa as a share of coder B's (same units): {result['human']['ratio']}"]
    lines += ["", "| probability of the best code | units | mean | agreement |",
              "|---|---|---|---|"]
    lines += [f"| {b['bin']} | {b['units']} | {b['mean_probability']} | {b['agreement']} |"
              for b in result["reliability"]]
    if result.get("curve"):
        lines += ["", "| labels (in all) | strategy | kappa | macro-F1 | code choice kappa | "
                  "codeable F1 | coder B kappa | ratio | p>=0.8: share, agreement |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['labels']} ({r['labels_total']}) | {_strategy(r)} | {r['kappa']} | "
                  f"{r['macro_f1']} | {r['code_choice_kappa']} | {r['codeable_f1']} | "
                  f"{r['human_kappa']} | {r['ratio_to_human']} | {r['confident_share']}, "
                  f"{r['confident_agreement']} |" for r in result["curve"]]
    return "\n".join(lines)
