"""Names that a cue before them marks as names (``lexicons/redaction/name_cues.txt``): "my son
Jayden", "a lady called Morag". Capitalised, any word after a cue is a name; in lower case
("my son jayden", "my name is hubert") only a listed first name or, after "my name is" or "call
me", a rare word."""

from __future__ import annotations

import re

from pipeline.config import RedactConfig
from pipeline.lexicons import lexicon_path, phrase_alternation, read_word_list
from pipeline.redact import gazetteers
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span
from pipeline.redact.vocabulary import Vocabulary, file_digest

CUES_FILE = "redaction/name_cues.txt"


class NameCues(Detector):
    name = "name_cues"
    version = 1

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary) -> None:
        self.cfg, self.vocab = cfg, vocab
        body = phrase_alternation(read_word_list(CUES_FILE))
        self.capital = re.compile(
            rf"\b(?i:{body}),?\s+(?P<name>[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)\b")
        self.lower = re.compile(rf"\b(?i:{body}),?\s+(?P<name>[a-z][a-z'-]+)\b")

    def reads(self) -> tuple[object, ...]:
        return (file_digest(lexicon_path(CUES_FILE)), self.cfg.name_heuristics,
                self.cfg.rare_word_zipf, self.cfg.lower_name_zipf)

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        return [self._find_one(text) for text in texts]

    def _find_one(self, text: str) -> list[Span]:
        spans = [Span(m.start("name"), m.end("name"), "PERSON", "name_cue", 0.8, _cue(m))
                 for m in self.capital.finditer(text)
                 if not self.vocab.is_allowed(m.group("name"))]
        if not self.cfg.name_heuristics:
            return spans
        firsts = gazetteers.first_names()
        for m in self.lower.finditer(text):
            word = m.group("name")
            freq = gazetteers.zipf(word)
            # After "my name is" / "call me" a rare word is a name; after "called" or "my son"
            # it must also be a listed first name ("they're called overflows").
            naming = "name" in m.group().lower() or "me" in m.group().lower().split()
            if not self.vocab.is_plain(word) and word not in self.vocab.common_names and (
                    naming and freq < self.cfg.rare_word_zipf
                    or word in firsts and freq < self.cfg.lower_name_zipf):
                spans.append(Span(m.start("name"), m.end("name"), "PERSON", "name_cue", 0.7,
                                  _cue(m)))
        return spans


def _cue(m: re.Match[str]) -> str:
    """The rule that fired: the cue itself ("cue: my son"), which says nothing identifying."""
    return "cue: " + " ".join(m.group()[:m.start("name") - m.start()].lower().strip(" ,").split())
