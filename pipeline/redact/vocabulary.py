"""The words every detector asks about: which words are never identifiers (stop words, the
allow lists, the study's published words) and which listed first names are mainly ordinary
words ("will", "mark").

Why one object: each detector drops the same allowed words, and the detection cache must follow
every list a detector reads. ``fingerprint`` covers all of them, so editing a word list
re-detects instead of reusing stale detections.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from pipeline.config import RedactConfig
from pipeline.keys import CAPITALS_TAG_RE, normalise_identifier
from pipeline.lexicons import lexicon_path, read_entries, read_word_list
from pipeline.redact import gazetteers
from pipeline.redact.casing import stop_words

STOP_WORDS_FILE = "text/stop_words.txt"
COMMON_NAMES_FILE = "redaction/common_name_words.txt"


def digest(*parts: object) -> str:
    """A short, stable hash of ``parts`` (their ``repr``, one per line)."""
    return hashlib.sha256("\n".join(repr(p) for p in parts).encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """The hash of a file's bytes ("missing" when there is none: a study may have no list)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


class Vocabulary:
    """Allowed words (bundled, the study's, ``participants.csv``'s published words), stop words
    and the first names that are mainly ordinary words."""

    def __init__(self, cfg: RedactConfig, study_lexicons: Path | None = None,
                 extra_allow: Iterable[str] = ()) -> None:
        self.cfg = cfg
        self.stop = stop_words()
        self.allow = set(read_word_list(f"redaction/{cfg.allow_list}"))
        if study_lexicons is not None:
            self.allow |= set(read_entries(study_lexicons / cfg.allow_list, lower=True))
        self.allow |= {normalise_identifier(a) for a in extra_allow if a}
        self.common_names = set(read_word_list(COMMON_NAMES_FILE))

    def fingerprint(self) -> str:
        return digest(sorted(self.allow), file_digest(lexicon_path(STOP_WORDS_FILE)),
                      file_digest(lexicon_path(COMMON_NAMES_FILE)), gazetteers.fingerprint())

    def is_allowed(self, text: str) -> bool:
        """Never an identifier: too short, no letters, a pseudonym tag, or only allowed and stop
        words."""
        norm = normalise_identifier(text)
        if len(norm) < 2 or not re.search(r"[^\W\d_]", norm) or norm in self.allow:
            return True
        if CAPITALS_TAG_RE.search(text) or "redacted" in norm:
            return True
        words = [w.strip(".,;:!?'\"()") for w in norm.split()]
        return all(not w or w in self.stop or w in self.allow for w in words)

    def is_plain(self, word: str) -> bool:
        """A stop word or an allowed word (lower case): never part of a name."""
        return word in self.stop or word in self.allow

    def is_listed_name(self, word: str) -> bool:
        """A listed first name that is not mainly an ordinary word (lower case)."""
        return (word in gazetteers.first_names() and not self.is_plain(word)
                and word not in self.common_names
                and gazetteers.zipf(word) < self.cfg.lower_name_zipf)

    def is_first_name(self, word: str) -> bool:
        """A listed first name that is not mainly an ordinary word (lower case), however
        frequent: "paul" and "simon" are common in English text because they are names."""
        return (word in gazetteers.first_names() and not self.is_plain(word)
                and word not in self.common_names)

    def is_common_lower(self, phrase: str) -> bool:
        """A common English word in lower case that is not a country or state."""
        return phrase.islower() and phrase not in gazetteers.major_place_names() and any(
            gazetteers.zipf(w) >= self.cfg.lower_name_zipf for w in phrase.split())
