"""The ``themeflow`` command line: init, run, demo, serve, reproduce (``cli_flow``), review,
export, agreement (``cli_review``), inspect, import, redact-check, evaluate, eval-redaction.

Heavy libraries (torch, spaCy, BERTopic, Prefect) are imported inside the commands that need them,
so ``themeflow --help`` is instant.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

import flows.cli_flow  # noqa: F401 - registers init, run, demo, serve, reproduce
import flows.cli_review  # noqa: F401 - registers review, export, agreement
from flows.cli_common import _existing, _fail, app, err
from pipeline.errors import ThemeflowError

__all__ = ["app", "main"]


@app.command()
def inspect(file: Path = typer.Argument(..., help="one transcript (.txt, .docx, .vtt, .srt)",
                                        exists=True, dir_okay=False),
            study: Optional[Path] = typer.Option(None, "--study",
                                                 help="use this study's ingest settings")
            ) -> None:
    """Show how themeflow reads one transcript's turns (layout, offsets in the text as read,
    speaker, role, words), so a layout it misreads shows up before a run of 200 files. Nothing
    is saved."""
    from pipeline.config import IngestConfig, resolve_config
    from pipeline.ingest import read_transcript
    from pipeline.turns import turn_role
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
    out.print("turn  offsets      role        speaker          words  text", markup=False,
              highlight=False)
    for turn, role in zip(doc.turns, roles):
        text = turn.text if len(turn.text) <= 80 else turn.text[:77] + "..."
        where = f"{turn.source_start}-{turn.source_end}" if turn.source_start >= 0 else "-"
        out.print(f"{turn.turn_index:>4}  {where:<11}  {role:<11} {turn.speaker:<16} "
                  f"{len(turn.text.split()):>5}w  {text}", markup=False, highlight=False)


@app.command("import")
def import_project(project: Path = typer.Argument(..., help="a REFI-QDA project (.qdpx)",
                                                  exists=True, dir_okay=False),
                   study: Path = typer.Argument(..., help="the study to create or extend"),
                   block: str = typer.Option(..., "--block", help="the block folder its text "
                                             "sources go to, e.g. 2016")) -> None:
    """Import a coded REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QualCoder, themeflow): text
    sources become transcripts of BLOCK, cases fill participants.csv, the codebook and every
    human coding land in STUDY/imports/<project>/ for the mapping to learn from. The
    transcripts are redacted by the run like any other."""
    from pipeline.refi_import import import_project as run_import

    if not block.strip() or block != Path(block).name or block.startswith("."):
        _fail(ThemeflowError(f"--block wants a folder name like 2016: {block!r}"))
    try:
        summary = run_import(project, study, block)
    except ThemeflowError as exc:
        _fail(exc)
    out = Console(soft_wrap=True)
    out.print(f"{project.name}: {summary.sources} text source(s) into transcripts/{block}/, "
              f"{summary.codes} code(s), {summary.codings} human coding(s)"
              + (f" ({summary.machine_codings} themeflow suggestion(s) left out)"
                 if summary.machine_codings else "")
              + f", {summary.cases} case(s), {summary.participants_added} participants.csv "
              "row(s) added", markup=False, highlight=False)
    if summary.unmapped_variables:
        out.print("case variables not in participants.csv (role and area are): "
                  + ", ".join(summary.unmapped_variables), markup=False, highlight=False)
    folder = next((p.parent for p in summary.written if p.name == "codings.csv"), None)
    if folder is not None:
        out.print(f"codebook and codings: {folder}; themeflow.toml [map] framework and labels "
                  "point there when the import created the study, else set them to use them",
                  markup=False, highlight=False)
    for problem in summary.errors:
        err.print(f"[bold red]error[/] {problem}", soft_wrap=True, markup=False)
    if summary.errors:
        raise typer.Exit(code=1)


@app.command("redact-check")
def redact_check(file: Path = typer.Argument(..., help="one transcript (.txt or .docx)",
                                       exists=True, dir_okay=False),
                 study: Optional[Path] = typer.Option(None, "--study",
                                                      help="use this study's lexicons and config")
                 ) -> None:
    """Show, in the terminal, what a run would redact in one transcript and which detector and
    rule found each span (nothing is saved)."""
    from rich.text import Text

    from pipeline.build import build_redactor
    from pipeline.config import Config, resolve_config
    from pipeline.ingest import read_transcript
    from pipeline.keys import PseudonymKey
    from pipeline.redact import plan_redactions
    from pipeline.study import Study

    try:
        study_dir = Study(_existing(study).resolve()) if study else None
        cfg = resolve_config(study_dir.config_path) if study_dir else Config()
        doc = read_transcript(file, file.stem, "check", cfg.ingest)
        # What a run builds: the configured detectors, the study's lexicons and the published
        # words of participants.csv; the study's key (read, extended in memory, never saved).
        redactor = build_redactor(study_dir, cfg)
        key = PseudonymKey.load(study_dir.key_path(cfg)) if study_dir else \
            PseudonymKey(Path(os.devnull))
    except ThemeflowError as exc:
        _fail(exc)
    (planned,), _ = plan_redactions([doc], redactor, key)
    counts: dict[str, int] = {}
    out = Console()
    out.print(f"read as: {doc.convention} (themeflow inspect shows the turns)", markup=False)
    for turn, turn_spans in zip(doc.turns, planned):
        line = Text(f"{turn.speaker}: ", style="bold")
        cursor = 0
        for s in turn_spans:
            line.append(turn.text[cursor:s.start])
            line.append(turn.text[s.start:s.end], style="black on yellow")
            why = f"{s.detector}: {s.rule}" if s.rule else s.detector
            line.append(f"→{key.assign(turn.text[s.start:s.end], s.label)} ({why})",
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
             random_repeats: int = typer.Option(
                 5, "--random-repeats", min=1, help="pick orders the random baseline is "
                 "averaged over (one order moves a point by more than a strategy gains)"),
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
    result.update(evaluate_units(units, rounds, random_repeats))
    print(markdown_units(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


@app.command("eval-redaction")
def eval_redaction(gold: list[Path] = typer.Argument(..., help="gold JSONL file(s)"),
                   config: Optional[Path] = typer.Option(
                       None, "--config", help="TOML config: themeflow's detectors and settings"),
                   split: bool = typer.Option(False, "--split", help="score the two fixed halves "
                                              "of each file apart: tune and check"),
                   compare: bool = typer.Option(False, "--compare", help="add the set's "
                                                "variants: spaCy sm or md, with or without "
                                                "Rampart, and each model alone"),
                   per_detector: bool = typer.Option(False, "--per-detector", help="each "
                                                     "detector's own spans: precision, words/s"),
                   json_out: Optional[Path] = typer.Option(None, "--json", help="write results")
                   ) -> None:
    """Recall/precision of redaction per type, themeflow beside Presidio's default analyzer."""
    import json

    from pipeline.config import Config, load_config
    from pipeline.redact.evaluate import (
        comparison_systems,
        detector_figures,
        detector_table,
        evaluate,
        load_gold,
        markdown_table,
        presidio_spans,
        themeflow_spans,
    )

    try:
        cfg = load_config(config) if config else Config()  # a missing file: ConfigError
    except ThemeflowError as exc:
        _fail(exc)
    systems = {"themeflow": lambda docs: themeflow_spans(docs, cfg)}
    if compare:
        systems.update(comparison_systems(cfg))
    systems["presidio_default"] = presidio_spans
    results: dict = {}
    for path in gold:
        results[path.stem] = evaluate(path, systems, split)
        for part, result in results[path.stem].items():
            name = path.parent.name or path.stem
            print(markdown_table(name if part == "all" else f"{name} ({part})", result))
            print()
        if per_detector:
            figures = detector_figures(load_gold(path), cfg)
            results[path.stem]["detectors"] = figures
            print(detector_table(figures))
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
