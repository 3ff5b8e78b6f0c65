"""The contract every detector keeps, so that adding one is one module and one registry line.

A detector has a ``name`` (what ``[redact] detectors`` lists), a ``version`` (bump it when its
code changes what it finds) and ``reads()``: everything it reads (model file hashes, word-list
and pattern file hashes, settings). ``fingerprint`` is built from those, and the detection cache
is keyed on the fingerprints of the detectors that ran, so an edited word list or a new model
re-detects. ``find(texts, context)`` returns spans per text; each span names its detector kind
(``Span.detector``, which sets its priority in a merge) and the rule that fired (``Span.rule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pipeline.redact.spans import Span
from pipeline.redact.vocabulary import digest


@dataclass(frozen=True)
class Context:
    """What one call knows beyond the texts: the names used as speaker labels in these
    transcripts, and how many processes spaCy may use."""

    label_names: Sequence[str] = ()
    n_process: int = 1


class Detector:
    name: ClassVar[str]
    version: ClassVar[int] = 1

    def reads(self) -> tuple[object, ...]:
        """Everything this detector's output depends on besides the text."""
        return ()

    def fingerprint(self) -> str:
        return digest(self.name, self.version, *self.reads())

    def warm(self) -> None:
        """Load what ``find`` needs now (forked workers then inherit it)."""

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        raise NotImplementedError
