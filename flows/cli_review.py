"""``themeflow review``, ``export`` and ``agreement``: the analysts' workspace from the command
line."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Optional

import typer

from flows.cli_common import RUN_OPTION, _existing, _fail, _restrict, app, err
from pipeline.errors import ThemeflowError


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
