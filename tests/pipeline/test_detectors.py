"""The detector contract (pipeline/redact/detectors/): every configured name has a module, each
fingerprint follows what that detector reads and nothing else, and the Rampart model finds
names in lower case, in long texts as in short ones."""

from __future__ import annotations

import typing

import pytest

from pipeline.config import DETECTOR_NAMES, RedactConfig
from pipeline.redact.detectors import REGISTRY, Context, build
from pipeline.redact.detectors.rampart import Rampart
from pipeline.redact.vocabulary import Vocabulary


def test_every_configurable_detector_has_a_module() -> None:
    assert set(typing.get_args(DETECTOR_NAMES)) == set(REGISTRY)
    cfg = RedactConfig(detectors=list(REGISTRY))
    assert [d.name for d in build(cfg, Vocabulary(cfg), None)] == list(REGISTRY)


def test_an_unknown_detector_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="detectors"):
        RedactConfig(detectors=["spacy", "gliner"])


@pytest.mark.parametrize(("setting", "value", "changed"), [
    ("rampart_min_score", 0.7, {"rampart"}),
    ("patterns", "patterns.yaml", set()),
    ("presidio_min_score", 0.5, {"presidio"}),
    ("rare_word_zipf", 3.0, {"name_cues", "name_heuristics"}),
    ("lower_place_zipf", 5.0, {"name_heuristics"}),
    ("entity_types", ["PERSON"], {"spacy"}),
])
def test_a_fingerprint_follows_what_its_detector_reads(setting: str, value: object,
                                                       changed: set[str]) -> None:
    def prints(cfg: RedactConfig) -> dict[str, str]:
        return {d.name: d.fingerprint() for d in build(cfg, Vocabulary(cfg), None)}

    base = RedactConfig(detectors=list(REGISTRY))
    before, again = prints(base), prints(base)
    after = prints(base.model_copy(update={setting: value}))
    assert before == again
    assert {name for name in before if before[name] != after[name]} == changed


@pytest.fixture(scope="module")
def rampart() -> Rampart:
    cfg = RedactConfig()
    return Rampart(cfg, Vocabulary(cfg))


@pytest.mark.parametrize(("text", "found"), [
    ("so me and jayden went down to glasgow on the bus",
     [("jayden", "PERSON"), ("glasgow", "PLACE")]),
    ("My keyworker Shona Baird rings me most weeks.", [("Shona Baird", "PERSON")]),
    ("it was a good year for the group, honestly", []),
])
def test_rampart_finds_names_in_any_case(rampart: Rampart, text: str,
                                         found: list[tuple[str, str]]) -> None:
    spans = rampart.find([text], Context())[0]
    assert [(text[s.start:s.end], s.label) for s in spans] == found
    assert all(s.detector == "rampart" and s.rule for s in spans)


def test_rampart_reads_long_texts_in_windows(rampart: Rampart) -> None:
    """A name past the model's 512 word pieces is found, at the same place, as in a short text."""
    short = "so me and jayden went down to glasgow on the bus"
    filler = "and then we just sat there for a while talking about nothing much " * 60
    long = filler + short + " " + filler
    spans = rampart.find([short, long], Context())
    offset = len(filler)
    assert [(s.start + offset, s.end + offset, s.label) for s in spans[0]] == \
        [(s.start, s.end, s.label) for s in spans[1]]
