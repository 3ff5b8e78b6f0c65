"""Import a coded REFI-QDA project (``.qdpx``, from NVivo, ATLAS.ti, MAXQDA, QualCoder or
themeflow's own export) into a study: ``themeflow import project.qdpx STUDY --block NAME``.

What lands where, so that the run treats it as it treats anything a team brings:

- each text source becomes ``transcripts/<block>/<name>.txt``, normalised as ingest reads it
  (NFC, ``\\n`` line ends), and is redacted by the run like any transcript;
- cases fill ``participants.csv`` (participant = the case's name; ``role`` and ``area`` from the
  case's variables of those names); rows already there are kept as they are;
- the codebook becomes ``imports/<project>/codebook.qdc``, read by the ``.qdc`` loader (element
  ids are the code paths, ``Parent > Child``);
- each coding becomes a row of ``imports/<project>/codings.csv`` (``element, doc, start, end,
  coder``: character offsets into the written transcript, never the coded text), which
  ``[map] labels`` reads and the run resolves to the passages the span covers
  (``review.labels.locate_spans``). Codings by themeflow's own export user (its machine
  suggestions) are not human codings and are left out.

Nothing the user made is overwritten: a transcript that exists with other text is an error for
that source (the others are still imported), ``participants.csv`` only gains rows, and the
study's ``themeflow.toml`` is only written when the import creates the study.

REFI-QDA positions count characters of the source's plain text; normalising may shorten it
(``\\r\\n`` to ``\\n``), so every position is carried through the normalisation.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.errors import ProjectImportError, ThemeflowError
from pipeline.ingest import decode_bytes, normalise
from pipeline.mapping.codebook import qda_codes, xml_namespace

log = logging.getLogger("themeflow")

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
MACHINE_USER = "themeflow"  # the user themeflow's own export codes its suggestions as
CODING_COLUMNS = ["element", "doc", "start", "end", "coder", "polarity"]
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass
class Coding:
    source: str      # the source's guid
    start: int       # character offsets into the source's plain text
    end: int
    code: str        # the code's guid
    user: str        # the coder's name ("" when the project does not say)


@dataclass
class Source:
    guid: str
    name: str
    text: str | None            # None when it could not be read (``error`` says why)
    error: str = ""


@dataclass
class Project:
    """What a ``.qdpx`` holds, as read (``read_project``)."""

    path: Path
    codebook: ET.Element | None                      # the <CodeBook> element
    code_paths: dict[str, str] = field(default_factory=dict)   # guid -> "Parent > Child"
    users: dict[str, str] = field(default_factory=dict)        # guid -> name
    sources: list[Source] = field(default_factory=list)
    other_sources: int = 0                                      # PDFs, pictures, audio, video
    codings: list[Coding] = field(default_factory=list)
    cases: list[tuple[str, dict[str, str], list[str]]] = field(default_factory=list)


def read_project(path: Path) -> Project:
    """Read a ``.qdpx`` (a zip of ``project.qde`` and its ``sources/``). A project that cannot be
    read at all raises ``ProjectImportError`` naming the file; a source that cannot be read
    is kept with its ``error``, so the others still import."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ProjectImportError(f"not a REFI-QDA project (.qdpx is a zip): {exc}", path) from exc
    with zf:
        names = {n.lower(): n for n in zf.namelist()}
        qde = next((names[n] for n in names if n.endswith(".qde")), None)
        if qde is None:
            raise ProjectImportError("no project.qde inside: not a REFI-QDA project", path)
        try:
            root = ET.fromstring(zf.read(qde))
        except ET.ParseError as exc:
            raise ProjectImportError(f"project.qde is not well-formed XML: {exc}", path) from exc
        q = f"{{{xml_namespace(root)}}}" if xml_namespace(root) else ""
        project = Project(path, root.find(f"{q}CodeBook"))
        project.users = {u.get("guid", ""): u.get("name", "") for u in root.iter(f"{q}User")}
        codes = root.find(f"{q}CodeBook/{q}Codes")
        if codes is not None:
            project.code_paths = {code.get("guid", ""): full
                                  for code, full, _ in qda_codes(codes, xml_namespace(root))}
        for src in root.iter(f"{q}TextSource"):
            project.sources.append(_source(zf, src, q, names))
            for sel in src.iter(f"{q}PlainTextSelection"):
                for coding in sel.iter(f"{q}Coding"):
                    ref = coding.find(f"{q}CodeRef")
                    user = coding.get("creatingUser") or sel.get("creatingUser") or ""
                    project.codings.append(Coding(
                        src.get("guid", ""), int(sel.get("startPosition", 0)),
                        int(sel.get("endPosition", 0)),
                        ref.get("targetGUID", "") if ref is not None else "",
                        project.users.get(user, user)))
        project.other_sources = sum(len(list(root.iter(f"{q}{kind}"))) for kind in (
            "PDFSource", "PictureSource", "AudioSource", "VideoSource"))
        variables = {v.get("guid", ""): v.get("name", "") for v in root.iter(f"{q}Variable")}
        for case in root.iter(f"{q}Case"):
            values = {}
            for vv in case.findall(f"{q}VariableValue"):
                ref = vv.find(f"{q}VariableRef")
                value = next((c.text for c in vv if c.tag != f"{q}VariableRef"), "") or ""
                if ref is not None:
                    values[variables.get(ref.get("targetGUID", ""), "")] = value.strip()
            refs = [r.get("targetGUID", "") for r in case.findall(f"{q}SourceRef")]
            project.cases.append((case.get("name", ""), values, refs))
    return project


def _source(zf: zipfile.ZipFile, src: ET.Element, q: str, names: dict[str, str]) -> Source:
    """A text source's plain text: inline ``PlainTextContent``, or the file its
    ``plainTextPath`` names (``internal://x.txt`` is ``sources/x.txt`` in the zip)."""
    guid, name = src.get("guid", ""), src.get("name", "") or src.get("guid", "")
    inline = src.find(f"{q}PlainTextContent")
    if inline is not None:
        return Source(guid, name, inline.text or "")
    where = src.get("plainTextPath", "")
    member = ("sources/" + where[len("internal://"):] if where.startswith("internal://")
              else where)
    found = names.get(member.lower())
    if found is None:
        return Source(guid, name, None, f"its text {where or '(no plainTextPath)'} is not in "
                      "the project (an external file, or a source without plain text)")
    try:
        return Source(guid, name, decode_bytes(zf.read(found), Path(found)))
    except ThemeflowError as exc:
        return Source(guid, name, None, str(exc))


def _offset_map(text: str, positions: set[int]) -> dict[int, int]:
    """Each position in ``text`` as a position in ``normalise(text)``, taken piece by piece
    (normalising a prefix gives the prefix of the normalised text)."""
    out, done, at = {}, 0, 0
    for pos in sorted(p for p in positions if 0 <= p <= len(text)):
        done += len(normalise(text[at:pos]))
        out[pos], at = done, pos
    return out


def _doc_name(name: str, taken: set[str]) -> str:
    stem = _UNSAFE.sub("_", PurePosixPath(name).stem).strip("._") or "source"
    doc, n = stem, 2
    while doc in taken:
        doc, n = f"{stem}_{n}", n + 1
    return doc


@dataclass
class ImportSummary:
    sources: int = 0
    codes: int = 0
    codings: int = 0
    machine_codings: int = 0
    cases: int = 0
    participants_added: int = 0
    unmapped_variables: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def import_project(path: Path, study_root: Path, block: str) -> ImportSummary:
    """Create or extend the study at ``study_root`` from the project at ``path`` (see the module
    docstring). Returns what was imported; per-source errors are in ``errors``."""
    from pipeline.study import init_study, load_participants

    project = read_project(path)
    created = not (study_root / "themeflow.toml").exists()
    study = init_study(study_root)
    summary = ImportSummary(codes=len(project.code_paths), cases=len(project.cases))
    folder = study.transcripts_dir / block
    folder.mkdir(parents=True, exist_ok=True)
    existing = {p.stem for b in study.blocks() for p in (study.transcripts_dir / b).iterdir()}
    doc_of: dict[str, str] = {}
    texts: dict[str, str] = {}
    for src in project.sources:
        if src.text is None:
            summary.errors.append(f"{path.name}: source {src.name!r}: {src.error}")
            continue
        doc = _doc_name(src.name, set(doc_of.values()))
        target = folder / f"{doc}.txt"
        text = normalise(src.text)
        if target.exists() and target.read_text(encoding="utf-8") != text:
            summary.errors.append(f"{target}: exists with other text; source {src.name!r} not "
                                  "imported (rename or move the file to import it)")
            continue
        if doc in existing and not target.exists():
            summary.errors.append(f"{path.name}: source {src.name!r}: a transcript {doc!r} "
                                  "exists in another block; not imported")
            continue
        target.write_text(text, encoding="utf-8")
        doc_of[src.guid], texts[src.guid] = doc, src.text
        summary.sources += 1
        summary.written.append(target)

    out = study.root / "imports" / _doc_name(path.name, set())
    out.mkdir(parents=True, exist_ok=True)
    if project.codebook is not None:
        summary.written.append(_write_codebook(project.codebook, out / "codebook.qdc"))
    rows = []
    maps = {g: _offset_map(texts[g], {p for c in project.codings if c.source == g
                                      for p in (c.start, c.end)}) for g in doc_of}
    for c in project.codings:
        if c.source not in doc_of or c.code not in project.code_paths:
            continue
        if c.user == MACHINE_USER:
            summary.machine_codings += 1
            continue
        start, end = maps[c.source].get(c.start), maps[c.source].get(c.end)
        if start is None or end is None or end <= start:
            summary.errors.append(f"{path.name}: a coding of {doc_of[c.source]!r} at "
                                  f"{c.start}-{c.end} lies outside its source; left out")
            continue
        rows.append([project.code_paths[c.code], doc_of[c.source], start, end, c.user, 1])
    rows.sort()
    summary.codings = len(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CODING_COLUMNS)
    writer.writerows(rows)
    (out / "codings.csv").write_text(buf.getvalue(), encoding="utf-8")
    summary.written.append(out / "codings.csv")

    people = load_participants(study.participants_path)
    known = set(people["doc"])
    added = []
    for name, values, refs in project.cases:
        summary.unmapped_variables += [v for v in values if v not in ("role", "area")]
        for ref in refs:
            doc = doc_of.get(ref)
            if doc and doc not in known:
                added.append([doc, name, values.get("role", ""), values.get("area", "")])
                known.add(doc)
    if added:
        with study.participants_path.open("a", encoding="utf-8", newline="") as fh:
            if not study.participants_path.read_text(encoding="utf-8").endswith("\n"):
                fh.write("\n")
            csv.writer(fh, lineterminator="\n").writerows(sorted(added))
    summary.participants_added = len(added)
    summary.unmapped_variables = sorted(set(summary.unmapped_variables))
    if created:
        _point_config(study.config_path, out.relative_to(study.root), bool(project.code_paths))
    return summary


def _write_codebook(book: ET.Element, path: Path) -> Path:
    """The project's codebook as a REFI-QDA ``.qdc``: the same codes in the codebook namespace."""
    ns = xml_namespace(book)
    copy = ET.fromstring(ET.tostring(book))
    for el in copy.iter():
        if ns and el.tag.startswith(f"{{{ns}}}"):
            el.tag = f"{{{CODEBOOK_NS}}}{el.tag[len(ns) + 2:]}"
    copy.set("origin", "themeflow import")
    ET.register_namespace("", CODEBOOK_NS)
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n'
                    + ET.tostring(copy, encoding="unicode"), encoding="utf-8")
    return path


def _point_config(config: Path, folder: Path, codebook: bool) -> None:
    """A study the import created maps onto the imported codebook (when it has codes) and
    learns from its codings."""
    lines = []
    for line in config.read_text(encoding="utf-8").splitlines():
        if line.startswith("framework = ") and codebook:
            line = f'framework = "{(folder / "codebook.qdc").as_posix()}"   # imported codebook'
        lines.append(line)
        if line.startswith("framework = "):
            lines.append(f'labels = "{(folder / "codings.csv").as_posix()}"   # imported codings')
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
