"""The ``themeflow`` command line: init, run, demo, serve, review, export, agreement, reproduce,
evaluate, redact-check.

Heavy libraries (torch, spaCy, BERTopic, Prefect) are imported inside the commands that need them,
so ``themeflow --help`` is instant.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from pipeline.errors import ThemeflowError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Thematic analysis of interview transcripts: redact, embed, cluster, map "
                       "onto a framework, suggest quotes.")
err = Console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_STUDY = REPO_ROOT / "demo" / "study"


def _prefect_env(study: Path) -> None:
    """A per-study Prefect home, a generous start-up time for the temporary local server, and no
    telemetry: studies run on air-gapped servers, and nothing about a study leaves the machine."""
    os.environ.setdefault("PREFECT_HOME", str(study.resolve() / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _existing(study: Path) -> Path:
    """Every command but ``init`` works on a study that exists: a mistyped path is said so,
    instead of "no finished run" or a Prefect home made inside it."""
    if not study.is_dir():
        from pipeline.errors import StudyLayoutError

        _fail(StudyLayoutError("study folder does not exist", study))
    return study


def _restrict(study: Path):  # noqa: ANN202 - the study's Config
    """Files made from here on are the owner's, or the study's shared group's
    (``[review] shared_group`` in its themeflow.toml). Returns the study's configuration."""
    from pipeline.config import resolve_config
    from pipeline.fsutil import restrict_permissions
    from pipeline.study import Study

    root = Study(study.resolve())
    cfg = resolve_config(root.config_path)
    restrict_permissions(root.root, cfg.review.shared_group)
    return cfg


def _fail(exc: ThemeflowError) -> None:
    err.print(f"[bold red]error[/] {exc}", soft_wrap=True)  # a path stays whole, to copy
    raise typer.Exit(code=2)


@app.command()
def init(study: Path = typer.Argument(..., help="folder to create")) -> None:
    """Scaffold a study folder: themeflow.toml, transcripts/, participants.csv, lexicons/."""
    from pipeline.fsutil import restrict_permissions
    from pipeline.study import init_study

    restrict_permissions(study)  # private until themeflow.toml names a shared group
    init_study(study)
    err.print(f"Study scaffolded in {study}. Put each fieldwork block in "
              f"{study / 'transcripts' / '<block>'}/ and describe participants in "
              f"{study / 'participants.csv'}.")


def _start_temporary_server():  # noqa: ANN202 - a TemporaryServer or None
    """Without PREFECT_API_URL, launch the temporary Prefect server now and point Prefect at it
    (``pipeline/prefect_server.py`` says why)."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    from pipeline.run.prefect_server import TemporaryServer

    server = TemporaryServer(Path(os.environ["PREFECT_HOME"]))
    os.environ["PREFECT_API_URL"] = server.api_url
    return server


def run_study(study: Path, blocks: list[str] | None, config: Path | None,
              output_dir: Path | None, review_labels: Path | None = None) -> Path:
    from pipeline.config import resolve_config
    from pipeline.fsutil import restrict_permissions
    from pipeline.study import Study, load_participants

    # What the user can fix is checked before any server starts: a layout, participants.csv
    # or config error is one line, at once, not a traceback after the server's start-up.
    study_dir = Study(study.resolve())
    study_dir.validate()
    load_participants(study_dir.participants_path)
    cfg = resolve_config(study_dir.config_path, config)
    restrict_permissions(study_dir.root, cfg.review.shared_group)
    _prefect_env(study)
    if err.is_terminal:
        os.environ.setdefault("THEMEFLOW_PROGRESS", "1")
    from pipeline.run.lifecycle import run_temp_dir, stop_on_signals

    temp = run_temp_dir()
    stops: list = [lambda: shutil.rmtree(temp, ignore_errors=True)]
    stop_on_signals(stops)
    server = _start_temporary_server()
    if server is not None:
        stops.append(server.stop)
    from flows.themeflow_flow import flow_for

    if server is not None:
        from pipeline.run.execution import prewarm_redaction

        prewarm_redaction(study_dir, cfg, blocks)  # while the server boots
        server.wait(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    result = flow_for(cfg)(study_dir=str(study), blocks=blocks or None,
                            config_path=str(config) if config else None,
                            output_dir=str(output_dir) if output_dir else None,
                            review_labels=str(review_labels) if review_labels else None)
    return Path(result)


def _report_quarantine(run_dir: Path) -> None:
    import json

    import pandas as pd

    leak = run_dir / "leak_check.json"
    if leak.exists():
        c = json.loads(leak.read_text())
        err.print(f"leak check: {c['hits']} hits for {c['identifiers_in_key']} key identifiers "
                  f"in {c['files_scanned']} files")
        for hit in c.get("review_and_exports", []):
            err.print(f"[bold red]identifier in the review record[/] {hit['file']}: "
                      f"{hit['pseudonym']} x{hit['count']} (an identifier found since it was "
                      "saved; re-export, and reject or trim the quote on the review page)")

    docs = pd.read_parquet(run_dir / "documents.parquet")
    for row in docs[docs["status"] == "quarantined"].itertuples():
        err.print(f"[yellow]quarantined[/] {row.error}")


@app.command()
def run(study: Path = typer.Argument(..., help="the study folder"),
        blocks: Optional[list[str]] = typer.Option(None, "--blocks", "-b",
                                                   help="block folder(s) to include; default all"),
        config: Optional[Path] = typer.Option(None, "--config", help="extra TOML config file"),
        output_dir: Optional[Path] = typer.Option(None, "--output-dir",
                                                  help="where run folders go; default STUDY/outputs")
        ) -> None:
    """Run the whole pipeline; prints the run folder's path as the last line."""
    try:
        run_dir = run_study(study, blocks, config, output_dir)
    except ThemeflowError as exc:
        _fail(exc)
    _report_quarantine(run_dir)
    print(run_dir)


@app.command()
def demo(output_dir: Path = typer.Option(REPO_ROOT / "outputs", "--output-dir")) -> None:
    """Run the bundled fictional demo study; its runs land in the repository's outputs/."""
    try:
        run_dir = run_study(DEMO_STUDY, None, None, output_dir)
    except ThemeflowError as exc:
        _fail(exc)
    _report_quarantine(run_dir)
    err.print(f"Open {run_dir / 'report.html'} in a browser to read the report; review the "
              f"candidate quotes with: themeflow review {DEMO_STUDY} --run {run_dir.parent}")
    print(run_dir)


@app.command()
def serve(study: Path = typer.Argument(..., help="the study folder"),
          name: Optional[str] = typer.Option(None, "--name", help="deployment name; default the "
                                             "study folder's name"),
          cron: str = typer.Option("0 6 * * 1", "--cron", help="when to run (cron)"),
          timezone: Optional[str] = typer.Option(
              None, "--timezone", help="the cron's time zone (IANA name); default this "
              "machine's"),
          blocks: Optional[list[str]] = typer.Option(None, "--blocks", "-b",
                                                     help="fix the blocks; default all, so new "
                                                          "block folders are picked up"),
          config: Optional[Path] = typer.Option(None, "--config"),
          output_dir: Optional[Path] = typer.Option(None, "--output-dir")) -> None:
    """Register a scheduled deployment with the Prefect server at PREFECT_API_URL and execute
    its runs until stopped (Ctrl-C). Runs reuse the study's caches, so only new blocks cost."""
    try:
        _restrict(_existing(study))  # the runs this process executes write private files too
    except ThemeflowError as exc:
        _fail(exc)
    if not os.environ.get("PREFECT_API_URL"):
        _fail(ThemeflowError("PREFECT_API_URL is not set: start a server with `prefect server "
                             "start` and export PREFECT_API_URL=http://127.0.0.1:4200/api"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    from flows.themeflow_flow import flow_for
    from pipeline.config import resolve_config
    from pipeline.study import Study

    params = {"study_dir": str(study.resolve()), "blocks": blocks or None,
              "config_path": str(config.resolve()) if config else None,
              "output_dir": str(output_dir.resolve()) if output_dir else None}
    cfg = resolve_config(Study(_existing(study).resolve()).config_path,
                         config.resolve() if config else None)
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    # One run of a study at a time: a second trigger waits in the queue (without the limit it
    # started at once and failed on the study's lock).
    one_at_a_time = ConcurrencyLimitConfig(limit=1,
                                           collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    zone = timezone or _local_timezone()
    err.print(f"Schedule: {cron} ({zone})")
    flow_for(cfg).serve(name=name or study.resolve().name, schedules=[Cron(cron, timezone=zone)],
                        parameters=params, global_limit=one_at_a_time,
                        tags=[f"study:{study.resolve().name}"],
                        description="themeflow over every fieldwork block of one study")


def _local_timezone() -> str:
    """This machine's time zone as an IANA name (a cron in it means what the team expects)."""
    if os.environ.get("TZ", "").strip(":"):
        return os.environ["TZ"].strip(":")
    try:
        target = os.path.realpath("/etc/localtime")
        return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"
    except OSError:
        return "UTC"


@app.command()
def reproduce(run_dir: Path = typer.Argument(..., help="a finished run folder"),
              output_dir: Optional[Path] = typer.Option(
                  None, "--output-dir", help="where the rerun goes; default a temporary folder")
              ) -> None:
    """Rerun a run from its manifest and config; PASS/FAIL per table (content hash)."""
    import json
    import tempfile

    from pipeline.run.reproduce import changed_inputs, compare, run_table_hashes

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    study = Path(manifest["study_dir"])
    if not study.is_dir():
        from pipeline.errors import StudyLayoutError

        _fail(StudyLayoutError("the run's study was here and is not any more (moved or "
                               "renamed?); reproduce reruns a study where it ran", study))
    target = output_dir or Path(tempfile.mkdtemp(prefix="themeflow-reproduce-"))
    changed = changed_inputs(study, manifest)
    for name in changed:
        err.print(f"[yellow]input changed since the run[/] {name}")
    try:
        labels = run_dir / "review_labels.parquet"
        rerun = run_study(study, manifest["blocks"], run_dir / "config.json", target,
                          labels if labels.exists() else None)
    except ThemeflowError as exc:
        _fail(exc)
    expected = manifest.get("tables") or run_table_hashes(run_dir)
    results = compare(expected, run_table_hashes(rerun))
    for table, same in results:
        print(f"{'PASS' if same else 'FAIL'}  {table}")
    ok = all(same for _, same in results)
    print(f"{'reproduced' if ok else 'NOT reproduced'}: {sum(s for _, s in results)}/{len(results)}"
          f" tables identical; rerun in {rerun}")
    raise typer.Exit(code=0 if ok else 1)


RUN_OPTION = typer.Option(None, "--run", help="a run folder, or a folder of runs (latest taken); "
                          "default STUDY/outputs")


@app.command()
def review(study: Path = typer.Argument(..., help="the study folder"),
           run_dir: Optional[Path] = RUN_OPTION,
           host: str = typer.Option("127.0.0.1", "--host", help="interface to bind"),
           port: int = typer.Option(8765, "--port"),
           allow_host: Optional[list[str]] = typer.Option(
               None, "--allow-host", help="a non-local Host header to accept (e.g. a team "
                                          "server's name); repeatable"),
           access_token: bool = typer.Option(
               False, "--access-token", help="answer only the browser that opens the printed "
               "link (also [review] access_token)")) -> None:
    """Serve the review page: accept, reject, relabel, trim and annotate candidate quotes."""
    import uvicorn

    from pipeline.review.app import create_app
    from pipeline.review.workspace import Workspace

    try:
        cfg = _restrict(_existing(study))
        ws = Workspace.open(study, run_dir)
    except ThemeflowError as exc:
        _fail(exc)
    access = secrets.token_urlsafe(24) if access_token or cfg.review.access_token else None
    link = f"http://{host}:{port}/" + (f"?access={access}" if access else "")
    err.print(f"Reviewing run {ws.run_id} of {study}: open {link} "
              f"(decisions are saved in {ws.study.review_path}). Ctrl-C stops.", soft_wrap=True)
    uvicorn.run(create_app(study, run_dir, allow_host or [], access), host=host, port=port,
                log_level="warning")


@app.command()
def export(study: Path = typer.Argument(..., help="the study folder"),
           fmt: list[str] = typer.Option(["xlsx"], "--format", "-f",
                                         help="xlsx, csv, docx, qdpx (REFI-QDA project), "
                                         "qdc or codebook-csv (the codebook); repeatable"),
           run_dir: Optional[Path] = RUN_OPTION,
           surrogates: bool = typer.Option(False, "--surrogates",
                                           help="pseudonyms as realistic names in xlsx/csv/docx"),
           notes: bool = typer.Option(False, "--with-notes", help="docx: list who accepted each "
                                      "quote and their notes in the appendix")) -> None:
    """Write the accepted quotes (and, for qdpx, a REFI-QDA project) to STUDY/exports/."""
    from pipeline.review.exports import export as write_export
    from pipeline.review.workspace import Workspace

    try:
        _restrict(_existing(study))
        ws = Workspace.open(study, run_dir)
        if surrogates and "qdpx" in fmt:  # refused before anything is written
            write_export(ws, "qdpx", surrogates=True)
        for f in fmt:
            print(write_export(ws, f, surrogates=surrogates, notes=notes))
    except ThemeflowError as exc:
        _fail(exc)


@app.command()
def agreement(study: Path = typer.Argument(..., help="the study folder"),
              run_dir: Optional[Path] = RUN_OPTION) -> None:
    """Agreement between reviewers per element (kappa, AC1) and the disagreements to settle."""
    from pipeline.review.workspace import Workspace

    try:
        pairs, disagreements = Workspace.open(_existing(study), run_dir).agreement()
    except ThemeflowError as exc:
        _fail(exc)
    if pairs.empty:
        print("No candidate has been decided by two reviewers yet.")
        return
    print(pairs.to_markdown(index=False) if _has_tabulate() else pairs.to_string(index=False))
    print(f"\n{len(disagreements)} disagreement(s) to settle:")
    for d in disagreements.itertuples():
        print(f"- [{d.element}] {d.passage_id}: {d.reviewer_a} {d.verdict_a} / "
              f"{d.reviewer_b} {d.verdict_b}")


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


@app.command()
def inspect(file: Path = typer.Argument(..., help="one transcript (.txt, .docx, .vtt, .srt)",
                                        exists=True, dir_okay=False),
            study: Optional[Path] = typer.Option(None, "--study",
                                                 help="use this study's ingest settings")
            ) -> None:
    """Show how themeflow reads one transcript's turns (layout, speaker, role, words), so a
    layout it misreads shows up before a run of 200 files. Nothing is saved."""
    from pipeline.config import IngestConfig, resolve_config
    from pipeline.ingest import read_transcript, turn_role
    from pipeline.study import Study

    try:
        cfg = resolve_config(Study(_existing(study).resolve()).config_path).ingest if study \
            else IngestConfig()
        doc = read_transcript(file, file.stem, "inspect", cfg)
    except ThemeflowError as exc:
        _fail(exc)
    roles = [turn_role(t) for t in doc.turns]
    words = {r: sum(len(t.text.split()) for t, tr in zip(doc.turns, roles) if tr == r)
             for r in ("interviewer", "prompt", "respondent")}
    total = sum(words.values()) or 1
    out = Console(soft_wrap=True)
    out.print(f"{file.name}: {doc.convention}; {len(doc.turns)} turns: "
              + ", ".join(f"{roles.count(r)} {r}" for r in ("interviewer", "prompt",
                                                            "respondent"))
              + f"; {100 * words['respondent'] / total:.0f}% of the words are respondent speech")
    for turn, role in zip(doc.turns, roles):
        text = turn.text if len(turn.text) <= 80 else turn.text[:77] + "..."
        out.print(f"{turn.turn_index:>4}  {role:<11} {turn.speaker:<16} "
                  f"{len(turn.text.split()):>5}w  {text}", markup=False, highlight=False)


@app.command("redact-check")
def redact_check(file: Path = typer.Argument(..., help="one transcript (.txt or .docx)",
                                       exists=True, dir_okay=False),
                 study: Optional[Path] = typer.Option(None, "--study",
                                                      help="use this study's lexicons and config")
                 ) -> None:
    """Show, in the terminal, what would be redacted in one transcript (nothing is saved)."""
    from rich.text import Text

    from pipeline.build import build_redactor
    from pipeline.config import Config, resolve_config
    from pipeline.ingest import read_transcript
    from pipeline.keys import PseudonymKey
    from pipeline.study import Study

    try:
        study_dir = Study(_existing(study).resolve()) if study else None
        cfg = resolve_config(study_dir.config_path) if study_dir else Config()
        doc = read_transcript(file, file.stem, "check", cfg.ingest)
        redactor = build_redactor(study_dir, cfg)
    except ThemeflowError as exc:
        _fail(exc)
    spans = redactor.detect([t.text for t in doc.turns], doc.label_names)
    key = PseudonymKey(Path(os.devnull))
    counts: dict[str, int] = {}
    out = Console()
    out.print(f"read as: {doc.convention} (themeflow inspect shows the turns)", markup=False)
    for turn, turn_spans in zip(doc.turns, spans):
        line = Text(f"{turn.speaker}: ", style="bold")
        cursor = 0
        for s in turn_spans:
            line.append(turn.text[cursor:s.start])
            line.append(turn.text[s.start:s.end], style="black on yellow")
            line.append(f"→{key.assign(turn.text[s.start:s.end], s.label)}({s.detector})",
                        style="bold red")
            counts[s.label] = counts.get(s.label, 0) + 1
            cursor = s.end
        line.append(turn.text[cursor:])
        out.print(line)
    out.print(f"\n{sum(counts.values())} spans: " +
              ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command()
def evaluate(transcripts: Optional[Path] = typer.Option(None, "--transcripts",
                                                       help="folder of transcripts"),
             responses: Optional[Path] = typer.Option(
                 None, "--responses", help="open-ended survey answers: doc,text[,question_id]"),
             codebook: Path = typer.Option(..., "--codebook", help="codebook CSV or .qdc"),
             coded_segments: Path = typer.Option(
                 ..., "--coded-segments", help="coder A: doc,code[,text,start,end,coder]"),
             coder: Optional[str] = typer.Option(None, "--coder",
                                                 help="coder A's rows only (a 'coder' column)"),
             second_coder: Optional[Path] = typer.Option(
                 None, "--second-coder", help="coder B's segments on the same documents"),
             second_coder_name: Optional[str] = typer.Option(
                 None, "--second-coder-name", help="coder B's rows only (a 'coder' column)"),
             simulate: Optional[str] = typer.Option(
                 None, "--simulate-review", help="label counts, e.g. 10,25,50,100,200 (per "
                 "question with --responses)"),
             few_shot: int = typer.Option(0, "--few-shot", help="K human examples per code"),
             json_out: Optional[Path] = typer.Option(None, "--json")) -> None:
    """Agreement of passage-to-code mapping with human coders (top-level codes): codeable
    detection, code choice and combined figures, a second coder's ceiling, learning curves."""
    import json

    from pipeline.coded_units import (
        evaluate_units,
        markdown_units,
        response_units,
        transcript_units,
    )
    from pipeline.evaluate import evaluate as run_eval
    from pipeline.evaluate import markdown

    if (transcripts is None) == (responses is None):
        _fail(ThemeflowError("evaluate needs exactly one of --transcripts and --responses"))
    try:
        rounds = [int(x) for x in simulate.split(",")] if simulate else None
    except ValueError:
        _fail(ThemeflowError(f"--simulate-review wants label counts like 10,25,50: {simulate!r}"))
    result: dict = {}
    if transcripts is not None:
        result = run_eval(transcripts, codebook, coded_segments, few_shot=few_shot)
        print(markdown(result))
        units = transcript_units(transcripts, codebook, coded_segments, coder, second_coder,
                                 second_coder_name)
    else:
        units = response_units(responses, codebook, coded_segments, coder, second_coder,
                               second_coder_name)
    result.update(evaluate_units(units, rounds))
    print(markdown_units(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


@app.command("eval-redaction")
def eval_redaction(gold: list[Path] = typer.Argument(..., help="gold JSONL file(s)"),
                   json_out: Optional[Path] = typer.Option(None, "--json", help="write results")
                   ) -> None:
    """Recall/precision of redaction per type, themeflow beside Presidio's default analyzer."""
    import json

    from pipeline.redact.evaluate import evaluate, markdown_table

    results = {}
    for path in gold:
        results[path.stem] = evaluate(path)
        print(markdown_table(path.parent.name or path.stem, results[path.stem]))
        print()
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))


_exit_code: list[int | None] = []


def _exit_without_teardown() -> None:
    """The last exit step of the console script: end the process now, with its exit code.

    Why: after a run the interpreter spends ~3 s tearing down what the run loaded (torch,
    spaCy, BERTopic, numba; measured on alaska) before the shell gets its prompt back. By now
    everything that matters is done: the run folder was renamed into place, non-daemon threads
    were joined and every exit handler registered after this one (the Prefect server's stop,
    Prefect's log flushing, temporary files) has run. Log handlers and the standard streams
    are flushed here. A crash (no exit code recorded) takes the ordinary way out."""
    if not _exit_code:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(_exit_code[0] or 0)


def main() -> None:
    """The ``themeflow`` console script: the Typer app, then ``_exit_without_teardown``
    (registered first, so it runs after every other exit handler)."""
    atexit.register(_exit_without_teardown)
    try:
        app()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            _exit_code.append(exc.code)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
