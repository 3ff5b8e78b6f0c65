from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import IngestConfig
from pipeline.errors import BinaryFileError, EmptyFileError, EncodingError, TooLargeError
from pipeline.ingest import (
    captions_as_text,
    decode_bytes,
    ingest_files,
    normalise,
    read_docx,
    read_transcript,
)

TEXT = "Interviewer: How was it?\n\nRespondent: It was grand, café and all.\n"


@pytest.mark.parametrize("encoded", [
    TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
    TEXT.encode("utf-16"),                 # with BOM
    TEXT.encode("utf-16-le"),              # without BOM
    TEXT.encode("cp1252"),
])
def test_decode_supported_encodings(encoded: bytes) -> None:
    assert decode_bytes(encoded, Path("t.txt")).replace("\ufeff", "") == TEXT


@pytest.mark.parametrize("data, error", [
    (b"", EmptyFileError),
    (b"   \n\n ", EmptyFileError),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", BinaryFileError),
    (b"caf\xc3 \x81\x8d\x8f\x90\x9d", EncodingError),
])
def test_decode_rejects_bad_bytes(data: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        decode_bytes(data, Path("block/bad.txt"))
    assert "block/bad.txt" in str(info.value)


def test_docx_is_read(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Interviewer: How was it?")
    document.add_paragraph("Respondent: Fine thanks.")
    path = tmp_path / "p1.docx"
    document.save(str(path))
    doc = read_transcript(path, "p1", "2014", IngestConfig())
    assert [t.text for t in doc.turns] == ["How was it?", "Fine thanks."]


@pytest.mark.parametrize("layout", ["bold names", "table"])
def test_docx_speakers_in_bold_or_in_a_table(tmp_path: Path, layout: str) -> None:
    """Issue 21: Word files with speakers in bold at a paragraph's start, or in a table's first
    column."""
    import docx

    document = docx.Document()
    document.add_paragraph("Interview 3, March")
    rows = [("Interviewer", "How was the course?"), ("Sarah", "It was good. I made friends.")]
    if layout == "bold names":
        for speaker, said in rows:
            para = document.add_paragraph()
            para.add_run(speaker).bold = True
            para.add_run(" " + said)
    else:
        table = document.add_table(rows=0, cols=2)
        for speaker, said in rows:
            cells = table.add_row().cells
            cells[0].text, cells[1].text = speaker, said
    path = tmp_path / "p3.docx"
    document.save(str(path))
    doc = read_transcript(path, "p3", "2014", IngestConfig())
    assert [(t.speaker, t.is_respondent, t.text) for t in doc.turns] == [
        ("Interviewer", False, "How was the course?"),
        ("Respondent 1", True, "It was good. I made friends.")]
    assert doc.label_names == ["Sarah"]
    read = normalise(read_docx(path))  # offsets point into the text taken from the file
    assert [read[t.source_start:t.source_end] for t in doc.turns] == [
        "Interviewer: How was the course?", "Sarah: It was good. I made friends."]


def test_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Respondent: " + "word " * 300_000)
    with pytest.raises(TooLargeError):
        read_transcript(path, "big", "b", IngestConfig(max_file_mb=1))


def test_bad_files_are_quarantined_and_others_processed(tmp_path: Path) -> None:
    files = {
        "good.txt": TEXT.encode(),
        "empty.txt": b"",
        "binary.txt": b"\x00\x01\x02\x03" * 100,
        "only_interviewer.txt": b"Interviewer: Hello?\nInterviewer: Anyone?",
        "broken.docx": b"not a zip",
        "notes.pdf": b"%PDF-1.4",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(("2014", tmp_path / name))
    dup = tmp_path / "other"
    dup.mkdir()
    (dup / "good.txt").write_bytes(TEXT.encode())
    paths.append(("2015", dup / "good.txt"))
    docs, bad = ingest_files(paths, IngestConfig())
    assert [d.doc_id for d in docs] == ["good"]
    assert sorted((q.path.name, q.error.split("]")[0] + "]") for q in bad) == [
        ("binary.txt", "[TF202]"), ("broken.docx", "[TF200]"), ("empty.txt", "[TF201]"),
        ("good.txt", "[TF206]"), ("notes.pdf", "[TF200]"), ("only_interviewer.txt", "[TF205]")]
    assert all(str(q.path) in q.error for q in bad)


def test_huge_single_turn_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("Respondent: " + "and then we went to the shop. " * 1700)
    doc = read_transcript(path, "long", "b", IngestConfig())
    assert len(doc.turns) == 1 and len(doc.turns[0].text) > 50_000


@pytest.mark.parametrize("name", ["interview.m4a", "huge.txt"])
def test_a_file_larger_than_the_cap_is_never_read_whole(tmp_path: Path, name: str) -> None:
    """Issue 23: a 1 GB recording was read into memory to hash it before being quarantined.
    A sparse 400 MB file is now hashed in blocks and quarantined with its hash."""
    import hashlib
    import tracemalloc

    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(400 * 1024 * 1024)
    tracemalloc.start()
    docs, bad = ingest_files([("2014", path)], IngestConfig(max_file_mb=50))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert docs == [] and len(bad) == 1
    assert bad[0].error.split("]")[0] + "]" == ("[TF200]" if name.endswith(".m4a") else "[TF204]")
    zeros = hashlib.sha256()
    for _ in range(400):
        zeros.update(bytes(1024 * 1024))
    assert bad[0].sha256 == zeros.hexdigest()
    assert peak < 20 * 1024 * 1024


@pytest.mark.parametrize("name, head, kind", [
    ("interview.txt", b"ID3\x04\x00" + b"\x00" * 40, "an MP3 recording"),
    ("interview.txt", b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 40, "an MP4/M4A recording"),
    ("interview.txt", b"%PDF-1.7\n" + b"x" * 40, "a PDF"),
    ("interview.txt", b"PK\x03\x04" + b"\x00" * 40, "a zip archive"),
    ("interview.docx", b"%PDF-1.7\n" + b"x" * 40, "a PDF"),
])
def test_a_file_that_is_not_a_transcript_is_named_by_its_first_bytes(
        tmp_path: Path, name: str, head: bytes, kind: str) -> None:
    """Issue 23: size and kind are checked before a file is read."""
    path = tmp_path / name
    path.write_bytes(head)
    docs, bad = ingest_files([("2014", path)], IngestConfig())
    assert docs == [] and "[TF202]" in bad[0].error and kind in bad[0].error


VTT = """WEBVTT

NOTE recorded on a call

1
00:00:01.000 --> 00:00:04.000
<v Interviewer>How did you hear about it?</v>

2
00:00:04.500 --> 00:00:07.000
<v Sarah Jones>My keyworker told me.

3
00:00:07.000 --> 00:00:09.000
<v Sarah Jones>She came round twice.
"""

SRT = """1
00:00:01,000 --> 00:00:04,000
Interviewer: How did you hear about it?

2
00:00:04,500 --> 00:00:07,000
Participant: My keyworker told me.

3
00:00:07,000 --> 00:00:09,000
Participant: She came round twice.
"""


@pytest.mark.parametrize("name, text, respondent, label", [
    ("call.vtt", VTT, "Respondent 1", "Sarah Jones"), ("call.srt", SRT, "Participant", "Participant")])
def test_captions_become_turns(tmp_path: Path, name: str, text: str, respondent: str,
                               label: str) -> None:
    """Consecutive cues of one speaker merge into one turn; timings and cue numbers go."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = read_transcript(path, "call", "2014", IngestConfig())
    assert [(t.speaker, t.is_respondent, t.text) for t in doc.turns] == [
        ("Interviewer", False, "How did you hear about it?"),
        (respondent, True, "My keyworker told me. She came round twice.")]
    assert doc.convention == "captions, labelled turns"
    read = captions_as_text(normalise(text))  # offsets point into the turns the cues make
    assert [read[t.source_start:t.source_end] for t in doc.turns] == [
        "Interviewer: How did you hear about it?",
        f"{label}: My keyworker told me. She came round twice."]


def test_survey_answers_stand_in_for_a_blocks_transcripts(tmp_path: Path) -> None:
    """Issue 21: a CSV of open-ended answers as a block's input; each answer a respondent turn
    after its question (the passage's context)."""
    path = tmp_path / "wave1.csv"
    path.write_text("doc,question_id,question,text\n"
                    "r1,q1,What helped you most?,My keyworker listened.\n"
                    "r1,q2,What would you change?,\n"
                    "r2,q1,What helped you most?,\"The course, and the\n  other mums.\"\n",
                    encoding="utf-8")
    (tmp_path / "r1.txt").write_text(TEXT, encoding="utf-8")
    docs, bad = ingest_files([("2014", path), ("2014", tmp_path / "r1.txt")], IngestConfig())
    assert bad == []
    assert [(d.doc_id, d.convention, [(t.speaker, t.is_respondent, t.text) for t in d.turns])
            for d in docs[:2]] == [
        ("wave1-r1", "survey answers", [("Question", False, "What helped you most?"),
                                        ("Respondent", True, "My keyworker listened.")]),
        ("wave1-r2", "survey answers", [("Question", False, "What helped you most?"),
                                        ("Respondent", True, "The course, and the other mums.")])]
    assert docs[2].doc_id == "r1"


@pytest.mark.parametrize("content, code", [
    ("id,answer\n1,hello\n", "TF200"), ("doc,text\nr1,\n", "TF205")])
def test_survey_answers_without_answers_are_quarantined(tmp_path: Path, content: str,
                                                       code: str) -> None:
    path = tmp_path / "wave1.csv"
    path.write_text(content, encoding="utf-8")
    docs, bad = ingest_files([("2014", path)], IngestConfig())
    assert docs == [] and bad[0].error.startswith(f"[{code}]") and "wave1.csv" in bad[0].error
