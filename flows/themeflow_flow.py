"""The themeflow Prefect flow: one thin task per stage, sequencing only.

Parameters are paths and block names; tasks pass frames in memory (results are not persisted and
inputs are not hashed, so no transcript text reaches Prefect's database), log counts only, and the
flow publishes a markdown artifact of counts. The run folder is written under a hidden partial
name and renamed into place at the end, after the leak check passes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from pipeline import stages
from pipeline.config import Config, resolve_config
from pipeline.plots import render_figures
from pipeline.privacy import PrivacyContext
from pipeline.progress import progress
from pipeline.report import render_report
from pipeline.run.execution import execution_for
from pipeline.run.folders import RunFolder, StageClock, list_runs, new_run_id, study_lock
from pipeline.run.manifest import artifact_key, build_manifest, summary_markdown
from pipeline.run.model_process import ModelProcess
from pipeline.run.reproduce import run_table_hashes
from pipeline.run.workers import detect_chunk, encode_chunk
from pipeline.segment import keyword_texts, model_texts
from pipeline.study import Study
from pipeline.topics import fit_topics, resolve_frozen_base

TASK_OPTIONS = {"cache_policy": NONE, "persist_result": False, "log_prints": False}


@task(name="ingest", **TASK_OPTIONS)
def ingest_task(study: Study, cfg: Config, blocks: list[str] | None):  # noqa: ANN201
    return stages.ingest_stage(study, cfg, blocks)


class Sealed:
    """A task argument whose repr is opaque: if Prefect ever prints a chunk task's arguments (an
    error message, a log line), it prints this, never the transcript text inside."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:  # noqa: ANN001
        self.value = value

    def __repr__(self) -> str:
        return "<sealed transcript chunk>"


@task(name="detect-chunk", **TASK_OPTIONS)
def detect_chunk_task(study_root: str, config_json: str, chunk: Sealed):  # noqa: ANN201
    texts, names = chunk.value
    return detect_chunk(study_root, config_json, texts, names)


@task(name="embed-chunk", **TASK_OPTIONS)
def embed_chunk_task(config_json: str, chunk: Sealed):  # noqa: ANN201
    return encode_chunk(config_json, chunk.value)


def _submit_chunks(chunk_task, *fixed):  # noqa: ANN001,ANN002,ANN202
    """Runs chunks as tasks on the flow's task runner (the Dask cluster), results in order."""
    def run(payloads: list) -> list:
        futures = [chunk_task.submit(*fixed, Sealed(payload)) for payload in payloads]
        return [f.result() for f in futures]
    return run


def _on_dask(cfg: Config) -> bool:
    return cfg.runner.kind == "dask"


@task(name="redact", **TASK_OPTIONS)
def redact_task(study: Study, cfg: Config, ingested, local_pool) -> stages.Redacted:  # noqa: ANN001
    """Chunks go to the Dask cluster, or to ``local_pool`` (the run's workers). (A Dask run
    passes no pool: the chunk tasks carry this task's context, which must pickle.)"""
    docs, quarantined = ingested
    chunks = _submit_chunks(detect_chunk_task, str(study.root), cfg.to_json()) \
        if _on_dask(cfg) else local_pool
    return stages.redact_stage(study, cfg, docs, quarantined, chunks)


@task(name="segment", **TASK_OPTIONS)
def segment_task(turns: pd.DataFrame, cfg: Config, cache_dir: Path, split) -> pd.DataFrame:  # noqa: ANN001
    return stages.segment_stage(turns, cfg, cache_dir, split)


@task(name="embed", **TASK_OPTIONS)
def embed_task(study: Study, cfg: Config, texts: list[str], models: ModelProcess | None):  # noqa: ANN201
    chunks = _submit_chunks(embed_chunk_task, cfg.to_json()) if _on_dask(cfg) else None
    return stages.embed_stage(study, cfg, texts, chunks, models.encode if models else None)


@task(name="topics", **TASK_OPTIONS)
def topics_task(texts: list[str], vectors, passage_ids: list[str], cfg: Config,  # noqa: ANN001,ANN201
                study: Study, base: Path | None, clock: StageClock, models: ModelProcess | None,
                privacy: PrivacyContext):
    """The topic fit, timed as the "topics" stage: in the model process when ``models`` is
    given (its fit's CPU time and that process's memory then go in the record), else here."""
    with clock.stage("topics") as measured:
        tables = stages.topics_stage(texts, vectors, passage_ids, cfg, study.cache_dir, base,
                                     privacy.keyword_filter(),
                                     models.fit if models else fit_topics)
        measured.update(models.fit_usage if models else {})
    return tables


@task(name="map", **TASK_OPTIONS)
def map_task(study: Study, cfg: Config, vectors, passages, turns, labels, base,  # noqa: ANN001,ANN201
             models: ModelProcess | None):
    return stages.map_stage(study, cfg, vectors, passages, turns, labels, base,
                            models.encode if models else None)


@task(name="quotes", **TASK_OPTIONS)
def quotes_task(study, cfg, passages, documents, mapped, labels):  # noqa: ANN001,ANN201
    return stages.quotes_stage(study, cfg, passages, documents, mapped, labels)


def flow_for(cfg: Config):  # noqa: ANN201 - returns a Flow
    """The flow with the task runner ``[runner]`` asks for: as is (tasks run in the flow's
    process), or on a Dask cluster via prefect-dask (a scheduler address, or a local cluster
    started for the run)."""
    if not _on_dask(cfg):
        return themeflow_flow
    from prefect_dask import DaskTaskRunner

    if cfg.runner.address:
        runner = DaskTaskRunner(address=cfg.runner.address)
    else:
        runner = DaskTaskRunner(cluster_kwargs={
            "n_workers": cfg.runner.n_workers, "threads_per_worker": cfg.runner.threads_per_worker,
            "processes": True, "dashboard_address": None,
            # no memory limit means no spilling: chunks of raw text never reach a worker's disk
            "memory_limit": 0})
    return themeflow_flow.with_options(task_runner=runner)


def _run_name() -> str:
    """Flow runs are named by time. Prefect's default names are random word pairs, and its word
    list holds first names ("ruby-chameleon"): a run name must never look like an identifier
    in the Prefect database, which the leak tests search."""
    return "themeflow-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


@flow(name="themeflow", flow_run_name=_run_name, log_prints=False, validate_parameters=True)
def themeflow_flow(study_dir: str, blocks: list[str] | None = None, config_path: str | None = None,
                   output_dir: str | None = None, review_labels: str | None = None) -> str:
    """Run every stage over the study's blocks and return the finished run folder's path.
    ``review_labels`` names a saved ``review_labels.parquet`` to learn from instead of the
    study's review store (``themeflow reproduce`` uses the one the original run saved)."""
    logger = get_run_logger()
    study = Study(Path(study_dir).resolve())
    cfg = resolve_config(study.config_path, config_path)
    blocks = blocks or cfg.blocks or None
    clock = StageClock()
    run_id = new_run_id()
    with study_lock(study):
        return _run(study, cfg, blocks, run_id, clock, output_dir, review_labels, logger)


def _run(study: Study, cfg: Config, blocks: list[str] | None, run_id: str, clock: StageClock,
         output_dir: str | None, labels_path: str | None, logger) -> str:  # noqa: ANN001
    outputs = Path(output_dir).resolve() if output_dir else study.outputs_dir
    earlier = list_runs(outputs)
    previous = earlier[-1] if earlier else None
    # The run's processes (redaction workers, model process), started by the CLI while the
    # Prefect server booted, or now: they load their models while this process reads the
    # files. Taken with the configuration as given, before frozen mode records its base run.
    execution = execution_for(study, cfg, blocks)
    models = execution.models
    run: RunFolder | None = None
    try:
        cfg, frozen_base = resolve_frozen_base(cfg, outputs)
        run = RunFolder.create(outputs, run_id)
        with clock.stage("ingest"):
            ingested = ingest_task(study, cfg, blocks)
        with clock.stage("redact"):
            red = redact_task(study, cfg, quote(ingested),
                              quote(execution.detect_pool if execution.local else None))
        del ingested
        privacy = PrivacyContext.load(study, cfg)  # the key is complete from here on
        privacy.check_doc_ids(red.documents)
        logger.info("ingested %d documents, quarantined %d, %d redactions",
                    int((red.documents["status"] == "ok").sum()),
                    int((red.documents["status"] == "quarantined").sum()), len(red.redactions))
        with clock.stage("segment"):
            passages = segment_task(red.turns, cfg, study.cache_dir,
                                    quote(execution.sentence_spans if execution.local else None))
        execution.release_workers()
        with clock.stage("embed") as measured:
            vectors, n_embedded = embed_task(study, cfg, quote(model_texts(passages)),
                                             quote(models))
            measured.update(models.encode_usage() if models is not None else {})
        logger.info("%d passages, %d newly embedded", len(passages), n_embedded)
        # The fit runs in the model process, beside mapping, ranking and writing here.
        fit_apart = models is not None and \
            len(passages) >= cfg.runner.topic_process_min_passages
        topic_args = (quote(keyword_texts(passages)), vectors, quote(list(passages["passage_id"])),
                      cfg, study, frozen_base, quote(clock), quote(models if fit_apart else None),
                      privacy)
        fitting = topics_task.submit(*topic_args) if fit_apart else None
        fitted = topics_task(*topic_args) if not fit_apart else None
        with clock.stage("map"):
            labels = stages.review_labels_stage(study, cfg, labels_path, privacy, passages)
            mapped = map_task(study, cfg, vectors, passages, red.turns, labels, frozen_base,
                              quote(models))
            framework, theme_scores, passage_themes = (mapped.framework, mapped.theme_scores,
                                                       mapped.passage_themes)
        with clock.stage("quotes"):
            candidates = quotes_task(study, cfg, passages, red.documents, quote(mapped), labels)
            indirect, candidates = stages.indirect_stage(passages, candidates)
        passages = stages.attribution_stage(study, cfg, passages, red.documents)
        early = {"documents": red.documents, "turns": red.turns, "redactions": red.redactions,
                 "passages": passages, "theme_scores": theme_scores,
                 "passage_themes": passage_themes, "candidates": candidates,
                 "review_labels": labels, "indirect_flags": indirect}
        with clock.stage("write"):
            # What needs no topics is written, hashed and leak-checked while they are fitted;
            # the final leak check finds these files in its clean record and passes over them.
            mapped.inputs.save(run.partial)  # for the review server's learner
            early_hashes = _write_early(run, early, red.texts, study, cfg, privacy)
        if fitting is not None:
            with progress("topics: fitting BERTopic", None):
                fitted = fitting.result()
        execution.close()  # embedding and fitting are done (or were cached)
        topics, passage_topics = fitted
        late = {"topics": topics, "passage_topics": passage_topics,
                "topic_themes": stages.topic_themes_stage(topics, passage_topics, passage_themes,
                                                          cfg)}
        tables = {**early, **late}
        with clock.stage("report"):
            for name, frame in late.items():
                run.write_table(name, frame)
            manifest = build_manifest(study, cfg, run_id, blocks or study.blocks(), red.documents,
                                      red.n_detected, tables, n_embedded, framework.id, clock)
            manifest["previous_run"] = previous.name if previous else None
            manifest["frozen_base"] = frozen_base.name if frozen_base else None
            _write_report(run, cfg, tables, vectors, framework, manifest, study, previous)
        manifest["stages"] = clock.stages
        manifest["tables"] = run_table_hashes(run.partial, known=early_hashes)
        run.write_json("manifest.json", manifest)
        if cfg.redact.leak_check:
            with progress("leak check: scanning the run folder", None):
                run.write_json("leak_check.json", {
                    **privacy.check_run(run.partial, study.cache_dir / "leak_check"),
                    "review_and_exports": privacy.check_review_record(study)})
        final = run.finalise()
    except BaseException:
        execution.stop()  # a fit still running is not waited for
        if run is not None:
            run.abandon()
        raise
    create_markdown_artifact(key=artifact_key(study.root),
                             markdown=summary_markdown(manifest, final),
                             description=f"themeflow run counts for {study.root.name} (no "
                                         "transcript text)")
    logger.info("run folder %s", final)
    return str(final)


def _write_early(run: RunFolder, tables: dict[str, pd.DataFrame], texts: dict[str, str],
                 study: Study, cfg: Config, privacy: PrivacyContext) -> dict[str, str]:
    """The tables that need no topics and the redacted transcripts, written and leak-checked;
    returns their hashes for the manifest."""
    for name, frame in tables.items():
        run.write_table(name, frame)
    for doc_id, text in sorted(texts.items()):
        run.write_text(f"transcripts/{doc_id}.txt", text)
    hashes = run_table_hashes(run.partial)
    if cfg.redact.leak_check:
        privacy.check_run(run.partial, study.cache_dir / "leak_check")
    return hashes


def _write_report(run: RunFolder, cfg: Config, tables: dict[str, pd.DataFrame], vectors,  # noqa: ANN001
                  framework, manifest: dict, study: Study, previous: Path | None) -> None:  # noqa: ANN001
    """config.json, the figures and report.html."""
    config_json = cfg.to_json()
    run.write_text("config.json", config_json)
    figures = render_figures(tables, vectors, {e.id: e.label for e in framework.elements},
                             study.cache_dir)
    for name, png in figures.items():
        run.write_bytes(f"figures/{name}", png)
    render_report(run.partial / "report.html", run_id=manifest["run_id"], framework=framework,
                  blocks=manifest["blocks"], tables=tables, manifest=manifest,
                  config_json=config_json, figures=figures, previous=previous)
