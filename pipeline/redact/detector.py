"""Redact: find identifiers the hand anonymisation missed and replace them with stable pseudonyms.

Two steps, as in Presidio: ``find_identifiers`` returns spans (offsets, type, detector, score) and
``apply_spans`` rewrites text with pseudonyms. Detectors: spaCy NER, the regex patterns in
``lexicons/redaction/patterns.yaml``, deny lists, name cues ("my son Jayden") and names used as
speaker labels. A second pass redacts every recurrence, anywhere in the study, of any identifier in
the pseudonym key, so a name found once is removed everywhere.

The audit rows (``Redaction``) hold offsets, type, detector, score and pseudonym, never the
identifier. Raw text exists only inside ingest and this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex

from pipeline.config import RedactConfig
from pipeline.keys import CAPITALS_TAG_RE, FirstWordIndex, PseudonymKey, normalise_identifier
from pipeline.lexicons import lexicon_path, read_entries, read_word_list, read_yaml
from pipeline.progress import progress
from pipeline.redact import gazetteers
from pipeline.redact import growth as span_growth
from pipeline.redact.casing import is_noise, is_shouting, is_uncased, stop_words
from pipeline.redact.spans import Span, clean_entity, merge_spans
from pipeline.textfold import skeleton

NER_TYPES = {"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "ORG": "ORG"}
# Guesses from word rarity and gazetteers: enough to redact, not to vouch for a neighbour.
WEAK_DETECTORS = {"proper_noun", "gazetteer"}
NAME_TYPES = {"PERSON", "PLACE", "ORG", "NAME"}
# A capitalised word, an acronym, or a word in capitals ("LEPPEN", "ΠΑΦΟΣ") in running text.
_NAME_WORD = r"(?:\p{Lu}[\p{Ll}\p{M}]+(?:[-'’]\p{L}+)*|[A-Z]{2,4}|\p{Lu}[\p{Lu}\p{M}]{4,})"
_CAP_RUN = regex.compile(rf"(?<![\w'’]){_NAME_WORD}(?:\s+(?:\p{{Lu}}\.?\s+)?{_NAME_WORD})*(?![\w'’])")
_LOWER_WORD = re.compile(r"(?<![\w'’@./-])[a-z][a-z'-]+(?![\w@]|\.[a-z])")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:;]\s*[\"'“‘(\[]?\s*|\n\s*|[\"“(]\s*)$")
# Bump when detection code changes what it finds: detection caches are keyed on it.
DETECTOR_VERSION = 5
# Below this many turns per process, starting spaCy processes costs more than it saves.
MIN_TEXTS_PER_PROCESS = 200

class Redactor:
    """Finds identifier spans in turn texts. Build once per run; ``detect`` is pure."""

    def __init__(self, cfg: RedactConfig, nlp: Any, study_lexicons: Path | None = None,
                 extra_allow: Iterable[str] = ()) -> None:
        self.cfg = cfg
        # A pipeline, None (patterns only), or a zero-argument loader called on first use, so a
        # rerun whose detections are all cached never loads the model.
        self._nlp = nlp
        self.stop = stop_words()
        self.allow = set(read_word_list(f"redaction/{cfg.allow_list}"))
        deny = read_entries(lexicon_path(f"redaction/{cfg.deny_list}"))
        if study_lexicons is not None:
            self.allow |= set(read_entries(study_lexicons / cfg.allow_list, lower=True))
            deny += read_entries(study_lexicons / cfg.deny_list)
        self.allow |= {normalise_identifier(a) for a in extra_allow if a}
        self.deny = []
        for entry in deny:
            text, _, label = entry.partition(",")
            self.deny.append((text.strip(), (label.strip() or "PERSON").upper()))
        self.patterns = [
            (p["name"], p["label"], float(p["score"]),
             regex.compile(p["regex"], 0 if p.get("case_sensitive") else regex.IGNORECASE))
            for p in read_yaml(f"redaction/{cfg.patterns}")
        ]
        cues = sorted(read_word_list("redaction/name_cues.txt"), key=len, reverse=True)
        self.cue_re = re.compile(
            r"\b(?i:" + "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in cues) + r"),?\s+"
            r"(?P<name>[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)\b")
        self.lower_cue_re = re.compile(
            r"\b(?i:" + "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in cues) + r"),?\s+"
            r"(?P<name>[a-z][a-z'-]+)\b")
        self.deny_re = self._alternation([d for d, _ in self.deny])
        self.deny_types = {normalise_identifier(d): t for d, t in self.deny}
        self._presidio: list[tuple[Any, str]] | None = None
        self.common_names = set(read_word_list("redaction/common_name_words.txt"))

    @property
    def presidio(self) -> list[tuple[Any, str]]:
        """Presidio's recognisers, built on first use: importing Presidio takes seconds, and a
        rerun whose detections are all cached never needs it."""
        if self._presidio is None:
            self._presidio = _presidio_recognizers(self.cfg) if self.cfg.presidio else []
        return self._presidio

    def warm(self) -> None:
        """Load everything ``detect`` uses now (the model, Presidio, the word lists), so that
        forked workers inherit it instead of each loading it."""
        _ = self.nlp, self.presidio
        gazetteers.first_names(), gazetteers.place_names(), gazetteers.major_place_names()
        gazetteers.english_first_names(self.cfg.lower_name_min_freq)
        gazetteers.english_first_names(self.cfg.uncased_name_min_freq), gazetteers.zipf("the")

    @property
    def nlp(self) -> Any:
        if self._nlp is not None and not hasattr(self._nlp, "pipe"):
            self._nlp = self._nlp()
        return self._nlp

    def fingerprint(self) -> str:
        """Identifies the detector set: detection caches are keyed on it."""
        # Only what changes detection: the leak check and the key's location do not.
        settings = self.cfg.model_dump(exclude={"leak_check", "key_file"})
        parts = [json.dumps(settings, sort_keys=True), str(sorted(self.allow)),
                 str(self.deny), str([(n, r.pattern) for n, _, _, r in self.patterns]),
                 self.cue_re.pattern, self.cfg.model_version, str(DETECTOR_VERSION),
                 json.dumps(read_yaml("redaction/span_growth.yaml"), sort_keys=True),
                 json.dumps(read_yaml(f"redaction/{self.cfg.presidio}") if self.cfg.presidio
                            else None, sort_keys=True)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    @staticmethod
    def _alternation(words: list[str]) -> re.Pattern[str] | None:
        words = sorted({w for w in words if w.strip()}, key=len, reverse=True)
        if not words:
            return None
        body = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        return re.compile(rf"(?<![\w\[])(?:{body})(?![\w\]])", re.IGNORECASE)

    def is_allowed(self, text: str) -> bool:
        norm = normalise_identifier(text)
        if len(norm) < 2 or not re.search(r"[^\W\d_]", norm) or norm in self.allow:
            return True
        if CAPITALS_TAG_RE.search(text) or "redacted" in norm:
            return True
        words = [w.strip(".,;:!?'\"()") for w in norm.split()]
        return all(not w or w in self.stop or w in self.allow for w in words)

    def detect(self, texts: list[str], label_names: Iterable[str] = (), n_process: int = 1
               ) -> list[list[Span]]:
        """Spans per text from every detector (before recurrence), merged and sorted.
        ``n_process`` > 1 runs spaCy in that many processes (same results, both cores busy);
        small inputs stay in one process, where start-up would cost more than it saves."""
        out: list[list[Span]] = []
        wanted = set(self.cfg.entity_types)
        nlp = self.nlp
        n_process = n_process if len(texts) >= MIN_TEXTS_PER_PROCESS * n_process else 1
        docs = nlp.pipe(texts, batch_size=64, n_process=n_process) if nlp is not None \
            else (None for _ in texts)
        label_re = self._alternation([n for n in label_names if not self.is_allowed(n)])
        with progress("redact: finding identifiers (turns)", len(texts)) as advance:
            for text, doc in zip(texts, docs):
                out.append(self._detect_one(text, doc, wanted, label_re))
                advance()
        return out

    def _detect_one(self, text: str, doc: Any, wanted: set[str],
                    label_re: re.Pattern[str] | None) -> list[Span]:
        """Every detector over one turn (``doc`` is its spaCy parse, or None)."""
        spans: list[Span] = []
        if doc is not None:
            for ent in doc.ents:
                if ent.label_ not in wanted or ent.label_ not in NER_TYPES:
                    continue
                left, right = clean_entity(ent.text)
                start, end = ent.start_char + left, ent.start_char + right
                if end > start and not self.is_allowed(text[start:end]):
                    # A common word in lower case ("to the max") is kept only if the study
                    # capitalises it elsewhere (decided with the whole study, in planning).
                    detector = "ner_lower" if self.is_common_lower(text[start:end]) else "ner"
                    spans.append(Span(start, end, NER_TYPES[ent.label_], detector, 0.85))
        for _name, label, score, pattern in self.patterns:
            for m in pattern.finditer(text):
                if label in NAME_TYPES:
                    left, right = clean_entity(m.group())
                    if self.is_allowed(m.group()[left:right]):
                        continue
                    spans.append(Span(m.start() + left, m.start() + right, label, "pattern",
                                      score))
                else:
                    spans.append(Span(m.start(), m.end(), label, "pattern", score))
        if self.deny_re is not None:
            spans += [Span(m.start(), m.end(), self.deny_types.get(normalise_identifier(m.group()),
                           "PERSON"), "deny_list", 1.0) for m in self.deny_re.finditer(text)]
        for m in self.cue_re.finditer(text):
            if not self.is_allowed(m.group("name")):
                spans.append(Span(m.start("name"), m.end("name"), "PERSON", "name_cue", 0.8))
        if label_re is not None:
            spans += [Span(m.start(), m.end(), "PERSON", "speaker_label", 1.0)
                      for m in label_re.finditer(text)]
        for rec, label in self.presidio:
            spans += [Span(r.start, r.end, label, "presidio", round(float(r.score), 3))
                      for r in rec.analyze(text, rec.supported_entities, None)
                      if r.score >= self.cfg.presidio_min_score]
        if self.cfg.name_heuristics:
            spans += self.name_spans(text)
        spans += [Span(a, b, "ORG", "pattern", 0.8)
                  for a, b in span_growth.firm_names(text, gazetteers.first_names(),
                                                      self.is_plain)]
        if self.cfg.name_heuristics:
            spans += self.context_name_spans(text)
            spans += [Span(a, b, "PERSON", "name_list", 0.6) for a, b in
                      span_growth.coordinated_names(
                          text, [s for s in spans if s.detector not in WEAK_DETECTORS],
                          self.is_listed_name)]
        return merge_spans(span_growth.grow_spans(
            text, merge_spans(spans), self.is_plain, gazetteers.zipf, is_shouting(text),
            gazetteers.first_names()))

    def is_common_lower(self, phrase: str) -> bool:
        """A common English word in lower case that is not a country or state."""
        return phrase.islower() and phrase not in gazetteers.major_place_names() and any(
            gazetteers.zipf(w) >= self.cfg.lower_name_zipf for w in phrase.split())

    def is_listed_name(self, word: str) -> bool:
        """A listed first name that is not mainly an ordinary word (lower case)."""
        return (word in gazetteers.first_names() and not self.is_plain(word)
                and word not in self.common_names
                and gazetteers.zipf(word) < self.cfg.lower_name_zipf)

    def is_plain(self, word: str) -> bool:
        """A stop word or an allowed word (lower case): never part of a name."""
        return word in self.stop or word in self.allow

    def name_spans(self, text: str) -> list[Span]:
        """Names the NER model misses, from word rarity and gazetteers.

        A run of capitalised words is a name when one of its words is rare in English (or a
        listed first name or place) and it is not merely capitalised by its position; in lower
        case, listed first names that are not ordinary words, and countries or states, count too.
        Transcripts typed in capitals skip the capitalisation test.
        """
        cfg = self.cfg
        spans: list[Span] = []
        shouting = is_shouting(text)
        firsts, places, majors = (gazetteers.first_names(), gazetteers.place_names(),
                                  gazetteers.major_place_names())
        english = gazetteers.english_first_names(cfg.lower_name_min_freq)
        if not shouting:
            for m in _CAP_RUN.finditer(text):
                words = m.group().split()
                initial = bool(_SENTENCE_START.search(text[:m.start()]))
                flagged = []
                for k, word in enumerate(words):
                    low = word.lower().strip("'’")
                    if low in self.stop or low in self.allow or word.isupper() and len(word) <= 4:
                        continue
                    freq = gazetteers.zipf(low)
                    at_start = initial and k == 0
                    if at_start:
                        hit = freq < cfg.initial_rare_zipf or (
                            (low in firsts or low in places) and freq < cfg.initial_name_zipf
                            and low not in self.common_names)
                    else:
                        hit = freq < cfg.rare_word_zipf or (
                            (low in firsts or low in places) and freq < cfg.capitalised_name_zipf)
                    if hit:
                        flagged.append(low)
                if not flagged:
                    continue
                # Trim leading/trailing words that are ordinary (e.g. "Happy", "Thanks").
                start_k, end_k = 0, len(words)
                while start_k < end_k and words[start_k].lower() not in flagged and (
                        gazetteers.zipf(words[start_k].lower()) >= cfg.rare_word_zipf):
                    start_k += 1
                while end_k > start_k and words[end_k - 1].lower() not in flagged and (
                        gazetteers.zipf(words[end_k - 1].lower()) >= cfg.rare_word_zipf):
                    end_k -= 1
                offsets = [mm.span() for mm in re.finditer(r"\S+", m.group())]
                a, b = m.start() + offsets[start_k][0], m.start() + offsets[end_k - 1][1]
                left, right = clean_entity(text[a:b])  # "Gillian's" -> "Gillian"
                a, b = a + left, a + right
                phrase = text[a:b]
                if self.is_allowed(phrase):
                    continue
                label = ("PERSON" if any(w in firsts for w in flagged) else
                         "PLACE" if any(w in places for w in flagged) else "NAME")
                spans.append(Span(a, b, label, "proper_noun", 0.6))
        target = text.lower() if shouting else text
        uncased = is_uncased(text)
        common_firsts = gazetteers.english_first_names(cfg.uncased_name_min_freq)
        for m in _LOWER_WORD.finditer(target):
            low = m.group().strip("'-")
            if low in self.stop or low in self.allow or low in self.common_names:
                continue
            freq = gazetteers.zipf(low)
            end = m.start() + len(low)
            if low in english and freq < cfg.lower_name_zipf or uncased and (
                    low in common_firsts and freq < cfg.uncased_name_zipf):
                spans.append(Span(m.start(), end, "PERSON", "gazetteer", 0.5))
            elif low in majors and freq < cfg.lower_place_zipf:
                spans.append(Span(m.start(), end, "PLACE", "gazetteer", 0.5))
            elif uncased and freq < cfg.uncased_rare_zipf and len(low) >= 4 and low.isalpha() \
                    and not is_noise(low) and not gazetteers.is_typo_of_common_word(low):
                spans.append(Span(m.start(), end, "NAME", "proper_noun", 0.5))
        return spans

    def context_name_spans(self, text: str) -> list[Span]:
        """Lower-case names that their context marks as names: after a cue ("my name is
        hubert", "my son jayden") when the word is a listed first name or rare, and names used as
        a speaker label inside a turn ("mika: who are you?")."""
        firsts = gazetteers.first_names()
        spans = []
        for m in self.lower_cue_re.finditer(text):
            word = m.group("name")
            freq = gazetteers.zipf(word)
            # After "my name is" / "call me" a rare word is a name; after "called" or "my son"
            # it must also be a listed first name ("they're called overflows").
            naming = "name" in m.group().lower() or "me" in m.group().lower().split()
            if not self.is_plain(word) and word not in self.common_names and (
                    naming and freq < self.cfg.rare_word_zipf
                    or word in firsts and freq < self.cfg.lower_name_zipf):
                spans.append(Span(m.start("name"), m.end("name"), "PERSON", "name_cue", 0.7))
        for m in _INLINE_LABEL.finditer(text):
            low = m.group("name").lower()
            if low in firsts and not self.is_plain(low) and low not in self.common_names:
                spans.append(Span(m.start("name"), m.end("name"), "PERSON", "speaker_label", 0.8))
        return spans

    def recurrence_pattern(self, key: PseudonymKey) -> RecurrenceMatcher | None:
        """Every name-like identifier in the key, matched case-insensitively as whole words."""
        words = [ident for ident, _, _ in key.identifiers() if not self.is_allowed(ident)]
        return RecurrenceMatcher(words) if any(w.strip() for w in words) else None


# "Destiny: Remember me?" inside a turn: a name used as a speaker label at the start of a line.
_INLINE_LABEL = regex.compile(r"(?m)^[ \t>]*(?P<name>\p{L}[\p{L}'-]+)[ \t]*:(?!//)")


class RecurrenceMatcher:
    """``finditer`` as the whole-key alternation ``Redactor._alternation(words)`` would give, but
    fast with thousands of identifiers: each turn is searched only for the identifiers that can
    occur in it (``FirstWordIndex``). Same matches, leftmost and longest first."""

    def __init__(self, words: list[str]) -> None:
        self.index = FirstWordIndex({w for w in words if w.strip()}, lambda w: w)

    @staticmethod
    @lru_cache(maxsize=4096)
    def _pattern(candidates: frozenset[str]) -> re.Pattern[str] | None:
        return Redactor._alternation(list(candidates))

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Matches in ``skeleton(text)``: same offsets as ``text``, but "D\u0430vid" (Cyrillic
        a) is found as "David"; ``m.group()`` is the folded form, as the key spells it."""
        text = skeleton(text)
        candidates = self.index.candidates(text)
        pattern = self._pattern(candidates) if candidates else None
        return pattern.finditer(text) if pattern is not None else iter(())


def _presidio_recognizers(cfg: RedactConfig) -> list[tuple[Any, str]]:
    """Presidio's own recognisers named in ``lexicons/redaction/presidio.yaml``."""
    from presidio_analyzer import predefined_recognizers

    spec = read_yaml(f"redaction/{cfg.presidio}")
    out = []
    for item in spec["recognizers"]:
        cls = getattr(predefined_recognizers, item["class"])
        out.append((cls(**(item.get("kwargs") or {})), item["label"]))
    return out
