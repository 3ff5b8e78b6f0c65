"""How a text is written: in capitals, without capitals, with stretched words. Capitalisation is
the strongest cue for a name, so detectors first ask whether a text uses it at all."""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.lexicons import read_word_list

_LOWER_I = re.compile(r"(?<![\w'’])i(?![\w'’-])(?!\.\w)")
_SENTENCE_INITIAL = re.compile(r"(?:^|[.!?]\s+|\n\s*)([^\W\d_])")
_STRETCHED = re.compile(r"(.)\1\1")


def stop_words() -> frozenset[str]:
    """spaCy's English stop words, from lexicons/ (importing spaCy costs seconds)."""
    return _as_set(read_word_list("text/stop_words.txt"))


@lru_cache(maxsize=2)
def _as_set(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(words)


def is_shouting(text: str) -> bool:
    """Typed in capitals: capitalisation then tells nothing about names."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) > 0.7 * len(letters)


def is_uncased(text: str) -> bool:
    """Written without capitals as a signal (chat, tweets, some automatic transcripts): in
    capitals, or most sentences start in lower case, or "i" is written small. Capitalisation
    then cannot tell a name from a word, so rarity has to."""
    if is_shouting(text) or _LOWER_I.search(text):
        return True
    starts = _SENTENCE_INITIAL.findall(text)
    return 2 * sum(c.islower() for c in starts) > len(starts)


def is_noise(word: str) -> bool:
    """Laughter, keyboard runs and stretched words ("hahaha", "kekeke", "soooo")."""
    return bool(_STRETCHED.search(word)) or len(word) >= 5 and len(set(word)) <= 2
