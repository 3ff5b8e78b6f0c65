from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.keys import FirstWordIndex
from pipeline.privacy import scan_folder

KEY = [("Kayden", "PERSON", "[PERSON_1]"), ("07700 900461", "PHONE", "[PHONE_1]"),
       ("Area 5", "PLACE", "[PLACE_1]")]


def test_scan_finds_identifiers_in_tables_and_text(tmp_path: Path) -> None:
    pd.DataFrame({"text": ["all fine", "and KAYDEN said"]}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "report.html").write_text("<p>call 07700 900461</p>")
    (tmp_path / "clean.json").write_text('{"x": "[PERSON_1] is fine, Kaydenish"}')
    leaks = scan_folder(tmp_path, KEY, skip=lambda s: s.casefold() == "area 5")
    assert sorted((leak.path.name, leak.pseudonym) for leak in leaks) == [
        ("report.html", "[PHONE_1]"), ("t.parquet", "[PERSON_1]")]


def test_scan_skips_allowed_metadata(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Service User, Area 5, Year 4")
    assert scan_folder(tmp_path, KEY, skip=lambda s: s.casefold() == "area 5") == []


def test_base64_figures_in_html_are_not_text(tmp_path: Path) -> None:
    # A short acronym from the key can appear in base64 between "+" and "/" by pure chance.
    html = ('<p>All fine.</p><img src="data:image/png;base64,iVBORw0KGgo+UAF/AAAANSUhEUg==">'
            '<p>Then UAF came.</p>')
    (tmp_path / "report.html").write_text(html)
    leaks = scan_folder(tmp_path, [("UAF", "ORG", "[ORG_1]")])
    assert [(leak.pseudonym, leak.count) for leak in leaks] == [("[ORG_1]", 1)]  # the prose one


def test_style_sheets_in_html_are_not_text(tmp_path: Path) -> None:
    # The template's CSS ("max-width") is code, not data; the same word in prose is a leak.
    html = ('<style>img{max-width:100%}</style><img style="max-width:90%" alt="x">'
            '<p>he went to the max</p>')
    (tmp_path / "report.html").write_text(html)
    leaks = scan_folder(tmp_path, [("max", "PERSON", "[PERSON_1]")])
    assert [(leak.pseudonym, leak.count) for leak in leaks] == [("[PERSON_1]", 1)]


def test_topic_keywords_never_spell_an_identifier(tmp_path: Path) -> None:
    from pipeline.config import Config
    from pipeline.keys import PseudonymKey
    from pipeline.privacy import PrivacyContext
    from pipeline.study import Study

    key = PseudonymKey.load(tmp_path / "keys" / "pseudonyms.json")
    key.assign("Water Board", "ORG")
    key.save()
    keep = PrivacyContext.load(Study(tmp_path), Config()).keyword_filter()
    assert keep(["water", "water board", "pipes", "the water  board"]) == ["water", "pipes"]


def test_clean_files_are_remembered_per_key(tmp_path: Path) -> None:
    run, cache = tmp_path / "run", tmp_path / "cache"
    run.mkdir()
    (run / "a.txt").write_text("Kayden went home")
    (run / "b.txt").write_text("nothing here")
    first = [("Kayden", "PERSON", "[PERSON_1]")]
    assert [leak.path.name for leak in scan_folder(run, first, clean_cache=cache)] == ["a.txt"]
    # b.txt is remembered clean for this key: a change to it is not searched again unless its
    # bytes change (and then it is)
    (run / "b.txt").write_text("Kayden is here now")
    assert [leak.path.name for leak in scan_folder(run, first, clean_cache=cache)] == [
        "a.txt", "b.txt"]
    # a grown key is a new set: files clean for the old key are searched for the new one
    (run / "b.txt").write_text("nothing here")
    (run / "a.txt").write_text("Shona went home")
    assert scan_folder(run, first, clean_cache=cache) == []
    grown = first + [("Shona", "PERSON", "[PERSON_2]")]
    assert [leak.pseudonym for leak in scan_folder(run, grown, clean_cache=cache)] == [
        "[PERSON_2]"]


@pytest.mark.parametrize("text, expected", [
    ("KAYDEN rang", {"Kayden", "+44 7700 900461"}),          # any case; "+..." always searched
    ("the Straße school", {"Straße Lane", "+44 7700 900461"}),  # case folding (ß -> ss) agrees
    ("kaydenish and lane", {"+44 7700 900461"}),              # whole first words only
    ("", {"+44 7700 900461"}),
])
def test_first_word_index_candidates(text: str, expected: set[str]) -> None:
    # The leak check and recurrence pass search a text only for these candidates, so the index
    # must never drop an identifier whose first word the text holds.
    index = FirstWordIndex(["Kayden", "Straße Lane", "+44 7700 900461"], lambda s: s)
    assert index.candidates(text) == expected


SHORT_KEY = KEY + [("Jo", "PERSON", "[PERSON_2]"), ("JB", "PERSON", "[PERSON_3]"),
                   ("Siobhán", "PERSON", "[PERSON_4]")]


@pytest.mark.parametrize("text, found", [
    ("and Kayd\u0435n said", ["[PERSON_1]"]),           # Cyrillic e
    ("and Kay\u200bden said", ["[PERSON_1]"]),          # zero-width space
    ("and Kay\u00adden said", ["[PERSON_1]"]),          # soft hyphen
    ("and \uff2b\uff41\uff59\uff44\uff45\uff4e said", ["[PERSON_1]"]),  # full-width letters
    ("and \U0001d40a\U0001d41a\U0001d432den said", ["[PERSON_1]"]),     # mathematical bold
    ("ring 07700\u00a0900461", ["[PHONE_1]"]),          # no-break space
    ("Jo came", ["[PERSON_2]"]),                         # two characters, whole word
    ("J\u0412 came", ["[PERSON_3]"]),                    # Cyrillic Ve in initials
    ("Siobhán came", ["[PERSON_4]"]),
    ("jo came, a job, JBs, Joe", []),                    # own case, whole words only
    ("Siobhan came", []),                                # accents are not look-alikes
])
def test_look_alike_and_short_identifiers_are_found(tmp_path: Path, text: str,
                                                    found: list[str]) -> None:
    """Issue 23: look-alike letters and zero-width characters hid a name from the leak check;
    identifiers under 3 characters were never checked."""
    (tmp_path / "note.txt").write_text(text, encoding="utf-8")
    assert [leak.pseudonym for leak in scan_folder(tmp_path, SHORT_KEY)] == found


@pytest.mark.parametrize("doc_id, found", [
    ("kayden-interview-2014", "[PERSON_1]"),
    ("KAYDEN_2014", "[PERSON_1]"),
    ("su-2014-01", None),
    ("area-5-notes", None),          # a published area is no identifier
])
def test_a_file_named_after_a_participant_is_named_as_the_cause(doc_id: str,
                                                                found: str | None) -> None:
    """Issue 23: TF400 did not say that the file name was the leak; the message names the
    block and pseudonym, never the file."""
    from pipeline.errors import LeakError
    from pipeline.privacy import PrivacyContext

    privacy = PrivacyContext(tuple(KEY), frozenset({"area 5"}))
    documents = pd.DataFrame({"doc_id": ["su-2014-02", doc_id], "block": ["2014", "2015"]})
    if found is None:
        privacy.check_doc_ids(documents)
        return
    with pytest.raises(LeakError, match=r"\[PERSON_1\]\): file 1 of 1 in transcripts/2015/") as err:
        privacy.check_doc_ids(documents)
    assert "kayden" not in str(err.value).lower()
