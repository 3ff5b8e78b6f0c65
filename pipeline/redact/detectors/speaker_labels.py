"""Names used as speaker labels ("SARAH:") are identifiers wherever they recur in the text, and
a listed first name at the start of a line before a colon ("mika: who are you?") is a speaker
label inside a turn."""

from __future__ import annotations

import regex

from pipeline.config import RedactConfig
from pipeline.redact import gazetteers
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.detectors.deny_list import alternation
from pipeline.redact.spans import Span
from pipeline.redact.vocabulary import Vocabulary

# "Destiny: Remember me?" inside a turn: a name used as a speaker label at the start of a line.
INLINE_LABEL = regex.compile(r"(?m)^[ \t>]*(?P<name>\p{L}[\p{L}'-]+)[ \t]*:(?!//)")


class SpeakerLabels(Detector):
    name = "speaker_labels"
    version = 1

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary) -> None:
        self.cfg, self.vocab = cfg, vocab

    def reads(self) -> tuple[object, ...]:
        return (self.cfg.name_heuristics,)

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        labels = alternation([n for n in context.label_names if not self.vocab.is_allowed(n)])
        firsts = gazetteers.first_names()
        out = []
        for text in texts:
            spans = [Span(m.start(), m.end(), "PERSON", "speaker_label", 1.0, "speaker label")
                     for m in labels.finditer(text)] if labels is not None else []
            if self.cfg.name_heuristics:
                for m in INLINE_LABEL.finditer(text):
                    low = m.group("name").lower()
                    if low in firsts and not self.vocab.is_plain(low) and \
                            low not in self.vocab.common_names:
                        spans.append(Span(m.start("name"), m.end("name"), "PERSON",
                                          "speaker_label", 0.8, "label inside a turn"))
            out.append(spans)
        return out
