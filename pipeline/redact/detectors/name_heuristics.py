"""Names the NER model misses, from word rarity and gazetteers.

A run of capitalised words is a name when one of its words is rare in English (or a listed first
name or place) and it is not merely capitalised by its position; in lower case, listed first
names that are not ordinary words, and countries or states, count too. Transcripts typed in
capitals skip the capitalisation test, and in text written without capitals a rare word that is
not a misspelling is taken for a name.
"""

from __future__ import annotations

import re

import regex

from pipeline.config import RedactConfig
from pipeline.redact import gazetteers
from pipeline.redact.casing import is_noise, is_shouting, is_uncased
from pipeline.redact.detectors.base import Context, Detector
from pipeline.redact.spans import Span, clean_entity
from pipeline.redact.vocabulary import Vocabulary

# A capitalised word, an acronym, or a word in capitals ("LEPPEN", "ΠΑΦΟΣ") in running text.
_NAME_WORD = r"(?:\p{Lu}[\p{Ll}\p{M}]+(?:[-'’]\p{L}+)*|[A-Z]{2,4}|\p{Lu}[\p{Lu}\p{M}]{4,})"
_CAP_RUN = regex.compile(rf"(?<![\w'’]){_NAME_WORD}(?:\s+(?:\p{{Lu}}\.?\s+)?{_NAME_WORD})*(?![\w'’])")
_LOWER_WORD = re.compile(r"(?<![\w'’@./-])[a-z][a-z'-]+(?![\w@]|\.[a-z])")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:;]\s*[\"'“‘(\[]?\s*|\n\s*|[\"“(]\s*)$")
SETTINGS = ("rare_word_zipf", "capitalised_name_zipf", "initial_rare_zipf", "initial_name_zipf",
            "lower_name_zipf", "lower_name_min_freq", "lower_place_zipf", "uncased_rare_zipf",
            "uncased_name_zipf", "uncased_name_min_freq")


class NameHeuristics(Detector):
    name = "name_heuristics"
    version = 1

    def __init__(self, cfg: RedactConfig, vocab: Vocabulary) -> None:
        self.cfg, self.vocab = cfg, vocab

    def reads(self) -> tuple[object, ...]:
        return (self.cfg.name_heuristics, *(getattr(self.cfg, s) for s in SETTINGS))

    def warm(self) -> None:
        gazetteers.first_names(), gazetteers.place_names(), gazetteers.major_place_names()
        gazetteers.english_first_names(self.cfg.lower_name_min_freq)
        gazetteers.english_first_names(self.cfg.uncased_name_min_freq), gazetteers.zipf("the")

    def find(self, texts: list[str], context: Context) -> list[list[Span]]:
        if not self.cfg.name_heuristics:
            return [[] for _ in texts]
        return [self.name_spans(text) for text in texts]

    def name_spans(self, text: str) -> list[Span]:
        cfg, vocab = self.cfg, self.vocab
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
                    if low in vocab.stop or low in vocab.allow or word.isupper() and len(word) <= 4:
                        continue
                    freq = gazetteers.zipf(low)
                    at_start = initial and k == 0
                    if at_start:
                        hit = freq < cfg.initial_rare_zipf or (
                            (low in firsts or low in places) and freq < cfg.initial_name_zipf
                            and low not in vocab.common_names)
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
                if vocab.is_allowed(text[a:b]):
                    continue
                label = ("PERSON" if any(w in firsts for w in flagged) else
                         "PLACE" if any(w in places for w in flagged) else "NAME")
                spans.append(Span(a, b, label, "proper_noun", 0.6, "rare capitalised word"))
        target = text.lower() if shouting else text
        uncased = is_uncased(text)
        common_firsts = gazetteers.english_first_names(cfg.uncased_name_min_freq)
        for m in _LOWER_WORD.finditer(target):
            low = m.group().strip("'-")
            if low in vocab.stop or low in vocab.allow or low in vocab.common_names:
                continue
            freq = gazetteers.zipf(low)
            end = m.start() + len(low)
            if low in english and freq < cfg.lower_name_zipf or uncased and (
                    low in common_firsts and freq < cfg.uncased_name_zipf):
                spans.append(Span(m.start(), end, "PERSON", "gazetteer", 0.5,
                                  "first name in lower case"))
            elif low in majors and freq < cfg.lower_place_zipf:
                spans.append(Span(m.start(), end, "PLACE", "gazetteer", 0.5,
                                  "country or state in lower case"))
            elif uncased and freq < cfg.uncased_rare_zipf and len(low) >= 4 and low.isalpha() \
                    and not is_noise(low) and not gazetteers.is_typo_of_common_word(low):
                spans.append(Span(m.start(), end, "NAME", "proper_noun", 0.5,
                                  "rare word in text without capitals"))
        return spans
