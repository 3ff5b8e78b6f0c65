"""The columns of every table a run writes, in order: the one list each writer, reader and test
fake uses. A stage that returns a table is checked against it (``check``), as spaCy components
declare what they assign, so a column added in one place cannot silently drift from the others.
"""

from __future__ import annotations

import pandas as pd

# "convention": how the file's turns were told apart (see ingest.TurnParser.parse)
DOCUMENTS = ["doc_id", "block", "participant", "role", "area", "sha256", "status", "error",
             "convention"]
TURNS = ["doc_id", "turn_index", "speaker", "is_respondent", "text", "start", "end"]
REDACTIONS = ["doc_id", "turn_index", "start", "end", "label", "detector", "score", "pseudonym"]
# What segmenting gives; the run's passages table adds who said it (``ATTRIBUTED``).
PASSAGES = ["passage_id", "doc_id", "turn_index", "start", "end", "text", "context", "n_words"]
ATTRIBUTION = ["participant", "role", "area", "block", "attribution"]
THEME_SCORES = ["passage_id", "element", "score", "raw_score", "centre", "scale", "assigned"]
PASSAGE_THEMES = ["passage_id", "element", "score", "status", "elements", "confidence"]
# What ranking gives; the run's candidates table adds the indirect identifiers found in each.
# "weak": the mapping assigned the passage to another element (or none); it fills the list.
CANDIDATES = ["element", "rank", "passage_id", "doc_id", "text", "attribution", "score",
              "element_score", "readability", "redundancy", "context", "participant", "block",
              "area", "role", "weak"]
# What learning adds to each candidate (``mapping.learned.explain``).
EXPLAINED = ["probability", "why"]
# The labels table's element for "none of these" (a Code next answer: the passage carries none).
NONE = "none"
LABELS = ["passage_id", "element", "polarity", "text"]
INDIRECT_FLAGS = ["passage_id", "doc_id", "kind", "start", "end", "term"]
TOPICS = ["topic", "size", "keywords"]
PASSAGE_TOPICS = ["passage_id", "topic", "probability"]
TOPIC_THEMES = ["topic", "n_passages", "keywords", "lead_element", "lead_share", "none_share",
                "emergent"]

# Every table in a run folder (``<name>.parquet``) and its columns.
RUN_TABLES: dict[str, list[str]] = {
    "documents": DOCUMENTS, "turns": TURNS, "redactions": REDACTIONS,
    "passages": PASSAGES + ATTRIBUTION, "theme_scores": THEME_SCORES,
    "passage_themes": PASSAGE_THEMES, "candidates": CANDIDATES + EXPLAINED + ["indirect"],
    "review_labels": LABELS, "indirect_flags": INDIRECT_FLAGS, "topics": TOPICS,
    "passage_topics": PASSAGE_TOPICS, "topic_themes": TOPIC_THEMES,
}


def check(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` if its columns are exactly run table ``name``'s, in order; else a bug, named."""
    expected = RUN_TABLES[name]
    if list(frame.columns) != expected:
        raise AssertionError(f"table {name} has columns {list(frame.columns)}, "
                             f"expected {expected}")
    return frame
