"""Segment: redacted respondent turns -> passages (sentence windows inside one turn).

Each passage keeps character offsets into the redacted document text (the turns laid out as
``Speaker: text`` blocks, see ``layout_turns``), the preceding interviewer prompt as context, and
a stable ``passage_id`` = hash(doc_id, start, end, text). Text shown to people is the speaker's
words; ``model_text`` (fillers, notes and pseudonyms removed) is only for embeddings and keywords.

Usage::

    text, spans = layout_turns(turns)          # the redacted transcript and each turn's offsets
    passages = segment_document(doc_id, turns, spans, cfg.segment)
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import SegmentConfig
from pipeline.fsutil import atomic_write
from pipeline.turns import Turn
from pipeline.keys import PLACEHOLDER_RE, PSEUDONYM_RE, PSEUDONYM_TOKEN
from pipeline.lexicons import read_word_list

if TYPE_CHECKING:  # frames are only passed through here (importing pandas costs time)
    import pandas as pd

TURN_SEPARATOR = "\n\n"
_NOTE = re.compile(r"\[(?:[a-z][a-z \-]*|\?+|\.\.\.)\]|\((?:laughs?|laughter|pause|inaudible|"
                   r"crosstalk|sighs?)\)", re.IGNORECASE)
CONTEXT_CHARS = 400


@dataclass
class Passage:
    passage_id: str
    doc_id: str
    turn_index: int
    start: int
    end: int
    text: str
    context: str
    n_words: int


def layout_turns(turns: list[Turn]) -> tuple[str, list[tuple[int, int]]]:
    """The redacted document text and each turn's (start, end) of its text within it."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, turn in enumerate(turns):
        prefix = ("" if i == 0 else TURN_SEPARATOR) + f"{turn.speaker}: "
        pos += len(prefix)
        spans.append((pos, pos + len(turn.text)))
        pieces.append(prefix + turn.text)
        pos += len(turn.text)
    return "".join(pieces), spans


@lru_cache(maxsize=1)
def _sentencizer() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def _mask_pseudonyms(text: str) -> str:
    """``[PERSON_3]`` -> ``Naaaaaaaaa`` (same length): the sentencizer keeps a bracket that
    follows a full stop with the sentence before it, which split passages inside pseudonyms
    ("... decision. [" / "PERSON_3] would ..."). A plain word of the same length keeps every
    offset and sentence boundary where a reader would put it."""
    return PSEUDONYM_RE.sub(lambda m: "N" + "a" * (len(m.group()) - 1), text)


SentenceSplitter = Callable[[list[str]], list[list[tuple[int, int]]]]


def sentence_spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    """(start, end) of each sentence in each text (rule-based; spaCy's sentencizer)."""
    out = []
    for doc in _sentencizer().pipe([_mask_pseudonyms(t) for t in texts], batch_size=256):
        out.append([(s.start_char, s.end_char) for s in doc.sents if s.text.strip()])
    return out


SENTENCE_VERSION = "2"  # bump when sentence_spans changes: cached offsets are keyed on it


class SentenceCache:
    """Sentence offsets by hash of (algorithm version, turn text); offsets only, never text.
    A rerun then needs no sentencizer at all (and does not even import spaCy). Shards are
    written whole and renamed into place, like the embedding cache."""

    def __init__(self, root: Path | None,
                 split: SentenceSplitter | None = None) -> None:
        """``split`` computes what is missing (``sentence_spans`` here, by default)."""
        self.dir = root / "sentences" if root is not None else None
        self._known: dict[str, list[tuple[int, int]]] | None = None
        self._new: dict[str, list[tuple[int, int]]] = {}
        self._split = split or sentence_spans

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(f"{SENTENCE_VERSION}\x1f{text}".encode()).hexdigest()[:32]

    def _load(self) -> dict[str, list[tuple[int, int]]]:
        if self._known is None:
            self._known = {}
            if self.dir is not None and self.dir.exists():
                for shard in sorted(self.dir.glob("shard-*.json")):
                    for k, spans in json.loads(shard.read_text(encoding="utf-8")).items():
                        self._known[k] = [tuple(x) for x in spans]
        return self._known

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        known = self._load()
        keys = [self.key(t) for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts) if k not in known and k not in self._new]
        if missing:
            for (k, _), spans in zip(missing, self._split([t for _, t in missing])):
                self._new[k] = spans
        return [known.get(k) or self._new[k] for k in keys]

    def save(self) -> None:
        if self.dir is None or not self._new:
            return
        atomic_write(self.dir / f"shard-{uuid.uuid4().hex}.json", json.dumps(self._new))
        self._load().update(self._new)
        self._new = {}


def passage_id(doc_id: str, start: int, end: int, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\x1f{start}\x1f{end}\x1f{text}".encode()).hexdigest()[:16]


def _windows(sents: list[tuple[int, int]], text: str, cfg: SegmentConfig) -> list[tuple[int, int]]:
    windows = []
    for i in range(0, len(sents), cfg.stride_sentences):
        chunk = sents[i:i + cfg.window_sentences]
        windows.append((chunk[0][0], chunk[-1][1]))
        if i + cfg.window_sentences >= len(sents):
            break
    # A short tail joins the window before it rather than standing alone.
    if len(windows) > 1 and len(text[windows[-1][0]:windows[-1][1]].split()) < cfg.min_words:
        tail = windows.pop()
        windows[-1] = (windows[-1][0], tail[1])
    return windows


def segment_document(doc_id: str, turns: list[Turn], turn_spans: list[tuple[int, int]],
                     cfg: SegmentConfig,
                     sentences: SentenceSplitter = sentence_spans
                     ) -> list[Passage]:
    """Passages of one document; ``sentences`` gives sentence offsets per text (a
    ``SentenceCache.spans`` in the flow)."""
    respondent = [t for t in turns if t.is_respondent]
    sents = iter(sentences([t.text for t in respondent]))
    passages: list[Passage] = []
    prompt = ""
    for turn, (t_start, _) in zip(turns, turn_spans):
        if not turn.is_respondent:
            prompt = turn.text
            continue
        for a, b in _windows(next(sents), turn.text, cfg) if turn.text.strip() else []:
            text = turn.text[a:b]
            n_words = len(text.split())
            if n_words < cfg.min_words:
                continue
            start, end = t_start + a, t_start + b
            context = prompt[-CONTEXT_CHARS:]
            if a > 0:
                before = turn.text[max(0, a - 200):a]
                if a > 200:  # start at a word, never inside one
                    before = before.split(" ", 1)[-1]
                context = (context + " … " if context else "") + before.strip()
            passages.append(Passage(passage_id(doc_id, start, end, text), doc_id, turn.turn_index,
                                    start, end, text, context, n_words))
    return passages


def turn_prompts(turns: Any) -> dict[tuple[str, int], str]:
    """Each respondent turn's prompt: the last interviewer turn before it (its last
    ``CONTEXT_CHARS``), as ``segment_document`` puts at the head of a passage's context.
    ``turns`` is the turns table (doc_id, turn_index, is_respondent, text)."""
    prompts: dict[tuple[str, int], str] = {}
    for doc_id, group in turns.sort_values(["doc_id", "turn_index"], kind="stable").groupby(
            "doc_id", sort=False):
        prompt = ""
        for t in group.itertuples():
            if not t.is_respondent:
                prompt = str(t.text)[-CONTEXT_CHARS:]
            else:
                prompts[(str(doc_id), int(t.turn_index))] = prompt
    return prompts


@lru_cache(maxsize=1)
def _disfluency_re() -> re.Pattern[str]:
    words = sorted(read_word_list("text/disfluencies.txt"), key=len, reverse=True)
    body = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)[,.]?", re.IGNORECASE)


_PSEUDO_WORD = {"PERSON": "someone", "PLACE": "a place", "ORG": "an organisation"}


def model_text(text: str, pseudonyms_as_words: bool = True) -> str:
    """Text for embeddings: notes, disfluencies removed; pseudonyms as plain words ("someone"),
    or dropped (``pseudonyms_as_words=False``, for topic keywords)."""
    text = _NOTE.sub(" ", text)
    text = PLACEHOLDER_RE.sub(lambda m: _PSEUDO_WORD.get(m.group("label") or "", "") if pseudonyms_as_words
                       else " ", text)
    text = _disfluency_re().sub(" ", text)
    return " ".join(text.split())  # = re.sub(r"\s+", " ", text).strip(), 10x faster


def model_texts(passages: pd.DataFrame) -> list[str]:
    """Texts for embeddings, one per passage (see ``model_text``)."""
    return [model_text(t) for t in passages["text"]]


def keyword_texts(passages: pd.DataFrame) -> list[str]:
    """Texts for topic keywords: as for embeddings, but pseudonyms dropped, not worded."""
    return [model_text(t, pseudonyms_as_words=False) for t in passages["text"]]


def passage_prompts(passages: pd.DataFrame, turns: pd.DataFrame) -> list[str]:
    """The interviewer's prompt before each passage's turn ("" where there is none)."""
    prompts = turn_prompts(turns)
    return [prompts.get((str(d), int(t)), "") for d, t in
            zip(passages["doc_id"], passages["turn_index"])]


def locate_passage(raw: str, passage: str, start_hint: int) -> tuple[int, int] | None:
    """Where a (redacted) passage sits in the raw transcript, approximately: the longest stretch
    of it without pseudonyms is searched for (whitespace-insensitive, no wildcards, so the search
    stays linear), and the rest of the passage is laid around it. Why approximately: a run keeps
    only redacted text, and a pseudonym is rarely as long as what it replaced."""
    pieces = re.split(PSEUDONYM_TOKEN, passage)
    anchor = max(pieces, key=len)
    words = anchor.split()
    if len(words) < 3:
        return None
    regex = re.compile(r"\s+".join(re.escape(w) for w in words))
    m = regex.search(raw, max(0, start_hint)) or regex.search(raw)
    if not m:
        return None
    before = passage.index(anchor)
    after = len(passage) - before - len(anchor)
    return max(0, m.start() - before), min(len(raw), m.end() + after)


def raw_offsets(passages: pd.DataFrame, raws: dict[str, str]) -> pd.DataFrame:
    """``passages`` with ``raw_start`` and ``raw_end``: each passage's place in its document's
    raw text (``raws[doc_id]``), -1 where it is not found. Passages are searched in order, each
    from where the last one of its document was found. Used to lay spans coded on the raw
    text (another coder's segments, an imported project's codings) onto passages."""
    spans = []
    cursor: dict[str, int] = {}
    for row in passages.itertuples():
        found = locate_passage(raws.get(row.doc_id, ""), row.text, cursor.get(row.doc_id, 0))
        spans.append(found or (-1, -1))
        if found:
            cursor[row.doc_id] = found[0]
    return passages.assign(raw_start=[a for a, _ in spans], raw_end=[b for _, b in spans])
