from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.privacy import scan_folder

KEY = [("Kayden", "PERSON", "[PERSON_1]"), ("07700 900461", "PHONE", "[PHONE_1]"),
       ("Area 5", "PLACE", "[PLACE_1]")]


def test_scan_finds_identifiers_in_tables_and_text(tmp_path: Path) -> None:
    pd.DataFrame({"text": ["all fine", "and KAYDEN said"]}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "report.html").write_text("<p>call 07700 900461</p>")
    (tmp_path / "clean.json").write_text('{"x": "[PERSON_1] is fine, Kaydenish"}')
    leaks = scan_folder(tmp_path, KEY, skip=lambda s: s.casefold() == "area 5")
    assert sorted((leak.path.name, leak.pseudonym) for leak in leaks) == [
        ("report.html", "[PHONE_1]"), ("t.parquet", "[PERSON_1]")]


def test_scan_skips_allowed_metadata(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Service User, Area 5, Year 4")
    assert scan_folder(tmp_path, KEY, skip=lambda s: s.casefold() == "area 5") == []
