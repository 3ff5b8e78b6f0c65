"""``themeflow init``, ``run``, ``demo``, ``serve`` and ``reproduce``: the commands that make a
study and run the flow over it, and what a run sets up first (the study checked, private files, signals, the temporary Prefect
server)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

import typer

from flows.cli_common import (
    DEMO_STUDY,
    REPO_ROOT,
    _existing,
    _fail,
    _prefect_env,
    _restrict,
    app,
    err,
)
from pipeline.errors import ThemeflowError


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
    (``pipeline/run/prefect_server.py`` says why)."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    from pipeline.run.prefect_server import TemporaryServer

    return TemporaryServer(Path(os.environ["PREFECT_HOME"]))


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
    from pipeline.run.execution import start_execution

    # The run's workers and model process load their models while the server boots.
    execution = start_execution(study_dir, cfg, blocks or None)
    stops.append(execution.stop)
    from flows.themeflow_flow import flow_for

    try:
        failed = server.wait(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
                             ) if server is not None else ""
        if failed:
            err.print(f"[yellow]note[/] themeflow's early Prefect server did not start "
                      f"({failed}); Prefect starts its own")
        result = flow_for(cfg)(study_dir=str(study), blocks=blocks or None,
                                config_path=str(config) if config else None,
                                output_dir=str(output_dir) if output_dir else None,
                                review_labels=str(review_labels) if review_labels else None)
    finally:
        execution.stop()  # the flow closed it; this only ends one it never took
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
