"""Progress bars for the long stages when a person runs the CLI in a terminal; silent otherwise.

The CLI switches them on (``THEMEFLOW_PROGRESS=1``) when its stderr is a terminal; the flow, tests,
benchmarks, Dask workers and the Prefect server never draw them. Bars show counts only, never text.

Usage::

    with progress("redact: finding identifiers", total=len(texts)) as advance:
        for text in texts:
            ...
            advance()
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

ENV = "THEMEFLOW_PROGRESS"


def enabled() -> bool:
    """Only the main thread of the main process draws: a terminal holds one live display at a
    time, so work in a helper thread (the topic fit's task) draws none, and the flow shows a
    spinner while it waits for that work instead."""
    return (os.environ.get(ENV) == "1" and multiprocessing.current_process().name == "MainProcess"
            and threading.current_thread() is threading.main_thread())


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A bar (or a spinner when ``total`` is None) on stderr; yields ``advance(n=1)``."""
    if not enabled():
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
        if total is None:
            bar.update(task, total=1, completed=1)
