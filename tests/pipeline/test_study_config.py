from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError, ManifestError, StudyLayoutError
from pipeline.study import Study, init_study, load_participants


def test_init_scaffolds_and_never_overwrites(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")
    for rel in ("themeflow.toml", "participants.csv", "transcripts", "lexicons/deny.txt",
                "lexicons/allow.txt", "keys"):
        assert (study.root / rel).exists(), rel
    study.participants_path.write_text("doc,participant,role,area\np1,P1,Keyworker,2\n")
    init_study(study.root)
    assert "p1,P1" in study.participants_path.read_text()
    assert load_config(study.config_path).map.framework == "collaborative_innovation"


def test_blocks_and_files_in_order(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")
    for block, name in (("2015", "b.txt"), ("2014", "z.txt"), ("2014", "a.docx")):
        (study.transcripts_dir / block).mkdir(exist_ok=True)
        (study.transcripts_dir / block / name).write_text("x")
    assert study.blocks() == ["2014", "2015"]
    assert [(b, p.name) for b, p in study.transcript_files()] == [
        ("2014", "a.docx"), ("2014", "z.txt"), ("2015", "b.txt")]
    with pytest.raises(StudyLayoutError, match="2099"):
        study.transcript_files(["2099"])


@pytest.mark.parametrize("csv_text, message", [
    ("doc,participant,role\np1,P1,SU\n", "missing column"),
    ("doc,participant,role,area\np1,P1,SU,1\np1,P2,SU,2\n", "duplicate doc id"),
    ("doc,participant,role,area\n,P1,SU,1\n", "empty doc id"),
])
def test_malformed_participants_named(tmp_path: Path, csv_text: str, message: str) -> None:
    path = tmp_path / "participants.csv"
    path.write_text(csv_text)
    with pytest.raises(ManifestError, match=message) as info:
        load_participants(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("toml_text, message", [
    ("[quotes]\nper_elemnt = 3\n", "per_elemnt"),
    ("[segment]\nwindow_sentences = 0\n", "window_sentences"),
    ("this is = = not toml", "TOML"),
])
def test_bad_config_is_an_error_naming_the_key(tmp_path: Path, toml_text: str,
                                               message: str) -> None:
    path = tmp_path / "themeflow.toml"
    path.write_text(toml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_later_config_files_win(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[quotes]\nper_element = 5\nmin_words = 10\n")
    b.write_text("[quotes]\nper_element = 7\n")
    cfg = load_config(a, b)
    assert (cfg.quotes.per_element, cfg.quotes.min_words) == (7, 10)


def test_missing_study_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StudyLayoutError, match="does not exist"):
        Study(tmp_path / "nope").validate()
