"""``themeflow import``: REFI-QDA projects into a study (pipeline.refi_import), and the coded
spans it writes laid onto passages (review.labels.locate_spans)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import ConfigError, ProjectImportError
from pipeline.mapping.codebook import load_framework
from pipeline.refi_import import import_project, read_project
from pipeline.review.exports import export
from pipeline.review.labels import locate_spans, read_labels_csv
from pipeline.review.workspace import Workspace
from tests.fakes import E1, E2, E3, make_run

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "refi-qda" / "samples"
Q = "urn:QDA-XML:project:1.0"


def _qdpx(path: Path, sources: str, files: dict[str, str] | None = None,
          extra: str = "") -> Path:
    """A small project as a CAQDAS package writes it: two users, a two-level codebook."""
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="{Q}" name="p" origin="test">
  <Users><User guid="u1" name="Dana"/><User guid="u2" name="Eli"/></Users>
  <CodeBook><Codes>
    <Code guid="c1" name="Trust" isCodable="true"><Description>Relying on others</Description>
      <Code guid="c2" name="Distrust" isCodable="true"/></Code>
    <Code guid="c3" name="Money" isCodable="true"/>
  </Codes></CodeBook>
  <Variables><Variable guid="v1" name="role" typeOfVariable="Text"/>
    <Variable guid="v2" name="age band" typeOfVariable="Text"/></Variables>
  <Cases><Case guid="k1" name="P7">
    <VariableValue><VariableRef targetGUID="v1"/><TextValue>Parent</TextValue></VariableValue>
    <VariableValue><VariableRef targetGUID="v2"/><TextValue>30-39</TextValue></VariableValue>
    <SourceRef targetGUID="s1"/></Case></Cases>
  <Sources>{sources}</Sources>{extra}
</Project>"""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", qde)
        for name, text in (files or {}).items():
            zf.writestr(name, text.encode("utf-8"))
    return path


CRLF_TEXT = "Q: How was it?\r\nA: I trusted the keyworker.\r\nA: Money was tight."
SOURCES = """
<TextSource guid="s1" name="Interview 7.txt" plainTextPath="internal://s1.txt">
  <PlainTextSelection guid="x1" startPosition="19" endPosition="43" creatingUser="u1">
    <Coding guid="y1" creatingUser="u1"><CodeRef targetGUID="c1"/></Coding></PlainTextSelection>
  <PlainTextSelection guid="x2" startPosition="48" endPosition="64" creatingUser="u2">
    <Coding guid="y2" creatingUser="u2"><CodeRef targetGUID="c3"/></Coding></PlainTextSelection>
</TextSource>
<TextSource guid="s2" name="notes">
  <PlainTextContent>A: I never trusted them.</PlainTextContent>
  <PlainTextSelection guid="x3" startPosition="3" endPosition="24" creatingUser="u1">
    <Coding guid="y3" creatingUser="u1"><CodeRef targetGUID="c2"/></Coding></PlainTextSelection>
</TextSource>"""


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the REFI-QDA samples (../shared) are not here")
def test_atlas_samples_import_with_exact_counts(tmp_path: Path) -> None:
    """Two projects ATLAS.ti 23 wrote (codebook only: no text sources, no codings)."""
    counts = {}
    for name in ("blank", "target"):
        summary = import_project(SAMPLES / f"{name}-atlas-project.qdpx", tmp_path / name, "y1")
        counts[name] = (summary.sources, summary.codes, summary.codings, summary.errors)
    assert counts == {"blank": (0, 0, 0, []), "target": (0, 3, 0, [])}
    target = tmp_path / "target"
    toml = (target / "themeflow.toml").read_text()
    assert 'framework = "imports/target-atlas-project/codebook.qdc"' in toml
    fw = load_framework("imports/target-atlas-project/codebook.qdc", target)
    assert [(e.id, e.parent) for e in fw.elements] == [
        ("Commits", None), ("Commits > 2022-05-10T02:05:59Z 19e4dce", "Commits"),
        ("Commits > 2022-02-11T10:39:25Z cdbfd92", "Commits")]
    # a codebook without codes is no framework: the blank study keeps the default one
    assert 'framework = "collaborative_innovation"' in (tmp_path / "blank" /
                                                       "themeflow.toml").read_text()


def test_sources_codings_and_cases_land_with_their_offsets(tmp_path: Path) -> None:
    project = _qdpx(tmp_path / "p.qdpx", SOURCES, {"sources/s1.txt": CRLF_TEXT})
    summary = import_project(project, tmp_path / "study", "2019")
    study = tmp_path / "study"
    assert (summary.sources, summary.codes, summary.codings, summary.cases) == (2, 3, 3, 1)
    assert summary.unmapped_variables == ["age band"]
    text = (study / "transcripts/2019/Interview_7.txt").read_text(encoding="utf-8")
    assert text == "Q: How was it?\nA: I trusted the keyworker.\nA: Money was tight."
    codings = pd.read_csv(study / "imports/p/codings.csv")
    assert codings.values.tolist() == [
        ["Money", "Interview_7", 46, 62, "Eli", 1],
        ["Trust", "Interview_7", 18, 42, "Dana", 1],
        ["Trust > Distrust", "notes", 3, 24, "Dana", 1]]
    # offsets point at the same words after \r\n became \n
    assert text[18:42] == "I trusted the keyworker." and text[46:62] == "Money was tight."
    assert (study / "transcripts/2019/notes.txt").read_text()[3:24] == "I never trusted them."
    assert (study / "participants.csv").read_text().splitlines() == [
        "doc,participant,role,area", "Interview_7,P7,Parent,"]


def test_a_bad_source_is_named_and_the_others_still_import(tmp_path: Path) -> None:
    sources = SOURCES.replace('plainTextPath="internal://s1.txt"',
                              'plainTextPath="internal://gone.txt"')
    summary = import_project(_qdpx(tmp_path / "p.qdpx", sources), tmp_path / "study", "y1")
    assert summary.sources == 1 and summary.codings == 1
    assert len(summary.errors) == 1 and "'Interview 7.txt'" in summary.errors[0]
    assert "internal://gone.txt" in summary.errors[0]


def test_nothing_the_user_made_is_overwritten(tmp_path: Path) -> None:
    study = tmp_path / "study"
    (study / "transcripts/y1").mkdir(parents=True)
    (study / "transcripts/y1/notes.txt").write_text("the team's own notes", encoding="utf-8")
    (study / "themeflow.toml").write_text("[map]\nframework = \"mine.yaml\"\n")
    (study / "participants.csv").write_text("doc,participant,role,area\nnotes,P1,Staff,North\n")
    summary = import_project(_qdpx(tmp_path / "p.qdpx", SOURCES, {"sources/s1.txt": CRLF_TEXT}),
                             study, "y1")
    assert summary.sources == 1 and "exists with other text" in summary.errors[0]
    assert (study / "transcripts/y1/notes.txt").read_text() == "the team's own notes"
    assert (study / "themeflow.toml").read_text() == "[map]\nframework = \"mine.yaml\"\n"
    assert (study / "participants.csv").read_text().splitlines() == [
        "doc,participant,role,area", "notes,P1,Staff,North", "Interview_7,P7,Parent,"]
    again = import_project(tmp_path / "p.qdpx", study, "y1")  # the same project twice
    assert again.sources == 1 and len(again.errors) == 1
    assert len((study / "participants.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("content, message", [
    (b"plain text, not a zip", "not a REFI-QDA project"),
    ("zip:other.txt", "no project.qde inside"),
    ("zip:project.qde", "not well-formed XML"),
])
def test_a_project_that_cannot_be_read_names_the_file(tmp_path: Path, content, message) -> None:
    path = tmp_path / "bad.qdpx"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(content.split(":")[1], "<Project><unclosed>")
    with pytest.raises(ProjectImportError, match=message) as info:
        import_project(path, tmp_path / "study", "y1")
    assert "bad.qdpx" in str(info.value) and "TF207" in str(info.value)


def test_themeflow_export_round_trips(tmp_path: Path) -> None:
    """The same sources, codes and codings come back; the reviewers' codings are human ones,
    themeflow's own suggestions are told apart and left out."""
    make_run(tmp_path / "study")
    ws = Workspace.open(tmp_path / "study")
    for action, pid, element, reviewer, kw in [
        ("trim", "sp01-01", E1, "ana", {"trim_start": 0, "trim_end": 34}),
        ("accept", "st02-01", E2, "ana", {}), ("accept", "st02-01", E2, "ben", {}),
        ("relabel", "sp01-03", E2, "ben", {"label": E1}), ("reject", "st02-02", E3, "ana", {})]:
        ws.decide({"action": action, "passage_id": pid, "element": element,
                   "reviewer": reviewer, **kw})
    path = export(ws, "qdpx")
    original = read_project(path)
    summary = import_project(path, tmp_path / "back", "y1")
    assert (summary.sources, summary.codes, summary.codings, summary.machine_codings) == (
        len(original.sources), len(ws.framework.elements), 4, 5) == (2, 6, 4, 5)
    assert sorted(p.stem for p in (tmp_path / "back/transcripts/y1").iterdir()) == sorted(
        s.name for s in original.sources)
    codings = pd.read_csv(tmp_path / "back/imports" / path.stem / "codings.csv")
    texts = {s.name: s.text for s in original.sources}
    imported = {d: (tmp_path / "back/transcripts/y1" / f"{d}.txt").read_text() for d in texts}
    assert sorted((r.coder, r.element, imported[r.doc][r.start:r.end])
                  for r in codings.itertuples()) == sorted(
        (c.user, original.code_paths[c.code], texts[s.name][c.start:c.end])
        for s in original.sources for c in original.codings
        if c.source == s.guid and c.user != "themeflow")
    assert ("ana", "Mutual and transformative learning",
            "The course changed how I see work.") in {
        (r.coder, r.element, imported[r.doc][r.start:r.end]) for r in codings.itertuples()}


PASSAGES = pd.DataFrame({
    "passage_id": ["p1", "p2", "p3", "q1"],
    "doc_id": ["d", "d", "d", "e"],
    "text": ["I met [PERSON_1] at the centre on Monday.", "We planned the course together.",
             "Then the money ran out for everyone.", "Nothing here was coded at all."]})
RAW = {"d": "I met Ruby Okafor at the centre on Monday. We planned the course together. "
            "Then the money ran out for everyone.",
       "e": "Nothing here was coded at all."}


@pytest.mark.parametrize("start, end, expected", [
    (43, 74, ["p2"]),            # exactly one passage
    (50, 60, ["p2"]),            # inside one passage
    (0, 74, ["p1", "p2"]),       # two whole passages
    (66, 83, []),                # half in p2, half in p3, under half of each: neither
    (6, 17, ["p1"]),             # the name the run redacted: still its passage
])
def test_coded_spans_label_the_passages_they_cover(start: int, end: int,
                                                   expected: list[str]) -> None:
    spans = pd.DataFrame({"element": ["trust"], "doc": ["d"], "start": [start], "end": [end],
                          "polarity": [1]})
    located = locate_spans(spans, PASSAGES, RAW.get)
    assert list(located["passage_id"]) == expected
    assert set(located["element"]) <= {"trust"} and set(located["text"]) <= {""}


def test_labels_csv_reads_coded_spans(tmp_path: Path) -> None:
    path = tmp_path / "codings.csv"
    path.write_text("element,doc,start,end,coder,polarity\ntrust,d,43,74,Dana,1\n"
                    "money,gone,0,5,Eli,1\n")
    assert read_labels_csv(path, [], lambda _: False).empty  # nothing to lay them onto
    frame = read_labels_csv(path, [], lambda _: False,
                            lambda spans: locate_spans(spans, PASSAGES, RAW.get))
    assert frame.values.tolist() == [["p2", "trust", 1, ""]]
    path.write_text("element,doc,start,end\ntrust,d,74,43\n")
    with pytest.raises(ConfigError, match=r"start < end \(rows \[2\]\)"):
        read_labels_csv(path, [], lambda _: False)
