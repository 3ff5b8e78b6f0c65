"""What every ``themeflow`` command shares: the Typer app, the error console, and the checks a
study path goes through before a command touches it."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from pipeline.errors import ThemeflowError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Thematic analysis of interview transcripts: redact, embed, cluster, map "
                       "onto a framework, suggest quotes.")
err = Console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_STUDY = REPO_ROOT / "demo" / "study"
RUN_OPTION = typer.Option(None, "--run", help="a run folder, or a folder of runs (latest taken); "
                          "default STUDY/outputs")


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
