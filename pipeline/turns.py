"""Speaker turns: how a transcript's text is split into turns and each marked interviewer,
prompt or respondent, for the layouts teams have (``Name:`` labels with or without timestamps,
labels alone on their line, only the interviewer labelled, no labels at all).

Usage::

    turns, names = TurnParser(config.ingest).parse(text)   # names: found in speaker labels
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.config import IngestConfig
from pipeline.lexicons import read_word_list

_TIMESTAMP = r"(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\)?\]?)"
_LABEL = r"(?P<label>[A-Za-z][A-Za-z0-9 .'&/-]{0,60}?)"
# "[00:12:31] Interviewer 1: ..." or "Interviewer (00:12:31): ..." or "12:31 R: ..."
TURN_START = re.compile(
    rf"^\s*(?:{_TIMESTAMP}\s*)?{_LABEL}\s*(?:{_TIMESTAMP})?\s*:\s*(?P<rest>.*)$"
)
_INLINE_TIMESTAMP = re.compile(rf"(?<!\w){_TIMESTAMP}(?!\w)")
# A speaker's label alone on its line with the turn below it, as transcription services and
# some typists lay it out: "Speaker 1  00:03:12", "[00:03:12] Sarah Jones", "INTERVIEWER".
_OWN_LINE = re.compile(rf"^\s*(?:{_TIMESTAMP}\s*)?{_LABEL}\s*(?:{_TIMESTAMP})?\s*$")
# A task prompt read out in a think-aloud session: "3.a Please explain ...", "Task 2. Find ...".
_PROMPT = re.compile(r"^\s*(?:task\s+)?\d+(?:\.\d+)*(?:\.?[a-z])?[.):]?\s+\S", re.IGNORECASE)
MAX_LABEL_WORDS = 4


@dataclass
class Turn:
    turn_index: int
    speaker: str          # a role label, never a name ("Interviewer", "Respondent 2")
    is_respondent: bool
    text: str             # raw text until redaction replaces it
    # Where the turn's lines lie in the text as read (label included, trailing blank lines
    # not): what ``themeflow inspect`` shows. -1 where the text was not read from lines.
    source_start: int = -1
    source_end: int = -1


def turn_role(turn: Turn) -> str:
    """interviewer, prompt (a task read out in a think-aloud session) or respondent."""
    if turn.is_respondent:
        return "respondent"
    return "prompt" if turn.speaker == "Prompt" else "interviewer"


class TurnParser:
    """Splits normalised transcript text into speaker turns.

    A line that starts with a speaker label opens a turn; other lines continue it. A transcript with
    no labels at all becomes one respondent turn per paragraph (so nothing is lost).
    """

    def __init__(self, cfg: IngestConfig) -> None:
        self.interviewer = {s.lower() for s in cfg.interviewer_labels}
        self.roles = set(read_word_list("text/speaker_roles.txt")) | self.interviewer
        self.convention = ""
        self.guess = ""

    def _label_kind(self, label: str) -> tuple[str, bool] | None:
        """(role key, is_interviewer) for a plausible label, else None (an ordinary sentence)."""
        parts = [p for p in re.split(r"\s*(?:&|/|,|\band\b|\bor\b)\s*", label.strip()) if p]
        if len(parts) > 1:  # a group turn: "Interviewee 1 & Interviewee 2"
            kinds = [self._label_kind(p) for p in parts]
            if all(kinds):
                return label.strip(), all(k[1] for k in kinds if k)
            return None
        words = label.split()
        if not words or len(words) > MAX_LABEL_WORDS:
            return None
        key = re.sub(r"[\d.]+$", "", label.strip().lower()).strip()
        base = key.rstrip(" -")
        if base in self.interviewer or base.startswith("interviewer"):
            return label.strip(), True
        if (base in self.roles or re.fullmatch(r"[a-z]{1,2}\d*", key)
                or any(w in self.roles for w in base.split())):
            return label.strip(), False
        # A name ("Sarah", "Mary Jones"): every word capitalised.
        if all(w[:1].isupper() for w in words) and len(words) <= 3:
            return label.strip(), False
        return None

    def parse(self, text: str) -> tuple[list[Turn], list[str]]:
        """The turns and the names found in speaker labels. ``self.convention`` then says which
        layout was read, for ``themeflow inspect`` and the report: labelled turns; labels alone
        on their line; only the interviewer labelled (unlabelled paragraphs are the
        respondent's, numbered task prompts the interviewer's); or no labels (paragraphs)."""
        lines = text.split("\n")
        self._line_starts = [0]
        for line in lines:
            self._line_starts.append(self._line_starts[-1] + len(line) + 1)
        own_line = self._labels_on_their_own_line(lines)
        self.guess = ""
        turns, names = self._labelled(own_line or lines)
        self.convention = "labels on their own line" if own_line else "labelled turns"
        if self.guess:
            self.convention += f"; {self.guess}"
        if turns and not any(t.is_respondent for t in turns):
            turns = self._interviewer_only(own_line or lines)
            self.convention = "only the interviewer labelled"
        if not turns:  # no speaker labels: paragraphs as respondent turns
            for para in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
                body = re.sub(r"\s+", " ", _INLINE_TIMESTAMP.sub(" ", para.group())).strip()
                if body:
                    turns.append(Turn(len(turns), "Respondent", True, body,
                                      *self._span(para.start(), para.end(), text)))
            self.convention = "no labels: paragraphs"
        return turns, names

    def _labels_on_their_own_line(self, lines: list[str]) -> list[str] | None:
        """The lines with each label alone on its line rewritten as "Label:", when the file is
        laid out so (at least two such lines, each a role, a "Speaker N" or timestamped); else
        None. A one-word line of speech ("Yes") is not a label: names count only with a
        timestamp."""
        out, found = [], 0
        for line in lines:
            m = _OWN_LINE.match(line)
            if m and line.strip() and ":" not in _INLINE_TIMESTAMP.sub("", line):
                label = m.group("label").strip()
                kind = self._label_kind(label)
                key = re.sub(r"[\d.\s]+$", "", label.lower())
                timed = bool(_INLINE_TIMESTAMP.search(line))
                if kind and (timed or key in self.roles or key.startswith(("interviewer",
                                                                          "speaker"))):
                    out.append(f"{label}:")
                    found += 1
                    continue
            out.append(line)
        return out if found >= 2 else None

    def _labelled(self, lines: list[str]) -> tuple[list[Turn], list[str]]:
        """``Label: text`` turns; a line without a label continues the turn before it."""
        turns: list[Turn] = []
        names: list[str] = []
        role_of_label: dict[str, str] = {}
        respondents = 0
        current: list[str] | None = None
        current_meta: tuple[str, bool] | None = None
        first = last = 0

        def flush() -> None:
            if current is not None and current_meta is not None:
                body = _INLINE_TIMESTAMP.sub(" ", " ".join(current))
                body = re.sub(r"[ \t]+", " ", body).strip()
                if body:
                    turns.append(Turn(len(turns), current_meta[0], not current_meta[1], body,
                                      *self._lines_span(first, last)))

        for i, line in enumerate(lines):
            match = TURN_START.match(line)
            kind = self._label_kind(match.group("label")) if match else None
            if match and kind:
                flush()
                first = last = i
                label, is_interviewer = kind
                if label not in role_of_label:
                    lowered = re.sub(r"[\d.\s]+$", "", label.lower())
                    if (lowered in self.roles or lowered.startswith("interviewer")
                            or any(w in self.roles for w in lowered.split())):
                        role_of_label[label] = label if len(label) > 2 else (
                            "Interviewer" if is_interviewer else "Respondent")
                    else:
                        names.append(label)
                        respondents += 1
                        role_of_label[label] = f"Respondent {respondents}"
                current = [match.group("rest")]
                current_meta = (role_of_label[label], is_interviewer)
            elif current is not None:
                current.append(line)
                last = i if line.strip() else last
        flush()
        self._names_as_interviewers(turns, role_of_label, names)
        self._asker_as_interviewer(turns)
        return turns, names

    def _asker_as_interviewer(self, turns: list[Turn]) -> None:
        """``Speaker 1`` / ``Speaker 2`` (transcription services do not know who interviews):
        when no turn is the interviewer's, the generic speaker whose turns are mostly questions,
        at least twice as often as anyone else's, is taken for the interviewer; the guess is
        named in ``convention``."""
        speakers = {t.speaker for t in turns}
        if any(not t.is_respondent for t in turns) or len(speakers) < 2 or not all(
                re.fullmatch(r"speaker\s*\d+", s.lower()) for s in speakers):
            return
        share = {s: sum(t.text.rstrip().endswith("?") for t in turns if t.speaker == s)
                 / sum(1 for t in turns if t.speaker == s) for s in sorted(speakers)}
        ranked = sorted(share, key=lambda s: -share[s])
        if share[ranked[0]] > 0.5 and share[ranked[0]] >= 2 * share[ranked[1]]:
            for turn in turns:
                if turn.speaker == ranked[0]:
                    turn.is_respondent = False
            self.guess = f"{ranked[0]} taken for the interviewer (asks the questions)"

    def _interviewer_only(self, lines: list[str]) -> list[Turn]:
        """Only the interviewer is labelled (``MODERATOR: Yes``, ``I:``): a blank line ends a
        turn, an unlabelled paragraph is the respondent's, and a numbered task prompt the
        participant reads out ("3.a Please explain ...") is the interviewer's side: it becomes
        the context of the answers after it, not respondent speech."""
        turns: list[Turn] = []
        current: list[str] = []
        meta: tuple[str, bool] | None = None
        span = [0, 0]  # the current turn's first and last line

        def flush() -> None:
            body = re.sub(r"\s+", " ", _INLINE_TIMESTAMP.sub(" ", " ".join(current))).strip()
            if meta is not None and body:
                turns.append(Turn(len(turns), meta[0], meta[1], body, *self._lines_span(*span)))
            current.clear()

        for i, line in enumerate(lines):
            match = TURN_START.match(line)
            kind = self._label_kind(match.group("label")) if match else None
            if match and kind and kind[1]:
                flush()
                meta = (kind[0] if len(kind[0]) > 2 else "Interviewer", False)
                current.append(match.group("rest"))
                span[:] = [i, i]
            elif not line.strip():
                flush()
                meta = None
            elif _PROMPT.match(line):
                flush()
                meta = ("Prompt", False)
                current.append(line)
                span[:] = [i, i]
                flush()
                meta = None
            else:
                if meta is None:
                    meta = ("Respondent", True)
                    span[0] = i
                current.append(line)
                span[1] = i
        flush()
        return turns

    def _lines_span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets of lines ``first`` to ``last`` (inclusive) in the text ``parse`` was given."""
        return self._line_starts[first], self._line_starts[last + 1] - 1

    @staticmethod
    def _span(start: int, end: int, text: str) -> tuple[int, int]:
        """``start:end`` shrunk to the text it holds (no surrounding whitespace)."""
        piece = text[start:end]
        return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())

    def _names_as_interviewers(self, turns: list[Turn], role_of_label: dict[str, str],
                               names: list[str]) -> None:
        """``Dan: ...`` / ``Participant: ...``: when no label says interviewer but role labels
        say respondent, the named speakers are the interviewers (their names still redacted)."""
        roles = set(role_of_label.values())
        named = {role_of_label[n] for n in names}
        if not named or len(named) == len(roles):
            return
        if any(t.speaker not in named and not t.is_respondent for t in turns):
            return  # an interviewer label exists: names are respondents
        renamed = {old: ("Interviewer" if len(named) == 1 else f"Interviewer {i}")
                   for i, old in enumerate(sorted(named), start=1)}
        for turn in turns:
            if turn.speaker in renamed:
                turn.speaker, turn.is_respondent = renamed[turn.speaker], False
