"""Redaction: find identifiers the hand anonymisation missed and replace them with stable
pseudonyms.

Two steps, as in Presidio: detection returns spans (offsets, type, detector, score) and
``apply_spans`` rewrites text with pseudonyms. The modules, each with one job:

- ``spans``: ``Span``, the audit row ``Redaction``, merging by priority, applying pseudonyms;
- ``casing``: how a text is written (capitals, none, stretched words);
- ``detector``: ``Redactor``, every detector over one turn, and the recurrence matcher;
- ``growth``: span-growth rules (a found name grows over its surname, an address over its town);
- ``gazetteers``: first names, place names, word frequencies;
- ``plan``: the study-wide plan (cached detections, key registration, recurrences) and redaction;
- ``evaluate``: recall and precision against gold spans, beside Presidio.

Raw text exists only inside ingest and this package; the audit rows never hold an identifier.
"""

from pipeline.redact.detector import Redactor
from pipeline.redact.plan import (
    ChunkRunner,
    detect_documents,
    detection_cache_path,
    plan_redactions,
    redact_documents,
)
from pipeline.redact.spans import Redaction, Span, apply_spans, merge_spans

__all__ = ["ChunkRunner", "Redaction", "Redactor", "Span", "apply_spans", "detect_documents",
           "detection_cache_path", "merge_spans", "plan_redactions", "redact_documents"]
