"""Presidio's own pattern recognisers, those named in ``lexicons/redaction/presidio.yaml``
(national insurance, NHS and card numbers, IBANs, ...), each with its type and minimum score."""

from __future__ import annotations

from typing import Any

from pipeline.config import RedactConfig
from pipeline.lexicons import lexicon_path, read_yaml
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span
from pipeline.redact.vocabulary import file_digest


class Presidio(Detector):
    name = "presidio"
    version = 1

    def __init__(self, cfg: RedactConfig) -> None:
        self.cfg = cfg
        self._recognizers: list[tuple[Any, str]] | None = None

    def reads(self) -> tuple[object, ...]:
        from importlib.metadata import version

        spec = file_digest(lexicon_path(f"redaction/{self.cfg.presidio}")) \
            if self.cfg.presidio else None
        return (spec, self.cfg.presidio_min_score, version("presidio-analyzer"))

    @property
    def recognizers(self) -> list[tuple[Any, str]]:
        """Built on first use: importing Presidio takes seconds, and a rerun whose detections
        are all cached never needs it."""
        if self._recognizers is None:
            self._recognizers = _recognizers(self.cfg) if self.cfg.presidio else []
        return self._recognizers

    def warm(self) -> None:
        _ = self.recognizers

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        return [[Span(r.start, r.end, label, "presidio", round(float(r.score), 3),
                      type(rec).__name__)
                 for rec, label in self.recognizers
                 for r in rec.analyze(text, rec.supported_entities, None)
                 if r.score >= self.cfg.presidio_min_score] for text in texts]


def _recognizers(cfg: RedactConfig) -> list[tuple[Any, str]]:
    from presidio_analyzer import predefined_recognizers

    spec = read_yaml(f"redaction/{cfg.presidio}")
    return [(getattr(predefined_recognizers, item["class"])(**(item.get("kwargs") or {})),
             item["label"]) for item in spec["recognizers"]]
