"""Indirect identifiers: flagged for analyst review, never removed.

An exact age, a date, a rare occupation, a health condition mentioned with a place, "the only
black mum at the school": none names anyone, but in a small area together they can point to one
person. Removing them would destroy the data, so themeflow flags them (``indirect_flags`` table,
the report's "Indirect identifiers" section, a warning on each affected candidate on the review
page) and leaves the decision to the analyst. Rules and term lists are data in
``lexicons/redaction/indirect*.``.

Usage::

    flags = flag_passages(passages)   # passage_id, doc_id, kind, start, end, term
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from pipeline import schemas
from pipeline.keys import PSEUDONYM_RE
from pipeline.lexicons import fill_placeholders, phrase_alternation, read_word_list, read_yaml


@dataclass(frozen=True)
class Rule:
    kind: str
    regex: re.Pattern[str]
    requires: frozenset[str]


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    terms = {"health": phrase_alternation(read_word_list("redaction/indirect_health.txt")),
             "jobs": phrase_alternation(read_word_list("redaction/indirect_jobs.txt"))}
    out = []
    for entry in read_yaml("redaction/indirect.yaml"):
        pattern = fill_placeholders(entry["regex"], terms)
        out.append(Rule(entry["kind"], re.compile(pattern, re.IGNORECASE),
                        frozenset(entry.get("requires") or ())))
    return tuple(out)


def flag_text(text: str) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, term) for every indirect identifier in one (redacted) passage."""
    present = {m.group("label") for m in PSEUDONYM_RE.finditer(text)}
    found = []
    for rule in rules():
        if rule.requires and not rule.requires & present:
            continue
        for m in rule.regex.finditer(text):
            found.append((rule.kind, m.start(), m.end(), m.group()))
    return sorted(set(found), key=lambda f: (f[1], f[2], f[0]))


def flag_passages(passages: pd.DataFrame) -> pd.DataFrame:
    rows = [(p.passage_id, p.doc_id, kind, a, b, term)
            for p in passages.itertuples() for kind, a, b, term in flag_text(p.text)]
    return pd.DataFrame(rows, columns=schemas.INDIRECT_FLAGS)


def with_indirect(candidates: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """``candidates`` plus ``indirect``: the kinds of indirect identifier flagged in each
    (``flag_passages``' table), comma-joined; empty when none."""
    kinds = flags.groupby("passage_id")["kind"].agg(lambda k: ", ".join(sorted(set(k))))
    return candidates.assign(indirect=[kinds.get(p, "") for p in candidates["passage_id"]])
