"""Text as an identifier check sees it: look-alike characters folded to the letters they imitate.

A reviewer's note "S\u0430rah" (Cyrillic a) or "Sa\u200brah" (a zero-width space) reads as
"Sarah" to everyone, so every check for key identifiers (the redaction's recurrence pass, the
leak check, the note and reviewer checks) searches the folded text. The confusables come from
Unicode's confusables table as packaged by ``confusable_homoglyphs`` (maintained, MIT); only
characters that imitate an ASCII letter or digit are folded, and Latin letters with accents are
kept ("Siobhán" stays itself).

Usage::

    fold("Sa\u200br\u0430h")   # -> "Sarah" (NFKC, format characters dropped, confusables folded)
    skeleton(text)             # same length as text: offsets into it are offsets into text
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib.resources import files

import regex

_FORMAT = regex.compile(r"\p{Cf}+")  # zero-width spaces and joiners, soft hyphens, bidi marks


@lru_cache(maxsize=1)
def _confusables() -> dict[int, str]:
    table = json.loads(files("confusable_homoglyphs").joinpath("confusables.json")
                       .read_text(encoding="utf-8"))
    folded = {}
    for char, homoglyphs in table.items():
        if len(char) != 1 or char.isascii() or unicodedata.name(char, "").startswith("LATIN "):
            continue
        ascii_ = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii()
                  and h["c"].isalnum()]
        if ascii_:
            # Unicode's prototype of every vertical stroke is "l"; a capital one (Cyrillic or
            # Greek capital I) imitates "I" in running text ("\u0406an" reads "Ian").
            upper_stroke = ascii_[0] == "l" and unicodedata.category(char) == "Lu"
            folded[ord(char)] = "I" if upper_stroke else ascii_[0]
    return folded


def skeleton(text: str) -> str:
    """Each look-alike character replaced by the ASCII letter it imitates; the length is kept.
    Only the look-alikes the text holds are translated (a whole report's curly quotes and
    accents are not looked up one by one: the leak check folds every file of every run)."""
    if text.isascii():
        return text
    table = _confusables()
    present = {ord(c) for c in set(text)} & table.keys()
    return text.translate({k: table[k] for k in present}) if present else text


def fold(text: str) -> str:
    """NFKC (full-width and mathematical letters), format characters removed, then
    ``skeleton``. ASCII text is returned as it is (the common case costs nothing)."""
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return skeleton(_FORMAT.sub("", text))
