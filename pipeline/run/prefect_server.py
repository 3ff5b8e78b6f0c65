"""The temporary Prefect API server for a run without PREFECT_API_URL, started early and fast.

Why: Prefect starts a temporary server (uvicorn over ``prefect.server.api.server:create_app``, as
its ``SubprocessASGIServer`` does) on a flow's first API call. It takes ~9 s to boot, and ~26 s
on a new study, whose fresh Prefect database must first be built by running every migration.
So themeflow:

- launches it before Prefect is even imported, so it boots while this process imports Prefect,
  pandas and the pipeline (~5 s) instead of after;
- gives a study's new Prefect home a copy of an already migrated, empty database, kept per
  Prefect version in the user's cache. The template is snapshotted the first time a fresh
  database comes up healthy, before any flow has written to it, so it holds no study's runs;
- skips the migration check and block registration (~2 s of each start) when a marker beside
  the database says this Prefect version already did both on it. The marker names the version,
  so an upgraded Prefect migrates the study's database once, as it would anyway.

It starts the server as Prefect's ``SubprocessASGIServer`` does, with the same app factory and
the same private settings (``PREFECT__SERVER_EPHEMERAL``, ``PREFECT__SERVER_FINAL``). If a
Prefect release moves them and the server does not come up, ``wait`` says so and unsets
``PREFECT_API_URL``: Prefect then starts its own temporary server, as it would without
themeflow (slower to start, the same run).

No Prefect import here: this module runs before Prefect loads.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipeline.errors import PrefectDatabaseError
from pipeline.fsutil import replacing


def wait_healthy(api_url: str, process: subprocess.Popen, timeout: float) -> None:
    """Until ``{api_url}/health`` answers 200; raises if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"the Prefect server at {api_url} did not become healthy in {timeout} s")


def template_path() -> Path:
    """Where the migrated, empty database for this Prefect version is kept."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    version = importlib.metadata.version("prefect")
    return cache / "themeflow" / f"prefect-{version}" / "prefect.db"


def ready_marker(db: Path) -> Path:
    """Beside a database: the Prefect version that last migrated it and registered its blocks."""
    return db.with_name(db.name + ".ready")


def is_ready(db: Path) -> bool:
    marker = ready_marker(db)
    try:
        return db.exists() and marker.read_text().strip() == importlib.metadata.version("prefect")
    except OSError:
        return False


def mark_ready(db: Path) -> None:
    try:
        ready_marker(db).write_text(importlib.metadata.version("prefect"))
    except OSError:
        pass  # only a speed-up


def check_database(db: Path) -> None:
    """Raise ``PrefectDatabaseError`` with the way out when the study's Prefect database is
    damaged (a disk fault, a copy cut short); Prefect's own error is a 284-line traceback."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        result = str(exc)
    if result != "ok":
        first = [line for line in str(result).splitlines() if "***" not in line][:1]
        raise PrefectDatabaseError(
            f"Prefect's database is damaged ({first[0] if first else result}); delete {db.parent} to rebuild it (it "
            "holds Prefect's record of past runs only: run folders, the key and review "
            "decisions are not there)", db)


APP_FACTORY = "prefect.server.api.server:create_app"


class TemporaryServer:
    """Launch now (returns at once) and point ``PREFECT_API_URL`` at it; ``wait()`` before the
    flow runs; stopped at exit."""

    def __init__(self, home: Path, app_factory: str = APP_FACTORY) -> None:
        self.db = home / "prefect.db"
        self.fresh = not self.db.exists()
        if not self.fresh:
            check_database(self.db)
        if self.fresh:
            ready_marker(self.db).unlink(missing_ok=True)  # left from a deleted database
            self._copy_template()
        self.ready = is_ready(self.db)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        spec = importlib.util.find_spec("prefect")
        app_dir = str(Path(list(spec.submodule_search_locations)[0]).parent)
        env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "0",
               "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        if self.ready:
            env |= {"PREFECT_API_DATABASE_MIGRATE_ON_START": "false",
                    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false"}
        # Through this module's ``__main__``: the server ends when this process dies, even by
        # SIGKILL (``lifecycle.exit_with_parent``); uvicorn alone outlived every killed run.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.run.prefect_server", str(os.getpid()),
             "--app-dir", app_dir, "--factory", app_factory, "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"], env=env)
        self.api_url = f"http://127.0.0.1:{port}/api"
        os.environ["PREFECT_API_URL"] = self.api_url
        atexit.register(self.stop)

    def _copy_template(self) -> None:
        try:
            template = template_path()
            if template.exists():
                # beside it, then renamed: a run killed mid-copy leaves no half database
                with replacing(self.db) as tmp:
                    shutil.copyfile(template, tmp)
                if is_ready(template):
                    mark_ready(self.db)
        except OSError:
            pass  # no template: Prefect builds the database itself

    def _save_template(self) -> None:
        """The freshly migrated database, before any flow ran, becomes the template."""
        try:
            template = template_path()
            if template.exists() or not self.db.exists():
                return
            with replacing(template) as tmp, sqlite3.connect(self.db) as src, \
                    sqlite3.connect(tmp) as dst:
                src.backup(dst)
            mark_ready(template)
        except (OSError, sqlite3.Error):
            pass  # only a speed-up

    def wait(self, timeout: float) -> str:
        """Until the server answers: "" once it does. If it exits or never answers, the reason,
        with the server stopped and ``PREFECT_API_URL`` unset, so that Prefect starts its own.
        A damaged database raises ``PrefectDatabaseError`` (Prefect's own server would fail on
        it too)."""
        try:
            wait_healthy(self.api_url, self.process, timeout)
        except (RuntimeError, TimeoutError) as exc:
            check_database(self.db)
            self.stop()
            if os.environ.get("PREFECT_API_URL") == self.api_url:
                del os.environ["PREFECT_API_URL"]
            return str(exc)
        if self.fresh:
            self._save_template()
        if not self.ready:
            mark_ready(self.db)  # healthy: migrated and blocks registered by this version
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:  # the run is over; a server slow to shut down is not waited for long
                self.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":  # the server process: uvicorn, watched (see TemporaryServer)
    from pipeline.run.lifecycle import exit_with_parent

    exit_with_parent(int(sys.argv[1]))
    import uvicorn.main

    sys.argv = ["uvicorn", *sys.argv[2:]]
    uvicorn.main.main()
