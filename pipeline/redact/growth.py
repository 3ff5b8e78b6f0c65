"""Grow detected identifiers to cover all of the identifier.

Why: detectors find the core of an identifier (a first name, a street, a company's first word),
and what they leave next to it still identifies: "Naomi [PERSON_3]", "[ADDRESS_2] 46, Suite 680,
Kissousa, Estonia 62488", "[ORG_5] Technologies". Growth is conservative and rule-based; its word
lists and limits live in ``lexicons/redaction/span_growth.yaml``:

- names take in a title before them ("Dr.", "Mrs"), capitalised words and name particles after
  them ("Willemine ten Pas"), the full stop of "Inc."/"Ltd.", and, for a lower-case first name, a
  rare lower-case word after it ("eva kleist");
- an address anchor (a street, unit, PO box or postcode pattern) takes in the house numbers,
  unit lines, town, region, postal code and country written around it, across commas and single
  line breaks, never across a blank line or a sentence end;
- "Surname, Surname and Surname" (a firm) is one organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import regex

from pipeline.lexicons import read_yaml
from pipeline.redact.spans import Span

NAME_LABELS = {"PERSON", "NAME", "ORG", "PLACE"}
ADDRESS_LABELS = {"ADDRESS", "POSTCODE"}
_CAPWORD = r"\p{Lu}[\p{L}\p{M}'’-]*\.?"


@dataclass(frozen=True)
class GrowthRules:
    titles: frozenset[str]
    continuation_re: regex.Pattern  # spaces, name particles, then a capitalised word
    abbreviations: frozenset[str]
    continuation_max_zipf: float
    lower_surname_max_zipf: float
    unit_re: regex.Pattern
    part_re: regex.Pattern
    left_part_re: regex.Pattern
    prefix_re: regex.Pattern | None
    max_parts: int


@lru_cache(maxsize=4)
def rules(name: str = "span_growth.yaml") -> GrowthRules:
    spec = read_yaml(f"redaction/{name}")
    units = sorted(spec["address_units"], key=len, reverse=True)
    unit = "(?:" + "|".join(regex.escape(u).replace(r"\ ", r"\s?") for u in units) + ")"
    particles = sorted(spec["address_particles"], key=len, reverse=True)
    particle = "(?:" + "|".join(regex.escape(p) for p in particles) + ")"
    # One address part: a unit line, a number or postal code, a capitalised or upper-case word,
    # a bracketed word, or an address particle that must be followed by another part.
    part = (rf"(?:(?i:{unit})\.?\s?#?\d[\w-]*|\d[\d-]{{0,9}}[A-Za-z]?\.?|{_CAPWORD}"
            rf"|\(\p{{Lu}}[\p{{L}}]+\)|(?:{particle})(?=[ \t]+(?:\d|\p{{Lu}})))")
    sep = r"[ \t]*(?:\r?\n[ \t>?]*)?(?:,[ \t]*)?(?:\r?\n[ \t>?]*)?"
    prefixes = spec.get("address_prefixes") or []
    prefix_re = (regex.compile(r"(?i:" + "|".join(regex.escape(p) for p in prefixes)
                               + r")[ \t]+$") if prefixes else None)
    return GrowthRules(
        titles=frozenset(spec["titles"]),
        continuation_re=regex.compile(
            rf"[ \t]+((?:(?:{'|'.join(map(regex.escape, spec['particles']))})[ \t]+)*)"
            rf"(\p{{Lu}}[\p{{L}}\p{{M}}'’-]*)(?![\w'’])"),
        abbreviations=frozenset(spec["abbreviations_with_stop"]),
        continuation_max_zipf=float(spec["continuation_max_zipf"]),
        lower_surname_max_zipf=float(spec["lower_surname_max_zipf"]),
        unit_re=regex.compile(rf"(?i:{unit})\.?\s?#?\d"),
        part_re=regex.compile(rf"(?P<sep>{sep})(?P<part>{part})"),
        left_part_re=regex.compile(rf"(?P<part>\d[\d-]{{0,9}}[A-Za-z]?|{_CAPWORD})"
                                   rf"(?P<sep>[ \t]*,?[ \t]*)$"),
        prefix_re=prefix_re, max_parts=int(spec["address_max_parts"]))


def grow_spans(text: str, spans: list[Span], is_plain: Callable[[str], bool],
               zipf: Callable[[str], float], shouting: bool, first_names: frozenset[str]
               ) -> list[Span]:
    """Every span grown by the rules above. ``is_plain(word)``: a stop word or allowed word,
    never part of a name; ``zipf``: English word frequency; ``shouting``: the text is in capitals
    (capitalisation then says nothing)."""
    r = rules()
    out = []
    for s in spans:
        start, end = s.start, s.end
        if s.label in ADDRESS_LABELS or (s.label == "PLACE" and s.detector == "pattern"):
            start, end = _grow_address(text, start, end, r, is_plain)
        elif s.label in NAME_LABELS:
            start, end = _grow_name(text, start, end, s.label, r, is_plain, zipf, shouting,
                                    first_names)
        out.append(s if (start, end) == (s.start, s.end)
                   else Span(start, end, s.label, s.detector, s.score, s.rule))
    return out


def _grow_name(text: str, start: int, end: int, label: str, r: GrowthRules,
               is_plain: Callable[[str], bool], zipf: Callable[[str], float], shouting: bool,
               first_names: frozenset[str]) -> tuple[int, int]:
    core = text[start:end]
    if core.islower():
        # "eva kleist", "benjamin a seiler": a lower-case first name and a rare word after it.
        if label == "PERSON" and core in first_names:
            m = regex.match(r"(?:[ \t]+[a-z]\.?)?[ \t]+(\p{Ll}[\p{Ll}\p{M}'-]+)\b", text[end:])
            if m and not is_plain(m.group(1)) and zipf(m.group(1)) < r.lower_surname_max_zipf:
                end += m.end()
        return start, end
    if not shouting:
        # "Kylie minogue", "Mauro renallo": a rare lower-case word after a capitalised name.
        m = regex.match(r"[ \t]+(\p{Ll}[\p{Ll}\p{M}'-]+)(?![\w'’])", text[end:])
        if m and label == "PERSON" and not is_plain(m.group(1)) and (
                zipf(m.group(1)) < r.lower_surname_max_zipf):
            end += m.end()
        while True:  # capitalised words and particles after the name
            m = r.continuation_re.match(text, end)
            if not m:
                break
            word = m.group(2)
            if is_plain(word.lower()) or zipf(word.lower()) >= r.continuation_max_zipf:
                break
            end = m.end()
    m = regex.match(r"\.", text[end:])
    last = regex.findall(r"\w+", text[start:end])
    if m and last and last[-1].lower() in r.abbreviations:
        end += 1
    if label == "PLACE":  # "Hungary 34796", "Wrocław 53-320": a postal code after a town
        m = regex.match(r"[ \t]*,?[ \t]*(?:\d{5,6}|\d{2,3}-\d{3})(?![\w-])", text[end:])
        if m:
            end += m.end()
    if label == "PERSON":
        m = regex.search(r"(?<![\w.])(\p{L}+)\.?[ \t]+$", text[max(0, start - 16):start])
        if m and m.group(1).lower() in r.titles:
            start -= len(m.group())
    return start, end


def _grow_address(text: str, start: int, end: int, r: GrowthRules,
                  is_plain: Callable[[str], bool]) -> tuple[int, int]:
    if text[end - 1:end] == "." and not _abbreviation_before(text, end):
        end -= 1  # "14 Crown Street." ends a sentence: the stop stays in the text
    parts = 0
    while parts < r.max_parts:
        if text[end - 1:end] in ("?", "!") or (text[end - 1:end] == "." and
                                               not regex.match(r"[ \t]*\r?\n", text[end:])
                                               and not _abbreviation_before(text, end)):
            break  # a sentence ended; what follows is not the address
        m = r.part_re.match(text, end)
        if not m or "\n\n" in m.group("sep").replace("\r", "") or not m.group("part"):
            break
        word = m.group("part")
        if _is_prose(word, text, m.end(), r, is_plain):
            break
        end = m.end()
        parts += 1
    parts = 0
    while parts < r.max_parts:
        m = r.left_part_re.search(text[:start])
        if not m or is_plain(m.group("part").rstrip(".").lower()) or (
                m.group("part").endswith(".") and len(m.group("part")) > 3):
            break  # a plain word, or the end of the previous sentence
        start = m.start()
        parts += 1
    if r.prefix_re is not None:
        m = r.prefix_re.search(text[:start])
        if m:
            start = m.start()
    return start, end


def _is_prose(word: str, text: str, after: int, r: GrowthRules,
              is_plain: Callable[[str], bool]) -> bool:
    """A capitalised word that is a stop or allowed word ("Then", "Mum") ends the address;
    region codes in capitals ("CO", "AT") do not."""
    bare = word.rstrip(".")
    if not bare[:1].isalpha() or r.unit_re.match(word) or not bare[:1].isupper():
        return False  # numbers, unit lines, particles
    if len(bare) >= 2 and bare.isupper():
        return False
    if is_plain(bare.lower()):
        return not regex.match(r"[ \t]*,?[ \t]*\d", text[after:])
    return False


def _abbreviation_before(text: str, end: int) -> bool:
    """'u.', 'Apt.', 'St.' or a house number '19.' end in a full stop without ending a sentence."""
    m = regex.search(r"(?:^|\s)(\S+)\.$", text[:end])
    return bool(m) and (len(m.group(1)) <= 3 or m.group(1).isdigit())


FIRM = regex.compile(r"\b(\p{Lu}\p{Ll}+), (\p{Lu}\p{Ll}+),? (?:and|&) (\p{Lu}\p{Ll}+)\b")


def firm_names(text: str, first_names: frozenset[str], is_plain: Callable[[str], bool]
               ) -> list[tuple[int, int]]:
    """'Davis, Reynolds and Williamson': three surnames joined as a firm's name. Three first
    names ('Sarah, Tom and Jayden') are people, not a firm, and are left to the name detectors;
    allowed words ('Friday, Saturday and Sunday') are neither."""
    return [m.span() for m in FIRM.finditer(text)
            if sum(w.lower() in first_names for w in m.groups()) < 2
            and not any(is_plain(w.lower()) or is_plain(w.lower().rstrip("s"))
                        for w in m.groups())]


_LIST_SEP = r"(?:[ \t]*,[ \t]*(?:and[ \t]+)?|[ \t]+(?:and|&|or)[ \t]+)"


def coordinated_names(text: str, spans: list[Span], is_name: Callable[[str], bool]
                      ) -> list[tuple[int, int]]:
    """First names listed with a detected person ('Silvana, adam, christopher and caleb'):
    the list says they are names even in lower case. Returns the new (start, end) spans."""
    taken = [(s.start, s.end) for s in spans if s.label == "PERSON"]
    found: list[tuple[int, int]] = []
    frontier = list(taken)
    while frontier:
        a, b = frontier.pop()
        m = regex.match(rf"{_LIST_SEP}(\p{{L}}+)(?![\w'’])", text[b:])
        cands = [(b + m.start(1), b + m.end(1))] if m else []
        m = regex.search(rf"(?<![\w'’])(\p{{L}}+){_LIST_SEP}$", text[max(0, a - 40):a])
        if m:
            off = max(0, a - 40)
            cands.append((off + m.start(1), off + m.end(1)))
        for c in cands:
            word = text[c[0]:c[1]].lower()
            if is_name(word) and c not in found and not any(
                    x < c[1] and c[0] < y for x, y in taken):
                found.append(c)
                taken.append(c)
                frontier.append(c)
    return found


def join_adjacent(text: str, spans: list[Span]) -> list[Span]:
    """Name spans separated only by spaces are one name ("Donald" found by the model, "trump" by
    recurrence): one pseudonym, not "[PERSON_1] [PERSON_2]" with the space between them."""
    out: list[Span] = []
    for s in spans:
        prev = out[-1] if out else None
        if (prev is not None and prev.label in NAME_LABELS and s.label in NAME_LABELS
                and regex.fullmatch(r"[ \t]+", text[prev.end:s.start])):
            out[-1] = Span(prev.start, s.end, prev.label, prev.detector, prev.score, prev.rule)
        else:
            out.append(s)
    return out
