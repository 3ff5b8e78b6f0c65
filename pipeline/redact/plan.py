"""Planning redactions over a study: detect (cached per file), register identifiers in the key,
then add every recurrence of a key identifier until the plan is a fixed point; redact.

The plan is cached (offsets only) under the documents, detectors and final key, so an unchanged
study is not planned again and a rerun gives identical tables.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from pipeline.fsutil import atomic_write
from pipeline.ingest import Document
from pipeline.keys import PseudonymKey, normalise_identifier
from pipeline.redact import growth as span_growth
from pipeline.redact.casing import stop_words
from pipeline.redact.detector import Redactor
from pipeline.redact.spans import (
    MODEL_LOWER,
    STUDY_CONFIRMED,
    Redaction,
    Span,
    apply_spans,
    merge_spans,
)


def register_spans(key: PseudonymKey, text: str, spans: list[Span],
                   common: Callable[[str], bool] = lambda w: False) -> None:
    """Add each detected identifier to the key. The parts of a multi-word person's name share its
    pseudonym (so "Sarah" alone is caught after "Sarah Jones"), unless a part is a common word."""
    stop = stop_words()
    for span in spans:
        ident = text[span.start:span.end]
        pseudo = key.assign(ident, span.label)
        if span.label == "PERSON" and " " in ident.strip():
            for part in ident.split():
                part = part.strip(".,;:!?'\"()")
                if (len(part) >= 3 and part[:1].isupper() and part.lower() not in stop
                        and not common(part) and key.get(part) is None):
                    key.assign(part, "PERSON", pseudo)


COMMON_WORD_MIN = 1
# A word is common when the study writes it in lower case more than this many times as often as
# capitalised mid-sentence: "childcare" 40 times, "Childcare" twice is a noun; "trump" 10 times,
# "Trump" 10 times is a name that some speakers do not capitalise.
LOWER_TO_CAPITAL = 2


def lowercase_vocabulary(texts: Iterable[str]) -> tuple[Counter[str], Counter[str]]:
    """How often each word is written in lower case in the corpus (names rarely are), and how
    often capitalised in mid-sentence (after a lower-case word or a comma), lower-cased."""
    lower: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    for text in texts:
        # Words only: not the parts of emails, web addresses or file names.
        lower.update(re.findall(r"(?<![\w'@./-])[a-z][a-z'-]+(?![\w@]|\.[a-z])", text))
        capital.update(w.lower() for w in _MID_CAPITAL.findall(text))
    return lower, capital


_MID_CAPITAL = re.compile(r"(?<=[a-z,;] )[A-Z][a-z'-]+")


def is_common_phrase(text: str, span: Span, vocab: tuple[Counter[str], Counter[str]]) -> bool:
    """A model or rarity hit whose every word the study mostly writes in lower case ("Childcare",
    "Breakfast club") is a common noun capitalised by position, not a name: redacting it, and
    every recurrence of it, would destroy the data."""
    if span.detector not in STUDY_CONFIRMED:
        return False
    lower, capital = vocab
    own = 1 if text.islower() else 0  # a hit in lower case counts itself among the lower case
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text)]
    if span.detector in MODEL_LOWER:
        # A model's guess on a common word in lower case ("to the max", "still kind of new") is
        # a name only if the study also capitalises the word mid-sentence, and not far less
        # often than it writes it in lower case: "trump" beside "Trump", but not "new" beside
        # a few "New Mexico"s.
        return not all(capital[w] >= 1 and lower[w] - own <= LOWER_TO_CAPITAL * capital[w]
                       for w in words)
    return bool(words) and all(lower[w] - own >= COMMON_WORD_MIN
                               and lower[w] - own > LOWER_TO_CAPITAL * capital[w] for w in words)


def _with_key_label(key: PseudonymKey, text: str, span: Span) -> Span:
    """An identifier already in the key keeps the key's type, whatever detector saw it now."""
    entry = key.entries.get(normalise_identifier(text[span.start:span.end]))
    if entry is None or entry["type"] == span.label:
        return span
    return Span(span.start, span.end, entry["type"], span.detector, span.score, span.rule)


def detection_cache_path(cache_dir: Path, file_sha256: str, fingerprint: str) -> Path:
    """Where one transcript's detections (by the hash of its file's bytes) are kept."""
    digest = hashlib.sha256(f"{file_sha256}:{fingerprint}".encode()).hexdigest()[:32]
    return cache_dir / "detections" / f"{digest}.json"


ChunkRunner = Callable[[list[tuple[list[str], list[str]]]], list[list[list[Span]]]]


def detect_documents(docs: list[Document], redactor: Redactor, cache_dir: Path | None,
                     run_chunks: ChunkRunner | None = None, chunk_size: int = 2,
                     n_process: int = 1) -> tuple[list[list[list[Span]]], int]:
    """First-pass spans per document and turn; cached by file hash (offsets only, no text).
    Returns (spans, number of documents actually run through the detectors).

    Documents to detect go, longest first, in chunks of ``chunk_size``, each with the same
    speaker-label names; ``run_chunks`` runs the list of (turn texts, names) chunks elsewhere
    (the run's worker processes, ``Execution.detect_pool``, or a Dask cluster) and returns
    spans per turn for each chunk. Chunks are the same whichever runner, so results are too.
    Without it the chunks go to spaCy in this process as one stream, in ``n_process``
    processes for a large one (per-text results do not depend on batching)."""
    fingerprint = redactor.fingerprint()
    result: list[list[list[Span]] | None] = []
    todo: list[int] = []
    for i, doc in enumerate(docs):
        path = detection_cache_path(cache_dir, doc.sha256, fingerprint) if cache_dir else None
        if path is not None and path.exists():
            rows = json.loads(path.read_text())
            result.append([[Span(*s) for s in turn] for turn in rows])
        else:
            result.append(None)
            todo.append(i)
    if todo:
        names = sorted({n for i in todo for n in docs[i].label_names})
        # Longest documents first: the chunks that finish last are then the shortest, so no
        # worker idles long at the end (interviews run from half an hour to several hours).
        todo.sort(key=lambda i: (-sum(len(t.text) for t in docs[i].turns), i))
        chunks = [todo[k:k + chunk_size] for k in range(0, len(todo), chunk_size)]
        payloads = [([t.text for i in chunk for t in docs[i].turns], names) for chunk in chunks]
        if run_chunks is None:
            detected = [redactor.detect([t for texts, _ in payloads for t in texts], names,
                                        n_process)]
        else:
            detected = run_chunks(payloads)
        flat = iter(span for chunk in detected for span in chunk)
        for i in todo:
            spans = [next(flat) for _ in docs[i].turns]
            result[i] = spans
            if cache_dir is not None:
                atomic_write(detection_cache_path(cache_dir, docs[i].sha256, fingerprint),
                             json.dumps([[[s.start, s.end, s.label, s.detector, s.score, s.rule]
                                          for s in turn] for turn in spans]))
    return [r for r in result if r is not None], len(todo)


PLAN_VERSION = 2
MAX_PLAN_ROUNDS = 3


def plan_cache_path(cache_dir: Path, docs: list[Document], redactor: Redactor,
                    key: PseudonymKey) -> Path:
    """Where the final plan for exactly these documents, detectors and key is kept."""
    ident = json.dumps([PLAN_VERSION, redactor.fingerprint(), key.digest(),
                        [(d.doc_id, d.sha256, sorted(d.label_names), len(d.turns))
                         for d in docs]])
    return cache_dir / "plans" / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.json"


def _read_plan(path: Path, docs: list[Document]) -> list[list[list[Span]]] | None:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if len(rows) != len(docs) or any(len(r) != len(d.turns) for r, d in zip(rows, docs)):
        return None
    return [[[Span(*s) for s in turn] for turn in doc] for doc in rows]


def _write_plan(path: Path, planned: list[list[list[Span]]]) -> None:
    atomic_write(path, json.dumps([[[[s.start, s.end, s.label, s.detector, s.score, s.rule]
                                     for s in turn] for turn in doc] for doc in planned]))


def plan_redactions(docs: list[Document], redactor: Redactor, key: PseudonymKey,
                    cache_dir: Path | None = None, run_chunks: ChunkRunner | None = None,
                    chunk_size: int = 2, n_process: int = 1
                    ) -> tuple[list[list[list[Span]]], int]:
    """Final spans per document and turn (offsets into the raw turn text); extends ``key``.

    Pass 1 detects (cached) and registers identifiers in ``key``; pass 2 adds every recurrence of
    any key identifier, so names found in one block are also removed from the others. Pass 2
    repeats while it still adds identifiers to the key (a name joined from two spans, say), so
    the plan is a fixed point: planning again with the resulting key gives the same spans, and
    a rerun gives identical tables. That plan is cached (offsets only) under the documents,
    detectors and final key, so an unchanged study is not planned again. Returns the spans and
    the number of documents actually run through the detectors.
    """
    if cache_dir is not None:
        cached = _read_plan(plan_cache_path(cache_dir, docs, redactor, key), docs)
        if cached is not None:
            return cached, 0
    first, n_detected = detect_documents(docs, redactor, cache_dir, run_chunks, chunk_size,
                                         n_process)
    lower = lowercase_vocabulary(t.text for d in docs for t in d.turns)

    def common(word: str) -> bool:
        return lower[0][word.lower()] >= COMMON_WORD_MIN or redactor.is_allowed(word)

    first = [[[s for s in spans if not is_common_phrase(turn.text[s.start:s.end], s, lower)]
              for turn, spans in zip(doc.turns, doc_spans)] for doc, doc_spans in zip(docs, first)]
    for doc, doc_spans in zip(docs, first):
        for name in doc.label_names:
            if not redactor.is_allowed(name):
                key.assign(name, "PERSON")
        for turn, spans in zip(doc.turns, doc_spans):
            register_spans(key, turn.text, spans, common)
    for _ in range(MAX_PLAN_ROUNDS):
        before = key.digest()
        planned = _recurrence_pass(docs, first, redactor, key, common)
        if key.digest() == before:
            if cache_dir is not None:
                _write_plan(plan_cache_path(cache_dir, docs, redactor, key), planned)
            break
    return planned, n_detected


def _recurrence_pass(docs: list[Document], first: list[list[list[Span]]], redactor: Redactor,
                     key: PseudonymKey, common: Callable[[str], bool]
                     ) -> list[list[list[Span]]]:
    """Detected spans plus every recurrence of a key identifier, per document and turn."""
    recur = redactor.recurrence_pattern(key)
    planned: list[list[list[Span]]] = []
    for doc, doc_spans in zip(docs, first):
        doc_plan = []
        for turn, spans in zip(doc.turns, doc_spans):
            extra = []
            if recur is not None:
                for m in recur.finditer(turn.text):
                    entry = key.entries.get(normalise_identifier(m.group()))
                    extra.append(Span(m.start(), m.end(), entry["type"] if entry else "PERSON",
                                      "recurrence", 1.0, "in the key"))
            final = span_growth.join_adjacent(turn.text, merge_spans(spans + extra))
            register_spans(key, turn.text,
                           [s for s in final if key.get(turn.text[s.start:s.end]) is None], common)
            doc_plan.append([_with_key_label(key, turn.text, s) for s in final])
        planned.append(doc_plan)
    return planned


def redact_documents(docs: list[Document], redactor: Redactor, key: PseudonymKey,
                     cache_dir: Path | None = None, run_chunks: ChunkRunner | None = None,
                     chunk_size: int = 2, n_process: int = 1) -> tuple[list[Redaction], int]:
    """Redact ``docs`` in place (turn texts replaced, label names dropped); the audit rows."""
    planned, n_detected = plan_redactions(docs, redactor, key, cache_dir, run_chunks, chunk_size,
                                          n_process)
    rows: list[Redaction] = []
    for doc, doc_plan in zip(docs, planned):
        for turn, final in zip(doc.turns, doc_plan):
            pseudos = [key.assign(turn.text[s.start:s.end], s.label) for s in final]
            turn.text, offsets = apply_spans(turn.text, final, pseudos)
            rows += [Redaction(doc.doc_id, turn.turn_index, a, b, s.label, s.detector, s.score, p)
                     for s, (a, b), p in zip(final, offsets, pseudos)]
        doc.label_names = []
    return rows, n_detected
