"""Ingest: transcript files -> documents and speaker turns (raw text; stays inside ingest+redact).

Reads ``.txt`` (UTF-8, UTF-8 with BOM, UTF-16, cp1252), ``.docx`` (speakers in bold or in a
table too), ``.vtt``/``.srt`` captions and ``.csv`` survey answers; ``pipeline.turns`` splits the
text into speaker turns and marks interviewer versus respondent. A file that is empty, binary,
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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

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
from pipeline.lexicons import read_yaml
from pipeline.turns import MAX_LABEL_WORDS, TURN_START, Turn, TurnParser

# Caption files (.vtt, .srt): a cue's timing line, and a WebVTT voice tag "<v Sarah Jones>".
_CUE_TIMING = re.compile(r"^\s*(?:\d{1,2}:)?\d{2}:\d{2}[.,]\d{3}\s*-->\s*")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)*\s+([^>]+)>")
CAPTION_SUFFIXES = (".vtt", ".srt")
SURVEY_SUFFIX = ".csv"
SUFFIXES = (".txt", ".docx", *CAPTION_SUFFIXES, SURVEY_SUFFIX)


@dataclass
class Document:
    doc_id: str
    block: str
    path: Path
    sha256: str
    turns: list[Turn] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)  # names found in speaker labels
    convention: str = ""  # how the turns were told apart (TurnParser.convention)


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

    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError, OSError) as exc:
        raise IngestError(f"cannot be opened as a Word document ({type(exc).__name__})", path) from exc
    lines = []
    for block in document.element.body.iterchildren():  # paragraphs and tables, in order
        if block.tag.endswith("}p"):
            lines.append(_docx_paragraph(Paragraph(block, document)))
        elif block.tag.endswith("}tbl"):
            lines += _docx_table(Table(block, document))
    return "\n".join(lines)


def _docx_paragraph(paragraph: Any) -> str:
    """A paragraph's text; a speaker name in bold at its start ("**Sarah** Yes, I ...") is
    given the colon of a label, when the paragraph goes on after it."""
    runs = [r for r in paragraph.runs if r.text]
    bold = ""
    for run in runs:
        if not run.bold:
            break
        bold += run.text
    head = bold.strip().rstrip(":").strip()
    rest = paragraph.text[len(bold):].strip()
    if head and rest and len(head.split()) <= MAX_LABEL_WORDS and not head.endswith((".", "?")):
        return f"{head}: {rest}"
    return paragraph.text


def _docx_table(table: Any) -> list[str]:
    """A two-column table of speaker | text, one turn per row; other tables as plain lines."""
    lines = []
    for row in table.rows:
        cells = [c.text.strip() for c in row.cells]
        if len(cells) == 2 and cells[0] and len(cells[0].split()) <= MAX_LABEL_WORDS:
            lines += [f"{cells[0].rstrip(':')}: {cells[1]}", ""]
        else:
            lines += [" ".join(c for c in cells if c), ""]
    return lines


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no BOM or zero-width characters: offsets are counted on this."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[\u200b\u200c\u200d\u2060]", "", text)
    return unicodedata.normalize("NFC", text)


def captions_as_text(text: str) -> str:
    """A WebVTT or SRT caption file as ``Speaker: text`` turns: cue numbers, timings, headers,
    NOTE blocks and tags dropped; the speaker from a voice tag (``<v Sarah>``) or a ``Name:``
    inside the cue; consecutive cues of one speaker merged into one turn. Cues without a
    speaker become paragraphs."""
    turns: list[list[str | None]] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        timing = next((i for i, ln in enumerate(lines) if _CUE_TIMING.match(ln)), None)
        if timing is None:
            continue  # WEBVTT header, NOTE, STYLE or REGION block
        body = " ".join(lines[timing + 1:])
        voice = _VOICE.search(body)
        speaker = voice.group(1).strip() if voice else None
        body = re.sub(r"\s+", " ", re.sub(r"</?[^>]*>", "", body)).strip()
        if speaker is None:
            match = TURN_START.match(body)
            if match and len(match.group("label").split()) <= MAX_LABEL_WORDS:
                speaker, body = match.group("label").strip(), match.group("rest").strip()
        if not body:
            continue
        if turns and speaker is not None and turns[-1][0] == speaker:
            turns[-1][1] = f"{turns[-1][1]} {body}"
        else:
            turns.append([speaker, body])
    return "\n\n".join(f"{s}: {b}" if s else str(b) for s, b in turns)


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


def _checked_bytes(path: Path, cfg: IngestConfig) -> bytes:
    """A file's bytes, read only after its size (from ``stat``) and kind (its first bytes) are
    checked, so a recording or an archive is never loaded."""
    size = path.stat().st_size
    if size > cfg.max_file_mb * 1024 * 1024:
        raise TooLargeError(
            f"is {size / 1e6:.1f} MB, over the {cfg.max_file_mb} MB limit (ingest.max_file_mb)", path)
    kind = sniff(path)
    is_docx = path.suffix.lower() == ".docx"
    if kind is not None and not (is_docx and kind.startswith("a zip")):
        raise BinaryFileError(f"is {kind}, not a transcript (its first bytes say so)", path)
    return path.read_bytes()


def read_survey(path: Path, block: str, cfg: IngestConfig) -> list[Document]:
    """Open-ended survey answers (columns ``doc`` and ``text``; optional ``question_id`` and
    ``question``) as a block's transcripts: one document per respondent, ``<file>-<doc>``,
    each answer a respondent turn after its question, which becomes the passage's context as
    an interviewer's question does."""
    import io

    import pandas as pd

    data = _checked_bytes(path, cfg)
    try:
        frame = pd.read_csv(io.StringIO(decode_bytes(data, path)), dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise IngestError(f"cannot be read as survey answers (CSV): {exc}", path) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"doc", "text"} <= set(frame.columns):
        raise IngestError("survey answers need 'doc' and 'text' columns (optional question_id, "
                          "question)", path)
    docs: dict[str, Document] = {}
    digest = sha256_bytes(data)
    for row in frame.to_dict("records"):
        answer = normalise(row["text"]).strip()
        if not answer or not row["doc"].strip():
            continue
        doc_id = f"{path.stem}-{row['doc'].strip()}"
        doc = docs.setdefault(doc_id, Document(doc_id, block, path, digest,
                                               convention="survey answers"))
        question = (row.get("question") or row.get("question_id") or "").strip()
        if question:
            doc.turns.append(Turn(len(doc.turns), "Question", False, normalise(question)))
        doc.turns.append(Turn(len(doc.turns), "Respondent", True, re.sub(r"\s+", " ", answer)))
    if not docs:
        raise NoSpeechError("no answers found (every 'text' is empty)", path)
    return list(docs.values())


def read_transcript(path: Path, doc_id: str, block: str, cfg: IngestConfig) -> Document:
    """One transcript, checked before it is read (``_checked_bytes``)."""
    data = _checked_bytes(path, cfg)
    if path.suffix.lower() == ".docx":
        text = read_docx(path)
        if not text.strip():
            raise EmptyFileError("Word document has no text", path)
    else:
        text = decode_bytes(data, path)
    if path.suffix.lower() in CAPTION_SUFFIXES:
        text = captions_as_text(normalise(text))
    parser = TurnParser(cfg)
    turns, names = parser.parse(normalise(text))
    if not any(t.is_respondent for t in turns):
        raise NoSpeechError("no respondent speech found (only interviewer turns or no text)", path)
    convention = ("captions, " if path.suffix.lower() in CAPTION_SUFFIXES else "") \
        + parser.convention
    return Document(doc_id, block, path, sha256_bytes(data), turns, names, convention)


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
            if path.suffix.lower() not in SUFFIXES:
                raise IngestError(f"unsupported file type {path.suffix!r}; use "
                                  f"{', '.join(SUFFIXES)}", path)
            read = read_survey(path, block, cfg) if path.suffix.lower() == SURVEY_SUFFIX \
                else None
            for one in read or [doc_id]:
                one_id = one.doc_id if read else one
                if one_id in seen:
                    raise DuplicateDocError(f"doc id {one_id!r} already used by "
                                            f"{seen[one_id]}; file stems must be unique", path)
            if read:
                seen |= {d.doc_id: path for d in read}
                docs += read
                continue
            seen[doc_id] = path
            docs.append(read_transcript(path, doc_id, block, cfg))
        except IngestError as exc:
            bad.append(Quarantined(doc_id, block, path, digest, str(exc)))
    return docs, bad
