"""Fault injection: kill ``themeflow run`` with SIGKILL at random points over a copy of the
demo study and check, after each kill, what the next user would find. Prints one summary line;
exits 1 on any failed check.

    .venv/bin/python -m tests.faults.kill_runs [--kills 10] [--seed 3]

After each kill it asserts:
- no process of the run (its session) survives 5 s;
- the pseudonym key parses, is mode 0600 and lost no entry;
- the next, uninterrupted run removes every stale partial folder, and every complete run
  folder (the killed run's, if it had finished) has the tables of an uninterrupted run.
Every other kill first deletes the study's caches, so the cold path (embedding, topic fit) is
killed too. About 6-8 minutes on 2 cores: documented in docs/benchmarks.md, not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.run.folders import list_runs
from pipeline.run.reproduce import run_table_hashes

REPO = Path(__file__).resolve().parents[2]
THEMEFLOW = Path(sys.executable).parent / "themeflow"


def _env(study: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    return env


def _run(study: Path, stderr: Path) -> subprocess.Popen:
    with stderr.open("w") as err:
        return subprocess.Popen([str(THEMEFLOW), "run", str(study)], stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True, env=_env(study))


def _session(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,sid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()[1:] if line.split()[1] == str(pid)]


def _key(study: Path) -> tuple[int, set[str]]:
    path = study / "keys" / "pseudonyms.json"
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    return stat.S_IMODE(path.stat().st_mode), {e["identifier"] for e in entries}


def kill_runs(kills: int = 10, seed: int = 3) -> int:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="themeflow-faults-"))
    study = work / "study"
    shutil.copytree(REPO / "demo" / "study", study, ignore=shutil.ignore_patterns(
        "keys", "cache", "outputs", ".prefect", "review", "exports"))
    start = time.monotonic()
    first = _run(study, work / "baseline.log")
    if first.wait() != 0:
        print("kill_runs: the uninterrupted run failed; see", work / "baseline.log")
        return 1
    cold_s = time.monotonic() - start
    expected = run_table_hashes(list_runs(study / "outputs")[-1])
    _, key_before = _key(study)
    failures: list[str] = []
    points = []
    for i in range(kills):
        cold = i % 2 == 0
        if cold:
            shutil.rmtree(study / "cache", ignore_errors=True)
        at = rng.uniform(0.5, cold_s if cold else cold_s / 4)
        points.append(round(at, 1))
        proc = _run(study, work / f"kill-{i}.log")
        time.sleep(at)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(5)
        left = _session(proc.pid)
        if left:
            failures.append(f"kill {i} at {at:.1f} s: {len(left)} process(es) alive after 5 s")
            for line in left:
                os.kill(int(line.split()[0]), signal.SIGKILL)
        mode, key_now = _key(study)
        if mode != 0o600 or not key_before <= key_now:
            failures.append(f"kill {i}: key mode {mode:o} or entries lost")
        after = _run(study, work / f"after-{i}.log")
        if after.wait() != 0:
            failures.append(f"kill {i}: the next run failed (see {work}/after-{i}.log)")
            continue
        outputs = study / "outputs"
        stale = [p.name for p in outputs.glob(".partial-*")]
        if stale:
            failures.append(f"kill {i}: stale partial folders {stale}")
        differ = [r.name for r in list_runs(outputs) if run_table_hashes(r) != expected]
        if differ:
            failures.append(f"kill {i}: runs whose tables differ from an uninterrupted run: "
                            f"{differ}")
    print(f"kill_runs: {kills} SIGKILLs at {points} s (uninterrupted cold run {cold_s:.0f} s); "
          f"{len(list_runs(study / 'outputs'))} complete runs; failures {len(failures)}; "
          f"{time.monotonic() - start:.0f} s in all")
    for line in failures:
        print("  " + line)
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not failures else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    return kill_runs(args.kills, args.seed)


if __name__ == "__main__":
    sys.exit(main())
