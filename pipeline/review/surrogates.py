"""Realistic surrogates for publication: ``[PERSON_3]`` -> "Jamie", ``[PLACE_1]`` -> "Eastfield".

Only exports ask for them (``themeflow export --surrogates``); every table, cache and the review
store keep the typed tags, which the pipeline relies on. The mapping is deterministic (the n-th
entry of the type's list in ``lexicons/redaction/surrogates.yaml``) and skips any entry that is
itself an identifier in the study's key, so a surrogate can never be a real name from the study.

Usage::

    render = surrogate_renderer(key.identifiers())
    render("Then [PERSON_3] came round.")   # "Then Jamie came round."
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from pipeline.keys import PSEUDONYM_RE
from pipeline.lexicons import read_yaml


def surrogate_renderer(identifiers: Iterable[tuple[str, str, str]]) -> Callable[[str], str]:
    taken = {" ".join(ident.split()).casefold() for ident, _, _ in identifiers}
    lists = {label: [n for n in names if n.casefold() not in taken]
             for label, names in read_yaml("redaction/surrogates.yaml").items()}

    def one(m: re.Match[str]) -> str:
        names = lists.get(m.group("label"))
        if not names:
            return m.group()
        n = int(m.group("number")) - 1
        name = names[n % len(names)]
        return name if n < len(names) else f"{name} {n // len(names) + 1}"

    return lambda text: PSEUDONYM_RE.sub(one, text)
