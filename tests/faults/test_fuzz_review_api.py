"""The review API fuzz (issue 23) in the test run: 2,000 requests, no 5xx, store intact."""

from __future__ import annotations

from tests.faults.fuzz_review_api import fuzz


def test_two_thousand_malformed_requests_get_no_5xx() -> None:
    assert fuzz(requests=2000, seconds=120, seed=7) == 0
