"""A run's helpers die with it, signals stop it in one line, its temporary folders go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.run.lifecycle import run_temp_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_helper_dies_when_its_run_is_killed(tmp_path: Path) -> None:
    """Issue 23: the temporary Prefect server outlived every SIGKILLed run (~215 MB)."""
    pid_file = tmp_path / "helper.pid"
    helper = ("import sys, time, os; from pipeline.run.lifecycle import exit_with_parent;"
              "exit_with_parent(int(sys.argv[1])); open(sys.argv[2], 'w').write(str(os.getpid()));"
              "time.sleep(60)")
    run = ("import subprocess, sys, os, time;"
           f"subprocess.Popen([sys.executable, '-c', {helper!r}, str(os.getpid()), sys.argv[1]]);"
           "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", run, str(pid_file)])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    helper_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _alive(helper_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper_pid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_in_one_line_after_its_cleanups(tmp_path: Path,
                                                               signum: int) -> None:
    """Issue 23: Ctrl-C took ~72 s and printed ~440 lines."""
    marker = tmp_path / "cleaned"
    code = ("import sys, time; from pathlib import Path;"
            "from pipeline.run.lifecycle import stop_on_signals;"
            "stop_on_signals([lambda: Path(sys.argv[1]).touch()]); print('ready', flush=True);"
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(marker)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 128 + signum and marker.exists()
    assert err.strip().splitlines() == [
        f"themeflow: stopped by {signal.Signals(signum).name}; this run saved nothing (earlier "
        "runs, the pseudonym key and review decisions are as they were)"]


def test_temporary_folders_of_gone_runs_are_removed(tmp_path: Path) -> None:
    import tempfile

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f"themeflow-run-{gone}" / "pymp-abc").mkdir(parents=True)
    (tmp_path / f"themeflow-run-{os.getppid()}").mkdir()   # a live process's folder is kept
    before, env = tempfile.tempdir, os.environ.get("TMPDIR")
    try:
        mine = run_temp_dir(tmp_path)
        assert tempfile.mkdtemp().startswith(str(mine))
    finally:
        tempfile.tempdir = before
        if env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = env
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"themeflow-run-{os.getppid()}", f"themeflow-run-{os.getpid()}"])


WORKERS_RUN = """
import sys, time
from pathlib import Path
from pipeline.config import Config
from pipeline.run.execution import Execution
from pipeline.study import Study

if __name__ == "__main__":
    run = Execution(Study(Path(sys.argv[1])),
                    Config.model_validate({"runner": {"model_process": False}}))
    run.start(background=False)
    for warming in run._warming:
        warming.result()
    print("ready", flush=True)
    time.sleep(120)
"""


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_the_redaction_workers_die_when_their_run_is_killed(demo_copy: Path,
                                                            tmp_path: Path) -> None:
    # Forked from the forkserver, a worker never saw its run go, and the forkserver waited for
    # its workers: after a SIGKILLed run both stayed.
    script = tmp_path / "workers_run.py"
    script.write_text(WORKERS_RUN)
    proc = subprocess.Popen([sys.executable, str(script), str(demo_copy)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert len(_session_members(proc.pid)) >= 4  # the run, forkserver, 2 workers (tracker)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while _session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session_members(proc.pid) == []
