"""Ingest: transcript files -> documents and speaker turns (raw text; stays inside ingest+redact).

Reads ``.txt`` (UTF-8, UTF-8 with BOM, UTF-16, cp1252) and ``.docx``; splits speaker turns for the
usual conventions (``Name:``, ``Interviewer 1:``, ``I:``/``R:``, ``Q:``/``A:``, leading timestamps
``[00:12:31]`` / ``12:31``) and marks interviewer versus respondent. A file that is empty, binary,
undecodable, too large or has no speech raises an ``IngestError`` naming it; ``ingest_study``
quarantines it and carries on with the rest.

Usage::

    doc = read_transcript(path, doc_id="p01", block="2014", cfg=config.ingest)
    doc.turns[0].speaker, doc.turns[0].is_respondent
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import IngestConfig
from pipeline.errors import (
    BinaryFileError,
    DuplicateDocError,
    EmptyFileError,
    EncodingError,
    IngestError,
    NoSpeechError,
    TooLargeError,
)
from pipeline.lexicons import read_word_list, read_yaml

_TIMESTAMP = r"(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\)?\]?)"
_LABEL = r"(?P<label>[A-Za-z][A-Za-z0-9 .'&/-]{0,60}?)"
# "[00:12:31] Interviewer 1: ..." or "Interviewer (00:12:31): ..." or "12:31 R: ..."
_TURN_START = re.compile(
    rf"^\s*(?:{_TIMESTAMP}\s*)?{_LABEL}\s*(?:{_TIMESTAMP})?\s*:\s*(?P<rest>.*)$"
)
_INLINE_TIMESTAMP = re.compile(rf"(?<!\w){_TIMESTAMP}(?!\w)")
_MAX_LABEL_WORDS = 4


@dataclass
class Turn:
    turn_index: int
    speaker: str          # a role label, never a name ("Interviewer", "Respondent 2")
    is_respondent: bool
    text: str             # raw text until redaction replaces it


@dataclass
class Document:
    doc_id: str
    block: str
    path: Path
    sha256: str
    turns: list[Turn] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)  # names found in speaker labels


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The file's hash, read in blocks: a file larger than memory (a 1 GB recording dropped in a
    block) is hashed for its quarantine row without being loaded whole."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def decode_bytes(data: bytes, path: Path) -> str:
    """Decode transcript bytes: BOMs first, then UTF-8, then cp1252; reject binary files."""
    if not data.strip():
        raise EmptyFileError("file is empty", path)
    text = _decode(data, path)
    sample = text[:4096]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t\f")
    if controls > 0.05 * max(len(sample), 1):
        raise BinaryFileError("looks binary (many control characters); expected a text transcript",
                              path)
    return text


def _decode(data: bytes, path: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"has a UTF-8 mark but does not decode: {exc}", path) from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"has a UTF-16 mark but does not decode: {exc}", path) from exc
    sample = data[:4096]
    if b"\x00" in sample:
        # UTF-16 without a BOM has a NUL in every other byte of ASCII text.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) > 0.4 * (len(sample) / 2) and min(even, odd) == 0:
            try:
                return data.decode("utf-16-le" if odd else "utf-16-be")
            except UnicodeDecodeError:
                pass
        raise BinaryFileError("looks binary (contains NUL bytes); expected a text transcript", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                "is neither UTF-8, UTF-16 nor cp1252; re-save it as UTF-8", path) from exc


def read_docx(path: Path) -> str:
    import docx  # python-docx; imported here so the CLI starts fast
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError, OSError) as exc:
        raise IngestError(f"cannot be opened as a Word document ({type(exc).__name__})", path) from exc
    return "\n".join(p.text for p in document.paragraphs)


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no BOM or zero-width characters: offsets are counted on this."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[\u200b\u200c\u200d\u2060]", "", text)
    return unicodedata.normalize("NFC", text)


class TurnParser:
    """Splits normalised transcript text into speaker turns.

    A line that starts with a speaker label opens a turn; other lines continue it. A transcript with
    no labels at all becomes one respondent turn per paragraph (so nothing is lost).
    """

    def __init__(self, cfg: IngestConfig) -> None:
        self.interviewer = {s.lower() for s in cfg.interviewer_labels}
        self.roles = set(read_word_list("text/speaker_roles.txt")) | self.interviewer

    def _label_kind(self, label: str) -> tuple[str, bool] | None:
        """(role key, is_interviewer) for a plausible label, else None (an ordinary sentence)."""
        parts = [p for p in re.split(r"\s*(?:&|/|,|\band\b|\bor\b)\s*", label.strip()) if p]
        if len(parts) > 1:  # a group turn: "Interviewee 1 & Interviewee 2"
            kinds = [self._label_kind(p) for p in parts]
            if all(kinds):
                return label.strip(), all(k[1] for k in kinds if k)
            return None
        words = label.split()
        if not words or len(words) > _MAX_LABEL_WORDS:
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
        turns: list[Turn] = []
        names: list[str] = []
        role_of_label: dict[str, str] = {}
        respondents = 0
        current: list[str] | None = None
        current_meta: tuple[str, bool] | None = None

        def flush() -> None:
            if current is not None and current_meta is not None:
                body = _INLINE_TIMESTAMP.sub(" ", " ".join(current))
                body = re.sub(r"[ \t]+", " ", body).strip()
                if body:
                    turns.append(Turn(len(turns), current_meta[0], not current_meta[1], body))

        for line in text.split("\n"):
            match = _TURN_START.match(line)
            kind = self._label_kind(match.group("label")) if match else None
            if match and kind:
                flush()
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
        flush()
        self._names_as_interviewers(turns, role_of_label, names)
        if not turns:  # no speaker labels: paragraphs as respondent turns
            for para in re.split(r"\n\s*\n", text):
                body = re.sub(r"\s+", " ", _INLINE_TIMESTAMP.sub(" ", para)).strip()
                if body:
                    turns.append(Turn(len(turns), "Respondent", True, body))
        return turns, names


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


@lru_cache(maxsize=1)
def _signatures() -> list[tuple[int, bytes, str]]:
    spec = read_yaml("ingest/file_signatures.yaml")["signatures"]
    return [(int(s.get("offset", 0)), bytes.fromhex(s["hex"]), s["kind"]) for s in spec]


def sniff(path: Path) -> str | None:
    """What a file's first bytes say it is, when that is a known non-transcript kind."""
    with path.open("rb") as handle:
        head = handle.read(32)
    return next((kind for offset, magic, kind in _signatures()
                 if head[offset:offset + len(magic)] == magic), None)


def read_transcript(path: Path, doc_id: str, block: str, cfg: IngestConfig) -> Document:
    """One transcript, checked before it is read: size (from ``stat``) and kind (its first
    bytes), so a recording or an archive is never loaded."""
    size = path.stat().st_size
    if size > cfg.max_file_mb * 1024 * 1024:
        raise TooLargeError(
            f"is {size / 1e6:.1f} MB, over the {cfg.max_file_mb} MB limit (ingest.max_file_mb)", path)
    kind = sniff(path)
    is_docx = path.suffix.lower() == ".docx"
    if kind is not None and not (is_docx and kind.startswith("a zip")):
        raise BinaryFileError(f"is {kind}, not a transcript (its first bytes say so)", path)
    data = path.read_bytes()
    if path.suffix.lower() == ".docx":
        text = read_docx(path)
        if not text.strip():
            raise EmptyFileError("Word document has no text", path)
    else:
        text = decode_bytes(data, path)
    turns, names = TurnParser(cfg).parse(normalise(text))
    if not any(t.is_respondent for t in turns):
        raise NoSpeechError("no respondent speech found (only interviewer turns or no text)", path)
    return Document(doc_id, block, path, sha256_bytes(data), turns, names)


@dataclass
class Quarantined:
    doc_id: str
    block: str
    path: Path
    sha256: str
    error: str


def ingest_files(files: list[tuple[str, Path]], cfg: IngestConfig
                 ) -> tuple[list[Document], list[Quarantined]]:
    """Read every file; a bad one is quarantined with its error, the others go on."""
    docs: list[Document] = []
    bad: list[Quarantined] = []
    seen: dict[str, Path] = {}
    for block, path in files:
        doc_id = path.stem
        digest = sha256_file(path) if path.is_file() else ""
        try:
            if path.suffix.lower() not in (".txt", ".docx"):
                raise IngestError(f"unsupported file type {path.suffix!r}; use .txt or .docx", path)
            if doc_id in seen:
                raise DuplicateDocError(
                    f"doc id {doc_id!r} already used by {seen[doc_id]}; file stems must be unique",
                    path)
            seen[doc_id] = path
            docs.append(read_transcript(path, doc_id, block, cfg))
        except IngestError as exc:
            bad.append(Quarantined(doc_id, block, path, digest, str(exc)))
    return docs, bad
