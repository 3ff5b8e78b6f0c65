"""Every ``themeflow`` command run as a user runs it: through the Typer app (``CliRunner``) where
the command stays in this process, and as the installed console script in a subprocess where it
starts servers (run, demo, review). ``serve`` is run in ``test_server.py``, ``reproduce`` in
``test_flow_e2e.py``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.config import RedactConfig
from pipeline.keys import PseudonymKey
from pipeline.redact.evaluate import split_half
from pipeline.review.workspace import Workspace
from tests.conftest import DEMO_STUDY, cli_process_state
from tests.fakes import E1, E2, make_run

BIN = Path(sys.executable).parent


def _invoke(*args: str):  # noqa: ANN202 - a click Result
    # wide enough that rich never wraps a line the tests read; what a command sets for its
    # whole process is put back for the other tests
    with cli_process_state():
        return CliRunner().invoke(app, list(args), catch_exceptions=False,
                                  env={"COLUMNS": "300"})


def test_init_scaffolds_a_study(tmp_path: Path) -> None:
    result = _invoke("init", str(tmp_path / "s"))
    assert result.exit_code == 0
    made = sorted(str(p.relative_to(tmp_path / "s")) for p in (tmp_path / "s").rglob("*"))
    assert {"themeflow.toml", "participants.csv", "transcripts", "lexicons/deny.txt",
            "lexicons/allow.txt"} <= set(made)
    (tmp_path / "s" / "participants.csv").write_text("doc,participant,role,area\nd1,P1,R,A\n")
    assert _invoke("init", str(tmp_path / "s")).exit_code == 0  # again: nothing overwritten
    assert (tmp_path / "s" / "participants.csv").read_text().endswith("d1,P1,R,A\n")


def _reviewed(tmp_path: Path) -> Path:
    study = tmp_path / "study"
    make_run(study)
    ws = Workspace.open(study)
    for reviewer, action, kw in [("ana", "accept", {}), ("ben", "relabel", {"label": E2})]:
        ws.decide({"action": action, "passage_id": "sp01-01", "element": E1,
                   "reviewer": reviewer, **kw})
    ws.decide({"action": "accept", "passage_id": "st02-01", "element": E2, "reviewer": "ana"})
    return study


def test_export_prints_the_files_it_wrote(tmp_path: Path) -> None:
    study = _reviewed(tmp_path)
    result = _invoke("export", str(study), "-f", "csv", "-f", "qdpx")
    assert result.exit_code == 0
    paths = [Path(line) for line in result.stdout.split()]
    assert [p.suffix for p in paths] == [".csv", ".qdpx"] and all(p.exists() for p in paths)
    rows = pd.read_csv(paths[0])
    # one row per passage and element; ben's relabel counts as accepting, and is a dispute
    assert sorted(zip(rows["Passage ID"], rows["Accepted by"], rows["Decision"])) == [
        ("sp01-01", "ana, ben", "disputed: ana accepted, ben relabelled to Joint ownership"),
        ("st02-01", "ana", "one reviewer")]
    refused = _invoke("export", str(study), "-f", "pdf")
    assert refused.exit_code == 2 and "unknown export format 'pdf'" in refused.stderr
    before = sorted((study / "exports").iterdir())
    refused = _invoke("export", str(study), "-f", "csv", "-f", "qdpx", "--surrogates")
    assert refused.exit_code == 2 and "REFI-QDA project keeps" in refused.stderr
    assert sorted((study / "exports").iterdir()) == before  # issue 22: was a silent normal qdpx


def test_agreement_lists_the_disagreement(tmp_path: Path) -> None:
    result = _invoke("agreement", str(_reviewed(tmp_path)))
    assert result.exit_code == 0
    assert "1 disagreement(s) to settle:" in result.stdout
    assert f"- [{E1}] sp01-01: ana accept / ben relabel:{E2}" in result.stdout


def test_agreement_with_one_reviewer_says_so(tmp_path: Path) -> None:
    make_run(tmp_path / "study")
    result = _invoke("agreement", str(tmp_path / "study"))
    assert result.stdout.strip() == "No candidate has been decided by two reviewers yet."


def test_redact_check_shows_the_spans_a_run_would_redact(tmp_path: Path) -> None:
    """redact-check runs what a run runs: the study's key (a name in it is found again by the
    recurrence pass and keeps its pseudonym), and says which detector and rule found each span;
    the key file is left as it was."""
    study = tmp_path / "study"
    shutil.copytree(DEMO_STUDY, study, ignore=shutil.ignore_patterns("keys", "cache", "outputs",
                                                                      ".prefect"))
    key_path = study / "keys" / "pseudonyms.json"
    key = PseudonymKey(key_path)
    key.assign("Somebody Else", "PERSON")
    key.assign("Morag", "PERSON")
    key.assign("Wee Acorns", "ORG")
    key.save()
    before = key_path.read_bytes()
    transcript = tmp_path / "t.txt"
    transcript.write_text("Interviewer: Who helps?\n\nRespondent: My keyworker Shona Baird "
                          "rings me on 07700 900461, and morag from the wee acorns lot does "
                          "too.\n", encoding="utf-8")
    result = _invoke("redact-check", str(transcript), "--study", str(study))
    assert result.exit_code == 0
    assert "Shona Baird→[PERSON_3]" in result.stdout
    assert "07700 900461→[PHONE_1] (pattern: uk_phone)" in result.stdout
    assert "morag→[PERSON_2]" in result.stdout
    assert "wee acorns→[ORG_1] (recurrence: in the key)" in result.stdout
    assert result.stdout.strip().endswith("4 spans: ORG 1, PERSON 2, PHONE 1")
    assert key_path.read_bytes() == before
    (tmp_path / "empty.txt").write_text("")
    empty = _invoke("redact-check", str(tmp_path / "empty.txt"))
    assert empty.exit_code == 2 and "empty.txt" in empty.stderr
    assert _invoke("redact-check", str(tmp_path / "missing.txt")).exit_code == 2  # usage error


def test_eval_redaction_prints_recall_per_type(tmp_path: Path) -> None:
    text = "I met Shona Baird in Glasgow. Call 07700 900461."
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"doc": "d1", "text": text, "spans": [
        {"start": 6, "end": 17, "label": "PERSON"},
        {"start": 35, "end": 47, "label": "PHONE_NUMBER"}]}) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    result = _invoke("eval-redaction", str(gold), "--json", str(out))
    assert result.exit_code == 0 and "PERSON" in result.stdout
    metrics = json.loads(out.read_text())["gold"]["all"]["themeflow"]["metrics"]
    assert (metrics["PERSON"]["n"], metrics["PERSON"]["span_recall"]) == (1, 1.0)
    assert (metrics["PHONE_NUMBER"]["n"], metrics["PHONE_NUMBER"]["span_recall"]) == (1, 1.0)
    # --config names a TOML file (not a study): here a detector set without the phone patterns.
    config = tmp_path / "names-only.toml"
    config.write_text('[redact]\ndetectors = ["spacy", "name_heuristics"]\n', encoding="utf-8")
    result = _invoke("eval-redaction", str(gold), "--config", str(config), "--json", str(out))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(out.read_text())["gold"]["all"]["themeflow"]["metrics"]
    assert (metrics["PERSON"]["span_recall"], metrics["PHONE_NUMBER"]["span_recall"]) == (1.0, 0.0)
    missing = _invoke("eval-redaction", str(gold), "--config", str(tmp_path / "none.toml"))
    assert missing.exit_code != 0 and "none.toml" in missing.stderr


def test_eval_redaction_splits_into_fixed_halves_and_scores_each_detector(tmp_path: Path
                                                                         ) -> None:
    """--split scores the tuning half and the untouched half apart (the same documents in
    each, every time); --per-detector gives each detector's own precision."""
    texts = {"d1": "I met Shona Baird in Glasgow.", "d2": "Call 07700 900461 now.",
             "d3": "me and jayden went to the shops", "d4": "It rained all day."}
    assert [split_half(d) for d in texts] == ["check", "tune", "check", "tune"]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"doc": d, "text": t, "spans": []}) + "\n"
                            for d, t in texts.items()), encoding="utf-8")
    out = tmp_path / "r.json"
    result = _invoke("eval-redaction", str(gold), "--split", "--per-detector", "--json", str(out))
    assert result.exit_code == 0 and f"{tmp_path.name} (tune)" in result.stdout
    results = json.loads(out.read_text())["gold"]
    assert set(results) == {"tune", "check", "detectors"}
    assert list(results["detectors"]) == RedactConfig().detectors
    # No gold spans: every span found is a false hit, so precision is 0 where anything fired.
    assert results["detectors"]["patterns"]["spans"] == 1
    assert results["detectors"]["patterns"]["span_precision"] == 0.0


@pytest.mark.slow
def test_evaluate_scores_a_coded_study(tmp_path: Path) -> None:
    transcripts = tmp_path / "transcripts"
    transcripts.mkdir()
    for name in ("su-2014-01.txt", "kw-2014-03.txt"):
        shutil.copy(DEMO_STUDY / "transcripts" / "2014" / name, transcripts / name)
    raw = (transcripts / "kw-2014-03.txt").read_text(encoding="utf-8")
    quote = "We go to where they are."
    start = raw.index(quote)
    (tmp_path / "codebook.csv").write_text(
        "code,parent,definition\nOutreach,,Reaching parents where they are\n"
        "Outreach > Home visits,Outreach,Visiting at home\n", encoding="utf-8")
    (tmp_path / "coded.csv").write_text(
        f"doc,code,text,coder,start,end\nkw-2014-03,Outreach > Home visits,{quote},A,"
        f"{start},{start + len(quote)}\n", encoding="utf-8")
    out = tmp_path / "e.json"
    result = _invoke("evaluate", "--transcripts", str(transcripts), "--codebook",
                     str(tmp_path / "codebook.csv"), "--coded-segments", str(tmp_path / "coded.csv"),
                     "--json", str(out))
    assert result.exit_code == 0
    scored = json.loads(out.read_text())
    assert scored["mode"] == "zero-shot" and scored["passages"] > 10
    assert scored["located"] == scored["passages"]


@pytest.mark.slow
def test_evaluate_survey_answers_against_a_second_coder(tmp_path: Path) -> None:
    answers = [("q1/1", "q1", "It costs too much money every month"),
               ("q1/2", "q1", "I never have the time for it"),
               ("q1/3", "q1", "Too expensive for a family like ours"),
               ("q1/4", "q1", "Work leaves me no hours in the day"),
               ("q2/1", "q2", "I forget them all the time"),
               ("q2/2", "q2", "My memory is bad with words"),
               ("q2/3", "q2", "I write them down so I remember"),
               ("q2/4", "q2", "Remembering five words is hard")]
    (tmp_path / "responses.csv").write_text(
        "doc,question_id,text\n" + "".join(f"{d},{q},{t}\n" for d, q, t in answers),
        encoding="utf-8")
    (tmp_path / "codebook.csv").write_text(
        "code,parent,definition,question_id\ncost,,,q1\ntime,,,q1\nmemory,,,q2\n"
        "memory->forgetting,memory,,q2\n", encoding="utf-8")
    a = {"q1/1": "cost", "q1/2": "time", "q1/3": "cost", "q1/4": "time", "q2/1":
         "memory->forgetting", "q2/2": "memory", "q2/3": "memory", "q2/4": "memory"}
    b = {"q1/1": "cost", "q1/2": "cost", "q1/3": "cost", "q1/4": "time", "q2/1": "memory",
         "q2/2": "memory", "q2/3": "", "q2/4": ""}  # two answers coder B never coded
    rows = [f"{d},{c},primary,{d.split('/')[0]}" for d, c in a.items()]
    rows += [f"{d},{c},secondary,{d.split('/')[0]}" for d, c in b.items()]
    (tmp_path / "coded.csv").write_text("doc,code,coder,question_id\n" + "\n".join(rows),
                                        encoding="utf-8")
    out = tmp_path / "e.json"
    result = _invoke("evaluate", "--responses", str(tmp_path / "responses.csv"), "--codebook",
                     str(tmp_path / "codebook.csv"), "--coded-segments",
                     str(tmp_path / "coded.csv"), "--coder", "primary", "--second-coder",
                     str(tmp_path / "coded.csv"), "--second-coder-name", "secondary",
                     "--simulate-review", "2", "--json", str(out))
    assert result.exit_code == 0, result.output
    scored = json.loads(out.read_text())
    assert (scored["units"], scored["coded_by_reference"], scored["codes"]) == (8, 8, 3)
    human = scored["human"]["combined"]
    assert (human["units"], human["agreement"]) == (6, round(5 / 6, 4))
    assert [(r["labels"], r["labels_total"], r["strategy"]) for r in scored["curve"]] == [
        (2, 4, "active"), (2, 4, "random")]
    assert "machine kappa as a share of coder B's" in result.output


def test_evaluate_wants_one_kind_of_input(tmp_path: Path) -> None:
    result = _invoke("evaluate", "--codebook", str(tmp_path / "c.csv"), "--coded-segments",
                     str(tmp_path / "s.csv"))
    assert result.exit_code == 2
    assert "exactly one of --transcripts and --responses" in result.output


def _themeflow(*args: str, timeout: int = 600, **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    env = {**os.environ, "PREFECT_API_URL": ""}
    env.pop("PREFECT_API_URL")
    return subprocess.run([str(BIN / "themeflow"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


@pytest.mark.parametrize("broken, message", [
    ("missing", "study folder does not exist"),
    ("no_transcripts", "no transcripts/ folder"),
    ("participants", "missing column(s) role"),
    ("duplicate_participant", "duplicate doc id(s): su-2014-01"),
])
def test_run_refuses_a_broken_study_before_any_server_starts(demo_copy: Path, broken: str,
                                                            message: str) -> None:
    """Issue 23: these came after 9-18 s behind ~80 lines of Prefect tracebacks."""
    study = demo_copy
    if broken == "missing":
        study = demo_copy.parent / "nowhere"
    elif broken == "no_transcripts":
        shutil.rmtree(demo_copy / "transcripts")
    elif broken == "participants":
        (demo_copy / "participants.csv").write_text("doc,participant,area\nsu-2014-01,P1,A\n")
    else:
        with (demo_copy / "participants.csv").open("a") as fh:
            fh.write("su-2014-01,P9,Service user,Area 1\n")
    ran = _themeflow("run", str(study), timeout=120)
    assert ran.returncode == 2 and message in ran.stderr
    assert len(ran.stderr.strip().splitlines()) <= 2, ran.stderr
    assert not (study / ".prefect").exists() and (broken != "missing" or not study.exists())


PARENT = """Interviewer: How did you first hear about the programme?
Respondent: My keyworker Ruby Okafor came round to the house and told me about it. She sat with \
me and we worked out what I actually wanted, which nobody had asked me before.
Interviewer: How did the group work?
Respondent: The parents' panel decided what the sessions would cover. We chose the topics \
ourselves and the staff listened, which made it feel like it was ours.
Interviewer: Anything else?
Respondent: I learned a lot from the other parents, and I think the staff learned from us too \
about what it is like to manage on your own with three kids.
"""
STAFF = """Interviewer: What is your role?
Respondent: I manage the partnership between the council, the college and the health board. \
We meet monthly as a steering group and agree the budget together.
Interviewer: What have you learned?
Respondent: We have changed how we think about employability. Listening to parents taught us \
that childcare is the first barrier, not skills.
"""
CODED = [("s1", PARENT, "My keyworker Ruby Okafor came round to the house", "c2"),
         ("s1", PARENT, "The parents' panel decided what the sessions would cover.", "c2"),
         ("s1", PARENT, "I learned a lot from the other parents", "c1"),
         ("s2", STAFF, "We meet monthly as a steering group and agree the budget", "c3"),
         ("s2", STAFF, "Listening to parents taught us that childcare is the first", "c1")]


def _coded_project(path: Path) -> Path:
    """A project as a CAQDAS package exports it: two interviews, three codes, five codings by
    one coder, and a participant's name the hand anonymisation missed."""
    def selections(source: str) -> str:
        out = []
        for n, (src, text, phrase, code) in enumerate(CODED):
            if src == source:
                start = text.index(phrase)
                out.append(f'<PlainTextSelection guid="x{n}" startPosition="{start}" '
                           f'endPosition="{start + len(phrase)}" creatingUser="u1"><Coding '
                           f'guid="y{n}" creatingUser="u1"><CodeRef targetGUID="{code}"/>'
                           "</Coding></PlainTextSelection>")
        return "".join(out)

    codes = [("c1", "Mutual learning", "Both sides learn from each other and change."),
             ("c2", "Joint ownership", "Participants shape and own the work together."),
             ("c3", "Collaborative governance", "Partners share decisions and budgets.")]
    qde = ('<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" '
           'name="p"><Users><User guid="u1" name="Dana"/></Users><CodeBook><Codes>'
           + "".join(f'<Code guid="{g}" name="{n}" isCodable="true"><Description>{d}'
                     "</Description></Code>" for g, n, d in codes)
           + "</Codes></CodeBook><Sources>"
           + "".join(f'<TextSource guid="{g}" name="{n}" plainTextPath="internal://{g}.txt">'
                     f"{selections(g)}</TextSource>" for g, n in (("s1", "parent-01"),
                                                                  ("s2", "staff-02")))
           + "</Sources></Project>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", qde)
        zf.writestr("sources/s1.txt", PARENT)
        zf.writestr("sources/s2.txt", STAFF)
    return path


def test_import_prints_what_it_brought_in(tmp_path: Path) -> None:
    result = _invoke("import", str(_coded_project(tmp_path / "p.qdpx")), str(tmp_path / "s"),
                     "--block", "2019")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "p.qdpx: 2 text source(s) into transcripts/2019/, 3 code(s), 5 human coding(s), "
        "0 case(s), 0 participants.csv row(s) added")
    again = _invoke("import", str(tmp_path / "p.qdpx"), str(tmp_path / "s"), "--block", "../x")
    assert again.exit_code == 2 and "--block wants a folder name" in again.output


@pytest.mark.slow
def test_an_imported_project_is_redacted_and_its_codings_teach_the_run(tmp_path: Path) -> None:
    """Issue 21: the imported interviews go through redaction like any transcript, and each
    human coding labels the passage it covers (the run's review_labels table)."""
    study = tmp_path / "study"
    imported = _themeflow("import", str(_coded_project(tmp_path / "p.qdpx")), str(study),
                          "--block", "2019")
    assert imported.returncode == 0, imported.stderr
    ran = _themeflow("run", str(study))
    assert ran.returncode == 0, ran.stderr[-2000:]
    run_dir = Path(ran.stdout.strip().splitlines()[-1])
    labels = pd.read_parquet(run_dir / "review_labels.parquet")
    passages = pd.read_parquet(run_dir / "passages.parquet").set_index("passage_id")
    taught = sorted((r.element, passages.loc[r.passage_id, "text"][:30])
                    for r in labels.itertuples())
    assert taught == [
        ("Collaborative governance", "I manage the partnership betwe"),
        ("Joint ownership", "My keyworker [PERSON_1] came r"),
        ("Joint ownership", "The parents' panel decided wha"),
        ("Mutual learning", "I learned a lot from the other"),
        ("Mutual learning", "We have changed how we think a")]
    assert (run_dir / "candidates.parquet").exists()
    written = [p for folder in (run_dir, study / "cache") for p in folder.rglob("*")
               if p.is_file()]
    assert written and not [p for p in written if b"Okafor" in p.read_bytes()]


@pytest.mark.slow
def test_run_and_demo_print_their_run_folder(demo_copy: Path, tmp_path: Path) -> None:
    shutil.rmtree(demo_copy / "transcripts" / "2016")
    shutil.rmtree(demo_copy / "transcripts" / "2017")
    ran = _themeflow("run", str(demo_copy), "--blocks", "2014", "--output-dir", str(tmp_path / "o"))
    assert ran.returncode == 0, ran.stderr[-2000:]
    run_dir = Path(ran.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "o" and (run_dir / "report.html").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["blocks"] == ["2014"] and manifest["counts"]["documents"] == 4
    demo = _themeflow("demo", "--output-dir", str(tmp_path / "d"))
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert Path(demo.stdout.strip().splitlines()[-1]).parent == tmp_path / "d"
    assert "themeflow review" in demo.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_review_serves_the_page(tmp_path: Path) -> None:
    study = _reviewed(tmp_path)
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "themeflow"), "review", str(study), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    page = (resp.status, resp.read().decode())
            except OSError:
                time.sleep(0.3)
        assert page is not None and page[0] == 200
        assert "20260101T000000000Z" in page[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_review_with_an_access_token_prints_the_only_link_that_opens(tmp_path: Path) -> None:
    import http.cookiejar
    import re

    study = _reviewed(tmp_path)
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "themeflow"), "review", str(study), "--port", str(port),
                             "--access-token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        line = proc.stderr.readline()
        link = re.search(r"http://127\.0\.0\.1:\d+/\?access=[\w-]+", line).group()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            try:
                with opener.open(link, timeout=5) as resp:
                    page = (resp.status, resp.geturl(), resp.read().decode())
            except OSError:
                time.sleep(0.3)
        assert page is not None and page[0] == 200 and page[1].endswith(f":{port}/")
        assert "20260101T000000000Z" in page[2]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert refused.value.code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("command", [["review"], ["export"], ["agreement"], ["serve"],
                                     ["redact-check", "README.md", "--study"]])
def test_commands_refuse_a_study_that_does_not_exist(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere"
    result = _invoke(*command, str(missing))
    assert result.exit_code == 2 and "study folder does not exist" in result.output
    assert not missing.exists()


def test_reproduce_refuses_a_study_that_moved(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"study_dir": str(tmp_path / "old-place")}))
    result = _invoke("reproduce", str(run))
    assert result.exit_code == 2 and "is not any more" in result.output
    assert str(tmp_path / "old-place") in result.output.replace("\n", "")


@pytest.mark.parametrize("name, text, header", [
    ("think.txt", "MODERATOR: Can you hear me?\n\nYes, I can.\n\n3.a Please explain the chart.\n"
     "It shows the average.\n",
     "think.txt: only the interviewer labelled; 4 turns: 1 interviewer, 1 prompt, 2 respondent; "
     "44% of the words are respondent speech"),
    ("call.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Interviewer>Why?\n\n"
     "00:00:03.000 --> 00:00:05.000\n<v Participant>Because it helps.\n",
     "call.vtt: captions, labelled turns; 2 turns: 1 interviewer, 0 prompt, 1 respondent; "
     "75% of the words are respondent speech"),
])
def test_inspect_shows_how_a_file_is_read(tmp_path: Path, name: str, text: str,
                                          header: str) -> None:
    """Issue 21: a convention problem shows up before a run."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = _invoke("inspect", str(tmp_path / name))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == header


def test_inspect_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "only.txt").write_text("Interviewer: Anyone there?\n")
    result = _invoke("inspect", str(tmp_path / "only.txt"))
    assert result.exit_code == 2 and "TF205" in result.output and "only.txt" in result.output
