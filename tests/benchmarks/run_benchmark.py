"""Benchmark: themeflow against the raw model work it cannot avoid, on one corpus, in one go.

(a) raw: the same spaCy pipeline (NER only, as themeflow uses it) over every turn with
    ``nlp.pipe`` (as many processes as themeflow uses), the Rampart classifier over every turn
    when it is configured, ``SentenceTransformer.encode`` over every passage, BERTopic fit on
    those vectors;
(b) a cold themeflow run (empty caches and key); (c) a warm rerun, nothing changed;
(d) an incremental run: the study without its last block first, then with it.
Each themeflow run is its own process (``themeflow run``), so peak memory is per run. Prints a
markdown table and writes JSON.

    python tests/benchmarks/run_benchmark.py STUDY --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run_themeflow(study: Path, blocks: list[str] | None = None) -> dict:
    """One ``themeflow run`` process; wall and CPU time, its own peak RSS (``os.wait4`` gives
    the rusage of that child alone, unlike RUSAGE_CHILDREN, whose maximum spans every run; it is
    the largest single process of the run), and the peak memory of the whole process tree
    (sampled every 0.5 s: the run, its Prefect server, redaction workers, topic-fit process)."""
    cmd = [str(BIN / "themeflow"), "run", str(study)] + sum((["-b", b] for b in blocks or []), [])
    start = time.perf_counter()
    tree_peak = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree_peak = max(tree_peak, tree_rss(proc.pid))
            time.sleep(0.5)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"themeflow run failed ({proc.returncode}):\n{stderr[-3000:]}")
    run_dir = Path(stdout.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 0),
            "peak_tree_rss_mb": round(tree_peak / 2**20, 0), "stages": manifest["stages"],
            "outside_stages_s": round(wall - time_in_stages(manifest["stages"]), 1),
            "counts": manifest["counts"], "run_dir": str(run_dir)}


def tree_rss(pid: int) -> int:
    """Bytes resident in a process and all its descendants now (0 once it has gone): their
    proportional set sizes, so pages forked workers share with the run count once."""
    import psutil  # installed with dask.distributed (prefect-dask)

    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def time_in_stages(stages: dict[str, dict[str, float]]) -> float:
    """Seconds during which some stage ran: the union of the stages' intervals (the topic fit
    overlaps mapping, so wall times alone would count that stretch twice)."""
    spans = sorted((v.get("start_s", 0.0), v.get("start_s", 0.0) + v["wall_s"])
                   for v in stages.values())
    if any("start_s" not in v for v in stages.values()):
        return sum(v["wall_s"] for v in stages.values())
    total, end = 0.0, float("-inf")
    for a, b in spans:
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


def raw_models(study: Path, run_dir: Path) -> dict:
    """The models' own work, with themeflow's settings, on the same turns and passages."""
    import pandas as pd

    from pipeline.build import spacy_processes
    from pipeline.config import Config, load_config
    from pipeline.ingest import ingest_files
    from pipeline.models import load_embedder, load_spacy
    from pipeline.segment import keyword_texts, model_texts
    from pipeline.study import Study
    from pipeline.topics import fit_topics

    cfg = load_config(study / "themeflow.toml") if (study / "themeflow.toml").exists() else Config()
    docs, _ = ingest_files(Study(study).transcript_files(), cfg.ingest)
    turns = [t.text for d in docs for t in d.turns]
    passages = pd.read_parquet(run_dir / "passages.parquet")
    out = {}
    t0, c0 = time.perf_counter(), time.process_time()
    nlp = load_spacy(cfg.models.spacy)
    for _ in nlp.pipe(turns, batch_size=64, n_process=spacy_processes(cfg)):
        pass
    out["spacy_ner"] = (time.perf_counter() - t0, time.process_time() - c0)
    if "rampart" in cfg.redact.detectors:
        from pipeline.redact.detectors import Context
        from pipeline.redact.detectors.rampart import Rampart
        from pipeline.redact.vocabulary import Vocabulary

        t0, c0 = time.perf_counter(), time.process_time()
        Rampart(cfg.redact, Vocabulary(cfg.redact)).find(turns, Context())
        out["rampart"] = (time.perf_counter() - t0, time.process_time() - c0)
    t0, c0 = time.perf_counter(), time.process_time()
    model = load_embedder(cfg.models.embedding, cfg.models.device, cfg.models.torch_threads)
    vectors = model.encode(model_texts(passages), batch_size=cfg.models.embedding_batch_size,
                           normalize_embeddings=True, show_progress_bar=False)
    out["minilm_encode"] = (time.perf_counter() - t0, time.process_time() - c0)
    t0, c0 = time.perf_counter(), time.process_time()
    fit_topics(keyword_texts(passages), vectors, cfg.topics)
    out["bertopic_fit"] = (time.perf_counter() - t0, time.process_time() - c0)
    result = {k: {"wall_s": round(w, 1), "cpu_s": round(c, 1)} for k, (w, c) in out.items()}
    result["total"] = {"wall_s": round(sum(w for w, _ in out.values()), 1),
                       "cpu_s": round(sum(c for _, c in out.values()), 1),
                       "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    return result


def fresh_copy(study: Path, dest: Path, drop_last_block: bool = False) -> tuple[Path, str | None]:
    shutil.copytree(study, dest, ignore=shutil.ignore_patterns("keys", "cache", "outputs",
                                                               ".prefect", ".themeflow.lock"))
    blocks = sorted(p.name for p in (dest / "transcripts").iterdir() if p.is_dir())
    last = None
    if drop_last_block:
        last = blocks[-1]
        shutil.move(str(dest / "transcripts" / last), str(dest / f"held-{last}"))
    return dest, last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("study", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-incremental", action="store_true",
                    help="measure (a), (b), (c) only (paper scale: the incremental pair doubles "
                         "the time)")
    ap.add_argument("--skip-raw", action="store_true",
                    help="skip (a), the raw model work (at paper scale it takes ~12 min and does "
                         "not change with themeflow's code); cold_over_raw is then not reported")
    args = ap.parse_args()
    words = sum(len(p.read_text(errors="ignore").split())
                for p in (args.study / "transcripts").rglob("*.txt"))
    with tempfile.TemporaryDirectory() as tmp:
        cold_study, _ = fresh_copy(args.study, Path(tmp) / "cold")
        cold = run_themeflow(cold_study)
        warm = run_themeflow(cold_study)
        base = incremental = None
        if not args.skip_incremental:
            inc_study, last = fresh_copy(args.study, Path(tmp) / "inc", drop_last_block=True)
            base = run_themeflow(inc_study)
            shutil.move(str(inc_study / f"held-{last}"), str(inc_study / "transcripts" / last))
            incremental = run_themeflow(inc_study)
        raw = None if args.skip_raw else raw_models(cold_study, Path(cold["run_dir"]))
    ratios = {"cold_over_raw": round(cold["wall_s"] / raw["total"]["wall_s"], 2)} if raw else {}
    ratios["warm_over_cold"] = round(warm["wall_s"] / cold["wall_s"], 3)
    if incremental:
        ratios["incremental_over_cold"] = round(incremental["wall_s"] / cold["wall_s"], 3)
        # the target: the new block's share of the cold run, plus the topic fit
        share = 1 - base["counts"]["passages"] / incremental["counts"]["passages"]
        # The fit runs beside other stages at low priority, so its wall time can include
        # waiting for them; its CPU time (it is single-threaded) cannot. The smaller counts.
        fit = incremental["stages"]["topics"]
        ratios["incremental_allowance"] = round(
            share + min(fit["wall_s"], fit["cpu_s"]) / cold["wall_s"], 3)
    result = {"corpus": str(args.study), "words": words, "raw": raw, "cold": cold, "warm": warm,
              "incremental_base": base, "incremental": incremental, "ratios": ratios}
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def markdown(r: dict) -> str:
    lines = [f"Corpus {r['corpus']}: {r['words']:,} words, {r['cold']['counts']['turns']:,} turns, "
             f"{r['cold']['counts']['passages']:,} passages", "",
             "| measurement | wall s | CPU s | peak RSS MB (largest process) "
             "| peak PSS MB (all processes) |", "|---|---|---|---|---|"]
    for name in [k for k in r["raw"] if k != "total"] if r["raw"] else ():
        raw = r["raw"][name]
        lines.append(f"| (a) raw {name} | {raw['wall_s']} | {raw['cpu_s']} | | |")
    if r["raw"]:
        t = r["raw"]["total"]
        lines.append(f"| (a) raw total | {t['wall_s']} | {t['cpu_s']} | {t['peak_rss_mb']} | |")
    runs = [k for k in ("cold", "warm", "incremental") if r.get(k)]
    labels = {"cold": "(b) cold run", "warm": "(c) warm rerun",
              "incremental": "(d) incremental (last block added)"}
    for key in runs:
        m = r[key]
        lines.append(f"| {labels[key]} | {m['wall_s']} | {m['cpu_s']} | {m['peak_rss_mb']} "
                     f"| {m.get('peak_tree_rss_mb')} |")
    lines += ["", "| stage | " + " | ".join(f"{k} wall s" for k in runs) + " |",
              "|---|" + "---|" * len(runs)]
    for stage in r["cold"]["stages"]:
        lines.append(f"| {stage} | " + " | ".join(str(r[k]["stages"].get(stage, {}).get("wall_s"))
                                                  for k in runs) + " |")
    lines.append("| outside stages (start-up, Prefect, leak check, writing; overlaps counted "
                 "once) | " + " | ".join(str(r[k].get("outside_stages_s")) for k in runs) + " |")
    lines += ["", ", ".join(f"{k} = {v}" for k, v in r["ratios"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
