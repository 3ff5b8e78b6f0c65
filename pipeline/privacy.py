"""Leak check: no identifier from the pseudonym key may appear in anything themeflow wrote.

Every file under a folder is scanned (parquet tables cell by cell, zip containers such as
.xlsx/.docx/.qdpx member by member, SQLite databases row by row, everything else as text) for
every name-like identifier in the key, whole-word and case-insensitive; structured identifiers
(phones, emails) and two-character ones (initials, "Jo") are matched exactly, as whole words.
Text and identifiers are compared folded (``pipeline.textfold``): a look-alike letter or a
zero-width space inside a name does not hide it. A hit fails the run; the report names the file and the
pseudonym, never the identifier, so the error message itself cannot leak.

``PrivacyContext`` is what a run knows once redaction is done: the key's identifiers and the
words the team publishes (role and area values). It is built once and used by every check that
follows (topic keywords, the labels CSV, the run folder, the review record).

Usage::

    privacy = PrivacyContext.load(study, cfg)
    privacy.check_run(run_dir, study.cache_dir / "leak_check")   # raises LeakError on a hit
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import pandas as pd

from pipeline.errors import LeakError
from pipeline.fsutil import atomic_write
from pipeline.keys import FirstWordIndex, PseudonymKey
from pipeline.study import Study
from pipeline.textfold import fold as fold_text

if TYPE_CHECKING:
    from pipeline.config import Config

NAME_TYPES = {"PERSON", "PLACE", "ORG"}
SCAN_VERSION = 3  # bump when what the scan reads or matches changes: clean records then expire
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")
# Style sheets and style attributes are the template's own code, never data ("max-width" is not
# a leak of a pseudonymised "max").
_STYLE = re.compile(r"<style[^>]*>.*?</style>|\sstyle=\"[^\"]*\"", re.DOTALL | re.IGNORECASE)
MIN_LENGTH = 2         # one character is never an identifier a reader could recognise
MIN_FOLDED_LENGTH = 3  # shorter ones are matched in their own case
ZIP_SUFFIXES = (".xlsx", ".docx", ".qdpx", ".zip")
SQLITE_SUFFIXES = (".sqlite", ".db")


@dataclass(frozen=True)
class Leak:
    path: Path
    pseudonym: str
    count: int


def _matchers(identifiers: Iterable[tuple[str, str, str]], skip: Callable[[str], bool]
              ) -> list[tuple[re.Pattern[str], dict[str, str]]]:
    """Two alternations (names case-insensitive, the rest exact) and match -> pseudonym maps,
    over folded identifiers. A two-character identifier is matched in its own case only: "Jo"
    is a name, "jo" in a folder path is not."""
    groups: dict[bool, dict[str, str]] = {True: {}, False: {}}
    for ident, label, pseudo in identifiers:
        if skip(" ".join(ident.split())):
            continue
        ident = " ".join(fold_text(ident).split())
        if len(ident) < MIN_LENGTH:
            continue
        fold = label in NAME_TYPES and len(ident) >= MIN_FOLDED_LENGTH
        groups[fold][ident.casefold() if fold else ident] = pseudo
    out = []
    for fold, table in groups.items():
        if not table:
            continue
        words = sorted(table, key=len, reverse=True)
        body = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        regex = re.compile(rf"(?<![\w\[])(?:{body})(?![\w\]])", re.IGNORECASE if fold else 0)
        out.append((regex, {("f:" if fold else "x:") + k: v for k, v in table.items()}))
    return out


def _file_texts(path: Path) -> Iterable[str]:
    """The text a file holds: parquet cell by cell (its raw bytes are binary noise in which short
    acronyms turn up by chance), anything else decoded as text."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        yield "\n".join(map(str, frame.columns))
        for col in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                yield "\n".join(map(str, frame[col].tolist()))
        return
    if path.suffix in (".npz", ".npy", ".png"):  # binary; figures hold no text chunks
        return
    if path.suffix in ZIP_SUFFIXES:  # exports are zip containers: scan every member's text
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                yield name
                yield zf.read(name).decode("utf-8", errors="ignore")
        return
    if path.suffix in SQLITE_SUFFIXES:
        yield from _sqlite_texts(path)
        return
    data = path.read_bytes()
    text = data.decode("utf-8", errors="ignore")
    if path.suffix in (".html", ".htm"):
        # Embedded figures are base64 (data: URIs): noise in which a short acronym from the key
        # turns up between "+" and "/" by chance. The figures' words are checked at the source
        # (topic keywords are scrubbed before they are drawn).
        text = _STYLE.sub(" ", _DATA_URI.sub("data:", text))
    yield text
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        yield data.decode("utf-16", errors="ignore")


def _sqlite_texts(path: Path) -> Iterable[str]:
    """Every text cell of every table (pages of a database file are not plain text, and a WAL
    file may hold rows not yet in the main file; sqlite reads both)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                yield "\n".join(str(v) for v in row if isinstance(v, str))
    finally:
        conn.close()


class _Scanner:
    """The key's identifiers, each text searched only for those that can occur in it
    (``FirstWordIndex``): the same hits as one alternation of the whole key."""

    def __init__(self, identifiers: Iterable[tuple[str, str, str]],
                 skip: Callable[[str], bool]) -> None:
        self.index = FirstWordIndex(identifiers, lambda item: fold_text(item[0]))
        self.skip = skip
        self._cache: dict[frozenset, list] = {}

    def matchers(self, text: str) -> list[tuple[re.Pattern[str], dict[str, str]]]:
        chosen = self.index.candidates(text)
        if chosen not in self._cache:
            self._cache[chosen] = _matchers(sorted(chosen), self.skip) if chosen else []
        return self._cache[chosen]


def scan_texts(texts: Iterable[str], identifiers: Iterable[tuple[str, str, str]],
               skip: Callable[[str], bool] = lambda s: False) -> dict[str, int]:
    """pseudonym -> hits, over the given texts."""
    scanner = identifiers if isinstance(identifiers, _Scanner) else _Scanner(identifiers, skip)
    hits: dict[str, int] = {}
    for text in map(fold_text, texts):
        for regex, table in scanner.matchers(text):
            for m in regex.finditer(text):
                found = " ".join(m.group().split())
                pseudo = table.get("f:" + found.casefold()) or table.get("x:" + found) or "?"
                hits[pseudo] = hits.get(pseudo, 0) + 1
    return hits


def leaking_texts(texts: list[str], identifiers: Iterable[tuple[str, str, str]],
                  skip: Callable[[str], bool] = lambda s: False) -> set[int]:
    """Indices of the texts that contain any key identifier (for re-scanning quotes before they
    are shown)."""
    matchers = _matchers(identifiers, skip)
    return {i for i, text in enumerate(map(fold_text, texts))
            if any(regex.search(text) for regex, _ in matchers)}


def scan_folder(root: Path, identifiers: Iterable[tuple[str, str, str]],
                skip: Callable[[str], bool] = lambda s: False,
                clean_cache: Path | None = None) -> list[Leak]:
    return scan_paths(sorted(p for p in root.rglob("*") if p.is_file()), identifiers, skip,
                      clean_cache)


def scan_paths(paths: Iterable[Path], identifiers: Iterable[tuple[str, str, str]],
               skip: Callable[[str], bool] = lambda s: False,
               clean_cache: Path | None = None) -> list[Leak]:
    """Leaks in the given files. SQLite side files (-wal, -shm) are read through their database.

    ``clean_cache``: a folder remembering, per set of searched identifiers, the content hashes of
    files found clean. The same bytes searched for the same identifiers give the same answer,
    so a rerun that writes identical tables does not search them again; a key that grew (or a
    changed skip list) is a new set, and everything is searched. Only hashes are kept."""
    idents = list(identifiers)
    scanner = _Scanner(idents, skip)
    clean, record = _clean_record(clean_cache, idents, skip)
    leaks = []
    for path in paths:
        if path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        digest = _file_digest(path) if record is not None else None
        if digest is not None and digest in clean:
            continue
        found = sorted(scan_texts(_file_texts(path), scanner, skip).items())
        leaks += [Leak(path, pseudo, n) for pseudo, n in found]
        if digest is not None and not found and path.suffix not in SQLITE_SUFFIXES:
            clean.add(digest)
    if record is not None:
        atomic_write(record, json.dumps(sorted(clean)))
    return leaks


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _clean_record(folder: Path | None, identifiers: list[tuple[str, str, str]],
                  skip: Callable[[str], bool]) -> tuple[set[str], Path | None]:
    """The clean-file hashes for exactly this set of searched identifiers (after ``skip``)."""
    if folder is None:
        return set(), None
    searched = sorted({(" ".join(i.split()), label) for i, label, _ in identifiers
                       if len(" ".join(i.split())) >= MIN_LENGTH
                       and not skip(" ".join(i.split()))})
    key = hashlib.sha256(json.dumps([SCAN_VERSION, searched]).encode()).hexdigest()[:32]
    record = folder / f"{key}.json"
    try:
        return set(json.loads(record.read_text())), record
    except (OSError, ValueError):
        return set(), record


@dataclass(frozen=True)
class PrivacyContext:
    """The key's identifiers (identifier, type, pseudonym) and the published words, casefolded."""

    identifiers: tuple[tuple[str, str, str], ...]
    published: frozenset[str] = frozenset()

    @classmethod
    def load(cls, study: Study, cfg: Config) -> "PrivacyContext":
        """The study's key as it is now (none before the first run made one)."""
        key_file = study.key_path(cfg)
        identifiers = PseudonymKey.load(key_file).identifiers() if key_file.exists() else []
        return cls(tuple(identifiers), frozenset(w.casefold() for w in study.published_words()))

    def is_published(self, text: str) -> bool:
        """True for a role or area value the team publishes in attributions."""
        return text.casefold() in self.published

    def keyword_filter(self) -> Callable[[list[str]], list[str]]:
        """Topic keywords come from redacted text, but c-TF-IDF bigrams join words across
        dropped pseudonyms and punctuation ("... water. Board ..." gives "water board"), so a
        keyword can spell an identifier that no passage contains; keywords are cached and drawn
        into figures, which the leak check cannot read. The filter drops any keyword holding a
        key identifier."""
        if not self.identifiers:
            return lambda words: words

        def keep(words: list[str]) -> list[str]:
            bad = leaking_texts(words, self.identifiers, skip=self.is_published)
            return [w for i, w in enumerate(words) if i not in bad]
        return keep

    def check_doc_ids(self, documents: pd.DataFrame) -> None:
        """A file name becomes the document's id in every table, so a transcript named after a
        participant would fail the final check with no hint why. Raise ``LeakError`` naming
        the block and the pseudonym, never the file (its name is the identifier)."""
        for block, group in documents.groupby("block", sort=True):
            names = sorted(str(d) for d in group["doc_id"])
            for place, doc_id in enumerate(names, start=1):
                hits = scan_texts([doc_id.replace("_", " ").replace("-", " ")],
                                  self.identifiers, skip=self.is_published)
                if hits:
                    raise LeakError(
                        f"a transcript's file name holds an identifier from the key "
                        f"({', '.join(sorted(hits))}): file {place} of {len(names)} in "
                        f"transcripts/{block}/, by name. File names become document ids in "
                        "every table: rename it (to the participant's study id, say) and run "
                        "again")

    def check_run(self, folder: Path, clean_cache: Path | None = None) -> dict:
        """Scan every file of a run for every key identifier; raise ``LeakError`` on any hit.
        Returns the counts (files, identifiers, hits) saved as ``leak_check.json``."""
        leaks = scan_folder(folder, self.identifiers, skip=self.is_published,
                            clean_cache=clean_cache)
        if leaks:
            where = "; ".join(f"{leak.path.name}: {leak.pseudonym} x{leak.count}"
                              for leak in leaks[:10])
            raise LeakError(f"identifiers from the pseudonym key found in the run output "
                            f"({where}); the run was not saved", folder)
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        return {"files_scanned": files, "identifiers_in_key": len(self.identifiers), "hits": 0}

    def check_review_record(self, study: Study) -> list[dict]:
        """The analysts' review store and exports are scanned too: an identifier first found in
        this run may sit in a quote accepted earlier. Hits do not fail the run (the run folder is
        clean, and the analysts' record is never deleted by themeflow); they are listed in
        ``leak_check.json`` and printed by the CLI, naming the file and pseudonym to fix."""
        paths = [p for p in (study.review_path,) if p.exists()]
        if study.exports_dir.exists():
            paths += sorted(p for p in study.exports_dir.iterdir()
                            if p.is_file() and not p.name.startswith("."))
        if not paths or not self.identifiers:
            return []
        return [{"file": str(leak.path.relative_to(study.root)), "pseudonym": leak.pseudonym,
                 "count": leak.count}
                for leak in scan_paths(paths, self.identifiers, skip=self.is_published)]
