"""spaCy's statistical NER (persons, places, organisations), small or medium English model.

A common word in lower case that the model calls a name ("to the max") is marked ``ner_lower``:
planning keeps it only if the study also capitalises the word somewhere."""

from __future__ import annotations

from typing import Any

from pipeline.config import RedactConfig
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span, clean_entity
from pipeline.redact.vocabulary import Vocabulary

NER_TYPES = {"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "ORG": "ORG"}
# Below this many texts per process, starting spaCy processes costs more than it saves.
MIN_TEXTS_PER_PROCESS = 200


class SpacyNer(Detector):
    name = "spacy"
    version = 1

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary, nlp: Any) -> None:
        self.cfg, self.vocab = cfg, vocab
        # A pipeline, None (finds nothing), or a zero-argument loader called on first use, so a
        # rerun whose detections are all cached never loads the model.
        self._nlp = nlp

    def reads(self) -> tuple[object, ...]:
        return (self.cfg.model_version, sorted(self.cfg.entity_types), self.cfg.lower_name_zipf,
                self._nlp is None)

    @property
    def nlp(self) -> Any:
        if self._nlp is not None and not hasattr(self._nlp, "pipe"):
            self._nlp = self._nlp()
        return self._nlp

    def warm(self) -> None:
        _ = self.nlp

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        if self.nlp is None:
            return [[] for _ in texts]
        wanted = set(self.cfg.entity_types) & set(NER_TYPES)
        n_process = context.n_process if len(texts) >= MIN_TEXTS_PER_PROCESS * \
            context.n_process else 1
        out = []
        for text, doc in zip(texts, self.nlp.pipe(texts, batch_size=64, n_process=n_process)):
            spans = []
            for ent in doc.ents:
                if ent.label_ not in wanted:
                    continue
                left, right = clean_entity(ent.text)
                start, end = ent.start_char + left, ent.start_char + right
                if end > start and not self.vocab.is_allowed(text[start:end]):
                    kind = "ner_lower" if self.vocab.is_common_lower(text[start:end]) else "ner"
                    spans.append(Span(start, end, NER_TYPES[ent.label_], kind, 0.85, ent.label_))
            out.append(spans)
        return out
