"""The pseudonym key: its file stays private, look-alike spellings share a pseudonym."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.keys import PseudonymKey


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_key_readable_by_others_is_made_private_again(
        tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 23: a key restored with mode 0644 stayed 0644 silently."""
    key = PseudonymKey(tmp_path / "pseudonyms.json")
    key.assign("Fiona", "PERSON")
    key.save()
    assert os.stat(key.path).st_mode & 0o777 == 0o600
    os.chmod(key.path, mode)
    assert PseudonymKey.load(key.path).get("fiona") == key.get("Fiona")
    assert os.stat(key.path).st_mode & 0o777 == 0o600
    assert f"mode {mode:03o}" in caplog.text and "Fiona" not in caplog.text


def test_a_private_key_loads_without_a_warning(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    key = PseudonymKey(tmp_path / "pseudonyms.json")
    key.assign("Fiona", "PERSON")
    key.save()
    PseudonymKey.load(key.path)
    assert caplog.text == ""


@pytest.mark.parametrize("spelling, same", [
    ("Fi\u043ena", True),        # Cyrillic o
    ("\u0424iona", False),       # Cyrillic Ef is no look-alike of F
    ("FIONA", True),
    ("Fionа Mc", False),
])
def test_look_alike_spellings_share_the_pseudonym(tmp_path: Path, spelling: str,
                                                  same: bool) -> None:
    key = PseudonymKey(tmp_path / "pseudonyms.json")
    fiona = key.assign("Fiona", "PERSON")
    assert (key.assign(spelling, "PERSON") == fiona) is same
