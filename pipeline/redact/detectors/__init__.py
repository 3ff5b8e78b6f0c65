"""The detectors, one module each, behind one contract (``base.Detector``); ``[redact]
detectors`` names which run. ``build`` makes them in the configured order. To add a detector:
write its module, add it to ``REGISTRY`` and to ``config.DETECTOR_NAMES``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pipeline.config import RedactConfig
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.detectors.deny_list import DenyList
from pipeline.redact.detectors.name_cues import NameCues
from pipeline.redact.detectors.name_heuristics import NameHeuristics
from pipeline.redact.detectors.patterns import Patterns
from pipeline.redact.detectors.presidio import Presidio
from pipeline.redact.detectors.rampart import Rampart
from pipeline.redact.detectors.spacy_ner import SpacyNer
from pipeline.redact.detectors.speaker_labels import SpeakerLabels
from pipeline.redact.vocabulary import Vocabulary

# name -> factory(cfg, vocabulary, spaCy pipeline or loader, the study's lexicon folder)
REGISTRY: dict[str, Callable[[RedactConfig, Vocabulary, Any, Path | None], Detector]] = {
    "spacy": lambda cfg, vocab, nlp, lex: SpacyNer(cfg, vocab, nlp),
    "rampart": lambda cfg, vocab, nlp, lex: Rampart(cfg, vocab),
    "patterns": lambda cfg, vocab, nlp, lex: Patterns(cfg, vocab),
    "presidio": lambda cfg, vocab, nlp, lex: Presidio(cfg),
    "deny_list": lambda cfg, vocab, nlp, lex: DenyList(cfg, lex),
    "name_cues": lambda cfg, vocab, nlp, lex: NameCues(cfg, vocab),
    "speaker_labels": lambda cfg, vocab, nlp, lex: SpeakerLabels(cfg, vocab),
    "name_heuristics": lambda cfg, vocab, nlp, lex: NameHeuristics(cfg, vocab),
}


def build(cfg: RedactConfig, vocab: Vocabulary, nlp: Any,
          study_lexicons: Path | None = None) -> list[Detector]:
    return [REGISTRY[name](cfg, vocab, nlp, study_lexicons) for name in cfg.detectors]


__all__ = ["REGISTRY", "Context", "Detector", "build"]
