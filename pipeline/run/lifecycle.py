"""What a run leaves behind when it ends any way but normally: nothing.

- ``exit_with_parent``: a helper process (the temporary Prefect server, the model process)
  ends when the run's process dies, even by SIGKILL, when no exit handler runs. Before, a killed
  run left its Prefect server answering, ~215 MB, every time. ``exit_with_creator`` does the
  same for a redaction worker, whose parent is the forkserver.
- ``stop_on_signals``: Ctrl-C or SIGTERM stops a run at once with one line, after stopping its
  helpers (it took ~72 s and printed ~440 lines of tracebacks). What a stopped run had written
  is safe by construction: the key, caches and exports are replaced atomically, the review store
  commits per decision, and the run's partial folder is removed at the next run's start.
- ``run_temp_dir``: multiprocessing's ``pymp-*`` folders go in a folder per run process, removed
  at exit, or by the next run if the process was killed.

Usage::

    exit_with_parent(parent_pid)           # first thing in a helper process
    exit_with_creator()                    # a pool worker's initializer
    stop_on_signals([server.stop])         # in the run's main thread
    run_temp_dir()                         # before any worker process starts
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """End this process as soon as ``parent`` is no longer its parent (it died)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def exit_with_creator() -> None:
    """In a ``multiprocessing`` child: end it as soon as the process that started it dies.

    For a redaction worker, forked from the forkserver (its parent by the OS, so
    ``exit_with_parent`` cannot see the run). Why it is needed: a pool worker waits for its
    next chunk on a queue whose writing end it holds too, so it never sees the run go, and the
    forkserver waits for its workers; after a SIGKILLed run both stayed (~500 MB each). The
    child's ``parent_process().sentinel`` becomes ready when its creator's end of the start-up
    pipe closes, which the kernel does when that process dies."""
    import multiprocessing
    from multiprocessing.connection import wait

    creator = multiprocessing.parent_process()
    if creator is None:
        return

    def watch() -> None:
        wait([creator.sentinel])
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="exit-with-creator").start()


def stop_on_signals(cleanups: list[Callable[[], None]]) -> None:
    """SIGINT and SIGTERM: run ``cleanups`` (each at most once, errors ignored), print one
    line and exit with 128 + the signal's number, without unwinding the run's threads."""
    def stop(signum: int, _frame: object) -> None:
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        name = signal.Signals(signum).name
        sys.stderr.write(f"themeflow: stopped by {name}; this run saved nothing (earlier runs, "
                         "the pseudonym key and review decisions are as they were)\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def run_temp_dir(root: Path | None = None) -> Path:
    """A temporary folder for this process, ``themeflow-run-<pid>`` in the system's temporary
    folder (or ``root``), made the default for ``tempfile`` here and for child processes, and
    removed at exit; those of run processes that are gone (killed) are removed first. Short on
    purpose: multiprocessing puts Unix sockets in it, whose paths may not pass 107 bytes."""
    root = Path(root or tempfile.gettempdir())
    for old in root.glob("themeflow-run-*"):
        pid = old.name.removeprefix("themeflow-run-")
        try:
            mine = old.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and (not pid.isdigit() or not _alive(int(pid))):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"themeflow-run-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    atexit.register(shutil.rmtree, folder, True)
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
