from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import RedactConfig
from pipeline.ingest import Document
from pipeline.keys import PseudonymKey
from pipeline.redact import Redactor, Span, apply_spans, merge_spans, redact_documents
from pipeline.turns import Turn


def _doc(doc_id: str, *texts: str, names: list[str] | None = None) -> Document:
    turns = [Turn(i, "Respondent", True, t) for i, t in enumerate(texts)]
    return Document(doc_id, "2014", Path(f"{doc_id}.txt"), doc_id, turns, names or [])


PATTERN_DETECTORS = ["patterns", "deny_list", "name_cues", "speaker_labels", "presidio",
                     "name_heuristics"]


@pytest.fixture()
def patterns_only() -> Redactor:
    """Every detector but the statistical models."""
    return Redactor(RedactConfig(detectors=PATTERN_DETECTORS), nlp=None)


@pytest.mark.parametrize("text, found, label", [
    ("Email me at jo.bloggs@example.co.uk please.", "jo.bloggs@example.co.uk", "EMAIL"),
    ("Ring 07700 900461 any time.", "07700 900461", "PHONE"),
    ("Ring +44 7700 900461 any time.", "+44 7700 900461", "PHONE"),
    ("Ring 0131 496 0000 any time.", "0131 496 0000", "PHONE"),
    ("We live at EH16 4AB now.", "EH16 4AB", "POSTCODE"),
    ("My NI number is AB 12 34 56 C.", "AB 12 34 56 C", "NI_NUMBER"),
    ("See https://example.org/page for it.", "https://example.org/page", "URL"),
    ("She was born on 12/03/2011 at home.", "12/03/2011", "DATE"),
    # Dates of birth as people say them: ordinal or not, month named or numbered, year spoken.
    ("She was born on the 3rd of March 2015 at home.", "the 3rd of March 2015", "DATE"),
    ("born on the third of march twenty fifteen", "the third of march twenty fifteen", "DATE"),
    ("We met on the second of may nineteen ninety-five.", "the second of may nineteen ninety-five",
     "DATE"),
    ("On March 3, 2015 we moved.", "March 3, 2015", "DATE"),
    ("His birthday is March the 3rd so we went.", "March the 3rd", "DATE"),
    ("She was born 3rd March, I think.", "3rd March", "DATE"),
    ("dob: 03/04/11 on the form", "03/04/11", "DATE"),
    ("We moved to 14 Bellfield Crescent last year.", "14 Bellfield Crescent", "PLACE"),
    ("He goes to Wee Acorns Nursery now.", "Wee Acorns Nursery", "ORG"),
    ("My son Kayden loves it.", "Kayden", "PERSON"),
    ("My keyworker, Shona, came round.", "Shona", "PERSON"),
])
def test_patterns_find_exact_spans(patterns_only: Redactor, text: str, found: str,
                                   label: str) -> None:
    spans = patterns_only.detect([text])[0]
    assert [(text[s.start:s.end], s.label) for s in spans] == [(found, label)]


@pytest.mark.parametrize("text", [
    "I went to the Jobcentre Plus on Monday.",
    "My son is at the nursery and my keyworker said it was fine.",
    "We went to the Community Centre for the group.",
    # A bare year, an age, a weekday or a date without a year and without "born" is no
    # identifier on its own (exact dates and ages are indirect flags).
    "I was born in 1985 and born on a Tuesday, I'm 34 years old.",
    "The 3rd of March was the meeting, and in march 2015 we moved.",
])
def test_ordinary_speech_is_left_alone(patterns_only: Redactor, text: str) -> None:
    assert patterns_only.detect([text])[0] == []


def test_merge_keeps_union_of_overlaps() -> None:
    spans = [Span(5, 11, "PERSON", "ner", 0.85), Span(5, 17, "PERSON", "recurrence", 1.0),
             Span(30, 35, "PHONE", "pattern", 0.9)]
    assert merge_spans(spans) == [Span(5, 17, "PERSON", "ner", 0.85),
                                  Span(30, 35, "PHONE", "pattern", 0.9)]


@pytest.mark.parametrize("spans, merged", [
    # A hit that needs no confirmation by the study vouches for the merged span (its detector,
    # score and rule), in either order, so planning cannot drop what another detector found...
    ([Span(3, 7, "PERSON", "ner", 0.85, "PERSON"),
      Span(3, 7, "PERSON", "gazetteer", 0.5, "first name in lower case")],
     [Span(3, 7, "PERSON", "gazetteer", 0.5, "first name in lower case")]),
    # ... while the type stays the strongest's (priority, then length), as growth reads it.
    ([Span(3, 9, "PLACE", "rampart", 0.9, "CITY"), Span(3, 30, "ORG", "ner", 0.85, "ORG")],
     [Span(3, 30, "ORG", "rampart", 0.9, "CITY")]),
    # Two that both need confirmation: the longer, as before.
    ([Span(3, 7, "PERSON", "ner", 0.85), Span(3, 12, "NAME", "proper_noun", 0.6)],
     [Span(3, 12, "NAME", "proper_noun", 0.6)]),
    # Priority first: a pattern outranks any name hit.
    ([Span(3, 7, "PERSON", "gazetteer", 0.5), Span(0, 12, "PHONE", "pattern", 0.9)],
     [Span(0, 12, "PHONE", "pattern", 0.9)]),
])
def test_a_hit_that_needs_no_confirmation_vouches_for_the_merge(spans: list[Span],
                                                                 merged: list[Span]) -> None:
    assert merge_spans(spans) == merged
    assert merge_spans(spans[::-1]) == merged


def test_apply_spans_reports_new_offsets() -> None:
    text, offsets = apply_spans("Hi Kayden and Ruby.", [Span(3, 9, "PERSON", "ner", 1),
                                                        Span(14, 18, "PERSON", "ner", 1)],
                                ["[PERSON_1]", "[PERSON_2]"])
    assert text == "Hi [PERSON_1] and [PERSON_2]."
    assert [text[a:b] for a, b in offsets] == ["[PERSON_1]", "[PERSON_2]"]


def test_same_identifier_same_pseudonym_across_documents_and_recurrence(
        nlp, tmp_path: Path) -> None:
    redactor = Redactor(RedactConfig(), nlp)
    key = PseudonymKey(tmp_path / "keys" / "pseudonyms.json")
    docs = [_doc("a", "My son Kayden started school.", "Kayden loves it there."),
            _doc("b", "I met kayden's teacher at the gate.")]
    rows, _ = redact_documents(docs, redactor, key)
    texts = [t.text for d in docs for t in d.turns]
    assert texts == ["My son [PERSON_1] started school.", "[PERSON_1] loves it there.",
                     "I met [PERSON_1]'s teacher at the gate."]
    assert {r.pseudonym for r in rows} == {"[PERSON_1]"}
    assert all("Kayden" not in json.dumps(r.__dict__) for r in rows)
    key.save()
    # A later block reuses the key: same person, same pseudonym.
    later = [_doc("c", "Kayden is seven now.")]
    redact_documents(later, redactor, PseudonymKey.load(key.path))
    assert later[0].turns[0].text == "[PERSON_1] is seven now."


@pytest.mark.parametrize("spelling", ["K\u0430yden", "Kayd\u0435n", "\u041aayden"])
def test_a_look_alike_spelling_of_a_key_identifier_gets_its_pseudonym(
        patterns_only: Redactor, tmp_path: Path, spelling: str) -> None:
    """Issue 23: a Cyrillic letter inside a known name hid it from the recurrence pass."""
    key = PseudonymKey(tmp_path / "k.json")
    pseudonym = key.assign("Kayden", "PERSON")
    doc = _doc("a", f"Then {spelling} was off school again.")
    redact_documents([doc], patterns_only, key)
    assert doc.turns[0].text == f"Then {pseudonym} was off school again."
    assert key.get(spelling) == pseudonym


def test_speaker_label_names_are_redacted_everywhere(nlp, tmp_path: Path) -> None:
    redactor = Redactor(RedactConfig(), nlp)
    key = PseudonymKey(tmp_path / "k.json")
    doc = _doc("a", "Mairead told me to come.", names=["Mairead"])
    redact_documents([doc], redactor, key)
    assert doc.turns[0].text == "[PERSON_1] told me to come."


def test_common_words_capitalised_by_position_are_kept(nlp, tmp_path: Path) -> None:
    redactor = Redactor(RedactConfig(), nlp)
    key = PseudonymKey(tmp_path / "k.json")
    doc = _doc("a", "Childcare is the big problem.", "The childcare here is awful.")
    redact_documents([doc], redactor, key)
    assert [t.text for t in doc.turns] == ["Childcare is the big problem.",
                                           "The childcare here is awful."]


def test_key_file_is_only_extended(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonyms.json"
    key = PseudonymKey(path)
    assert key.assign("Fiona", "PERSON") == "[PERSON_1]"
    key.save()
    again = PseudonymKey.load(path)
    assert again.assign("FIONA", "PERSON") == "[PERSON_1]"
    assert again.assign("Leith", "PLACE") == "[PLACE_1]"
    again.save()
    assert [e[0] for e in PseudonymKey.load(path).identifiers()] == ["Fiona", "Leith"]


def test_name_inside_an_email_does_not_make_it_a_common_word(nlp, tmp_path: Path) -> None:
    redactor = Redactor(RedactConfig(), nlp)
    key = PseudonymKey(tmp_path / "k.json")
    doc = _doc("a", "That's down to our manager, Gillian. She trusts us.",
               "You can email me at gillian.reid@example.org if you like.")
    redact_documents([doc], redactor, key)
    assert [t.text for t in doc.turns] == ["That's down to our manager, [PERSON_1]. She trusts us.",
                                           "You can email me at [EMAIL_1] if you like."]


@pytest.mark.parametrize("texts, expected", [
    # Lower-case first names used in English; ordinary words that are names elsewhere stay.
    (["i met emma and conor at the bus stop."], ["i met [PERSON_1] and [PERSON_2] at the bus stop."]),
    (["As a lone parent you get a rota and a pal."],
     ["As a lone parent you get a rota and a pal."]),
    # A rare capitalised word mid-sentence is a name, with its possessive kept outside.
    (["We saw Kerrigan's van outside on Thursdays."], ["We saw [PERSON_1]'s van outside on Thursdays."]),
    # All-caps transcripts: gazetteer names still found, capitalisation test skipped.
    (["MY WORKER EMMA CAME ON MONDAY."], ["MY WORKER [PERSON_1] CAME ON MONDAY."]),
    # Written without capitals: a rare word that is no typo is a name, and so is a common
    # first name; a typo of a common word, laughter and ordinary words stay.
    (["i told kunjana and kevin the evidance was lame hahahaha"],
     ["i told [PERSON_1] and [PERSON_2] the evidance was lame hahahaha"]),
    # The same sentence written with capitals: the rarity rules leave lower-case words alone
    # there (test_uncased_text_names_by_rarity), but Rampart reads both as given names from
    # their context ("kevin" is a frequent word only because it is a frequent name).
    (["I told kunjana and kevin the evidance was lame."],
     ["I told [PERSON_1] and [PERSON_2] the evidance was lame."]),
    # A naming cue at the start of a sentence, then a lower-case name.
    (["My name is krithika and I love it here."], ["My name is [PERSON_1] and I love it here."]),
    # A first name the study only ever writes in lower case: spaCy's hit alone would need the
    # study to capitalise it, but Rampart and the first-name list found it too, and their hits
    # need no confirmation (before, the merged span was spaCy's and the name stayed).
    (["The fighters make peanuts, attribute that directly to dana.",
      "He says dana should go back to carrying the bags."],
     ["The fighters make peanuts, attribute that directly to [PERSON_1].",
      "He says [PERSON_1] should go back to carrying the bags."]),
])
def test_informal_names(nlp, tmp_path: Path, texts: list[str], expected: list[str]) -> None:
    redactor = Redactor(RedactConfig(), nlp)
    docs = [_doc("a", *texts)]
    redact_documents(docs, redactor, PseudonymKey(tmp_path / "k.json"))
    assert [t.text for t in docs[0].turns] == expected


@pytest.mark.parametrize("text, found", [
    # Without capitals as a signal: a rare word that is no typo of a common one is a name, and
    # so is a common first name; typos, laughter and ordinary words are not.
    ("i told kunjana and kevin the evidance was lame hahahaha", ["kunjana", "kevin"]),
    ("WAS THAT KUNJANA AT THE DOOR", ["KUNJANA"]),
    # With capitals, lower-case words are left to the ordinary rules.
    ("I told kunjana and kevin the evidance was lame.", []),
])
def test_uncased_text_names_by_rarity(patterns_only: Redactor, text: str,
                                      found: list[str]) -> None:
    found_here = patterns_only.find([text])["name_heuristics"][0]
    assert [text[s.start:s.end] for s in found_here] == found


AWKWARD = {
    "no_labels.txt": "we moved here when my daughter was two and my keyworker shona helped me "
                     "with the forms and the nursery place. " * 20,
    "all_caps.txt": "INTERVIEWER: HOW DID IT START?\n\nRESPONDENT: MY KEYWORKER SHONA CAME TO THE "
                    "HOUSE AND MY SON KAYDEN WAS THERE. WE TALKED ABOUT THE COLLEGE.\n",
    "long_turn.txt": "Respondent: " + "We went to the shop and then we came home again. " * 1100,
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_transcripts_redact_and_segment_in_bounded_memory(nlp, tmp_path: Path,  # noqa: ANN001
                                                                  name: str) -> None:
    import tracemalloc

    from pipeline.config import IngestConfig, SegmentConfig
    from pipeline.ingest import read_transcript
    from pipeline.segment import layout_turns, segment_document

    path = tmp_path / name
    path.write_text(AWKWARD[name], encoding="utf-8")
    doc = read_transcript(path, path.stem, "2014", IngestConfig())
    redactor = Redactor(RedactConfig(), nlp=nlp)
    key = PseudonymKey.load(tmp_path / "key.json")
    tracemalloc.start()
    rows, _ = redact_documents([doc], redactor, key)
    text, spans = layout_turns(doc.turns)
    passages = segment_document(doc.doc_id, doc.turns, spans, SegmentConfig())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 300 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert passages and all(text[p.start:p.end] == p.text for p in passages)
    if name != "long_turn.txt":  # the names are gone, in any case
        assert "shona" not in text.lower() and "kayden" not in text.lower()


def test_recurrence_matcher_equals_the_full_alternation() -> None:
    from pipeline.redact.detector import RecurrenceMatcher
    from pipeline.redact.detectors.deny_list import alternation

    words = ["Shona", "Shona Bell", "St. Mary's", "O'Neill", "+44 7700 900461", "Bell",
             "jo@example.org", "Leith Walk", "Wee Acorns Nursery", "[PERSON_1]"]
    texts = ["shona bell and SHONA came", "St. Mary's hub, o'neill's kid", "ring +44 7700  900461",
             "mail jo@example.org now", "Leith\nWalk was Bellfield not Bell", "[PERSON_1] Shona]",
             "Wee Acorns Nursery's garden", "nothing to see", ""]
    full, fast = alternation(words), RecurrenceMatcher(words)
    for text in texts:
        assert [(m.start(), m.end()) for m in fast.finditer(text)] == \
            [(m.start(), m.end()) for m in full.finditer(text)], text


def test_a_common_word_in_lower_case_is_not_a_name(nlp, tmp_path: Path) -> None:  # noqa: ANN001
    # en_core_web_sm tags "max" here as a name; the study never capitalises it, so it stays.
    text = "He just exerted his influence to the max and got that money."
    redactor = Redactor(RedactConfig(), nlp)
    assert [s.detector for s in redactor.detect([text])[0]] == ["ner_lower"]
    doc = _doc("a", text)
    key = PseudonymKey(tmp_path / "k.json")
    rows, _ = redact_documents([doc], redactor, key)
    assert rows == [] and doc.turns[0].text == text and key.get("max") is None


@pytest.mark.parametrize("sizes, chunk_size, expected_chunks", [
    ([1, 5, 3, 5], 2, [["d1", "d3"], ["d2", "d0"]]),     # longest first; ties in file order
    ([2, 9, 4], 1, [["d1"], ["d2"], ["d0"]]),
    ([3], 4, [["d0"]]),
])
def test_detection_chunks_go_longest_first(patterns_only: Redactor, sizes: list[int],
                                           chunk_size: int, expected_chunks: list[list[str]]
                                           ) -> None:
    # The chunks that finish last are the shortest, so no worker idles long at the end; each
    # document still gets its own spans back, in file order.
    from pipeline.redact import detect_documents

    docs = [_doc(f"d{k}", *[f"d{k} " + "x" * n] * n) for k, n in enumerate(sizes)]
    sent: list[list[str]] = []

    def runner(payloads: list[tuple[list[str], list[str]]]) -> list[list[list[Span]]]:
        sent.extend(list(dict.fromkeys(t.split()[0] for t in texts)) for texts, _ in payloads)
        return [[[Span(0, len(t), "PERSON", "fake", 1.0)] for t in texts] for texts, _ in payloads]

    spans, n = detect_documents(docs, patterns_only, None, run_chunks=runner,
                                chunk_size=chunk_size)
    assert n == len(sizes) and sent == expected_chunks
    assert [[turn[0].end for turn in doc] for doc in spans] == [
        [len(f"d{k} ") + size] * size for k, size in enumerate(sizes)]


def test_an_unchanged_study_is_not_planned_again(patterns_only: Redactor, tmp_path: Path) -> None:
    import shutil

    from pipeline.redact import plan_redactions

    cache = tmp_path / "cache"
    docs = [_doc("a", "My son Kayden loves it.", "Ring 07700 900461 any time."),
            _doc("b", "Kayden came round.")]
    key = PseudonymKey(tmp_path / "k.json")
    first, n = plan_redactions(docs, patterns_only, key, cache_dir=cache)
    key.save()
    assert n == 2 and len(list((cache / "plans").glob("*.json"))) == 1
    assert [(s.start, s.end, s.label) for s in first[1][0]] == [(0, 6, "PERSON")]
    shutil.rmtree(cache / "detections")  # the plan alone answers for an unchanged study
    again, n = plan_redactions(docs, patterns_only, PseudonymKey.load(key.path), cache_dir=cache)
    assert n == 0 and again == first
    grown = PseudonymKey.load(key.path)
    grown.assign("Shona", "PERSON")  # a new identifier: the plan is made again
    _, n = plan_redactions(docs, patterns_only, grown, cache_dir=cache)
    assert n == 2


@pytest.mark.parametrize(("cached", "unreadable", "pending"), [
    ("none", False, True),      # a new study: the detectors will run
    ("all", False, False),      # a warm rerun: nothing to detect, so nothing to load ahead
    ("all but one", False, True),
    ("all", True, False),       # a file that cannot be read is quarantined, never detected
])
def test_detection_pending_reads_the_detection_cache(demo_copy: Path, cached: str,
                                                     unreadable: bool, pending: bool) -> None:
    from pipeline.build import build_redactor
    from pipeline.config import Config
    from pipeline.ingest import ingest_files
    from pipeline.redact import detection_cache_path
    from pipeline.run.execution import detection_pending
    from pipeline.study import Study

    study, cfg = Study(demo_copy), Config()
    redactor = build_redactor(study, cfg)
    docs, bad = ingest_files(study.transcript_files(), cfg.ingest)
    assert not bad
    if unreadable:
        (docs[0].path.parent / "broken.txt").write_bytes(b"\x00\xff\x00 binary")
    keep = {"none": 0, "all": len(docs), "all but one": len(docs) - 1}[cached]
    for doc in docs[:keep]:
        path = detection_cache_path(study.cache_dir, doc.sha256, redactor.fingerprint())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[]")
    assert detection_pending(study, cfg, redactor) is pending


@pytest.mark.parametrize(("edited", "added"), [
    ("redaction/common_name_words.txt", "zebedee"), ("redaction/name_cues.txt", "my lodger"),
    ("redaction/patterns.yaml", "# edited"), ("redaction/date_parts.yaml", "# edited"),
    ("redaction/presidio.yaml", "# edited"), ("redaction/span_growth.yaml", "# edited"),
    ("redaction/allow.txt", "zebedee"), ("redaction/deny.txt", "Zebedee"),
    ("text/stop_words.txt", "zebedee"),
])
def test_an_edited_word_list_re_detects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        edited: str, added: str) -> None:
    """The detection cache is keyed on the detectors' fingerprints, which cover every list
    they read: after an edit the documents are detected again, and with the edited list."""
    import shutil

    from pipeline import lexicons
    from pipeline.redact import detect_documents

    lexicon_dir = tmp_path / "lexicons"
    shutil.copytree(lexicons.LEXICON_DIR, lexicon_dir)
    monkeypatch.setattr(lexicons, "LEXICON_DIR", lexicon_dir)
    docs = [_doc("d1", "My keyworker Shona rings on 07700 900461.")]
    cache = tmp_path / "cache"

    def run() -> int:
        redactor = Redactor(RedactConfig(detectors=PATTERN_DETECTORS), nlp=None)
        return detect_documents(docs, redactor, cache)[1]

    assert (run(), run()) == (1, 0)
    path = lexicon_dir / edited
    path.write_text(path.read_text(encoding="utf-8") + f"\n{added}\n", encoding="utf-8")
    assert (run(), run()) == (1, 0)


def test_a_word_added_to_a_list_changes_what_is_found(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from pipeline import lexicons

    lexicon_dir = tmp_path / "lexicons"
    shutil.copytree(lexicons.LEXICON_DIR, lexicon_dir)
    monkeypatch.setattr(lexicons, "LEXICON_DIR", lexicon_dir)
    text = "Then my lodger Shona came round."

    def found() -> list[str]:
        redactor = Redactor(RedactConfig(detectors=["name_cues"]), nlp=None)
        return [text[s.start:s.end] for s in redactor.detect([text])[0]]

    assert found() == []
    with (lexicon_dir / "redaction" / "name_cues.txt").open("a", encoding="utf-8") as fh:
        fh.write("\nmy lodger\n")
    assert found() == ["Shona"]


@pytest.mark.parametrize(("study", "word", "kept"), [
    # Capitalised mid-sentence as often as in lower case: a name some speakers do not capitalise.
    (["we voted trump", "then Trump won", "and trump lost", "so Trump left"], "trump", True),
    # Mostly lower case, capitalised only inside a longer name: an ordinary word.
    (["still kind of new", "the new line", "a new truck", "brand new", "the new norm",
      "from Nevada to New Mexico"], "new", False),
    # Never capitalised: an ordinary word.
    (["to the max", "the max was six"], "max", False),
])
def test_a_models_lower_case_guess_needs_the_study_to_capitalise_it(
        study: list[str], word: str, kept: bool) -> None:
    """A common word in lower case that a model calls a name is kept only when the study also
    capitalises it mid-sentence, and not far less often: otherwise the key would take "new" and
    the recurrence pass would redact it everywhere."""
    from pipeline.redact.plan import is_common_phrase, lowercase_vocabulary

    vocab = lowercase_vocabulary(study)
    for detector in ("ner_lower", "rampart_lower"):
        span = Span(0, len(word), "PERSON", detector, 0.5)
        assert is_common_phrase(word, span, vocab) is not kept
