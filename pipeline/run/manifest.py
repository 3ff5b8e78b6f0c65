"""The run's record: ``manifest.json`` (inputs' checksums, models' hashes, packages, seeds,
config, counts, stage timings, table hashes) and the counts-only summary published as a Prefect
artifact. Nothing here holds transcript text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.models import model_fingerprint
from pipeline.report import methods_paragraph
from pipeline.run.folders import StageClock, code_version, package_versions
from pipeline.study import Study


def build_manifest(study: Study, cfg: Config, run_id: str, blocks: list[str],
                   documents: pd.DataFrame, n_detected: int, tables: dict[str, pd.DataFrame],
                   n_embedded: int, framework_id: str, clock: StageClock) -> dict:
    docs = documents
    manifest = {
        "run_id": run_id, "study": study.root.name, "study_dir": str(study.root),
        "blocks": blocks, "framework": framework_id,
        "code_version": code_version(), "packages": package_versions(),
        "models": {"spacy": {"name": cfg.models.spacy,
                             "sha256": model_fingerprint(cfg.models.spacy, "spacy")},
                   "embedding": {"name": cfg.models.embedding,
                                 "sha256": model_fingerprint(cfg.models.embedding, "embedding")},
                   **({"rampart": {"name": "rampart",
                                   "sha256": model_fingerprint("rampart", "unpacked")}}
                      if "rampart" in cfg.redact.detectors else {})},
        "seeds": {"umap": cfg.topics.seed},
        "inputs": {f"{r.block}/{r.doc_id}": r.sha256 for r in docs.itertuples()},
        "config": json.loads(cfg.to_json()), "config_fingerprint": cfg.fingerprint(),
        "counts": {"documents": int((docs["status"] == "ok").sum()),
                   "quarantined": int((docs["status"] == "quarantined").sum()),
                   "turns": len(tables["turns"]), "passages": len(tables["passages"]),
                   "redactions": len(tables["redactions"]),
                   "topics": int((tables["topics"]["topic"] >= 0).sum()),
                   "embedded": n_embedded, "documents_detected": n_detected,
                   "candidates": len(tables["candidates"]),
                   "review_exemplars": int((tables["review_labels"]["polarity"] > 0).sum()),
                   "review_rejections": int((tables["review_labels"]["polarity"] < 0).sum()),
                   "indirect_flags": len(tables["indirect_flags"])},
        "stages": clock.stages,
    }
    manifest["methods"] = methods_paragraph(manifest)
    return manifest


def summary_markdown(manifest: dict, run_dir: Path | None = None) -> str:
    """The run's counts as a markdown table (the Prefect artifact), and where its report is."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in manifest["counts"].items())
    report = f"\nReport: `{run_dir / 'report.html'}`\n" if run_dir is not None else ""
    return (f"# themeflow run {manifest['run_id']}\n\n| count | value |\n|---|---|\n{rows}\n"
            + report)


def artifact_key(study_root: Path) -> str:
    """A Prefect artifact key of the study's own (lower-case letters, digits and dashes), so
    a team server keeps each study's latest summary apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", study_root.name.lower()).strip("-") or "study"
    return f"themeflow-{slug}"
