from __future__ import annotations

import pytest

from pipeline.textfold import fold, skeleton


@pytest.mark.parametrize("text, folded", [
    ("S\u0430rah", "Sarah"),
    ("Sa\u200brah", "Sarah"),
    ("Sa\u2060r\u200dah", "Sarah"),
    ("\uff33\uff41\uff52\uff41\uff48", "Sarah"),
    ("\u0421\u0410\u0420", "CAP"),
    ("Siobhán Ó Súilleabháin", "Siobhán Ó Súilleabháin"),
    ("plain ASCII stays", "plain ASCII stays"),
    ("Zoë’s", "Zoë’s"),
])
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_skeleton_keeps_offsets() -> None:
    text = "My son D\u0430vid and \u0406an"
    assert len(skeleton(text)) == len(text)
    assert skeleton(text) == "My son David and Ian"
