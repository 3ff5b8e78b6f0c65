"""Fuzz the review server: random and malformed requests against a real uvicorn server on
127.0.0.1, over a study made from the test fakes. Prints one summary line; exits 1 on any 5xx,
on a dropped connection, or if the review store fails SQLite's integrity check.

    .venv/bin/python -m tests.faults.fuzz_review_api [--requests 2000] [--seed 7]

Bounded in count and time (``--seconds``); talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pipeline.review.app import create_app
from tests.conftest import LiveServer
from tests.fakes import E1, E2, make_run

PATHS = ["/api/decisions"] * 8 + ["/api/codings"] * 4 + [ "/api/export/csv", "/api/export/xlsx",
         "/api/export/nope", "/api/data", "/api/learner", "/api/agreement", "/exports/%00",
         "/exports/..%2F..%2Fkeys%2Fpseudonyms.json", "/", "/nope", "/api/decisions/%ff"]
FIELDS = ["action", "passage_id", "element", "reviewer", "label", "trim_start", "trim_end",
          "note", "elements"]
ACTIONS = ["accept", "reject", "relabel", "trim", "untrim", "note", "undo", "explode", ""]


def _value(rng: random.Random) -> object:
    pick = rng.randrange(14)
    return [None, True, 3.5, -1, 10**30, "", "ana", "sp01-01", E1, E2, "none",
            {"a": {"b": [1]}}, ["x", 1], "x" * rng.choice([10, 5000])][pick]


def _body(rng: random.Random) -> tuple[str | bytes, dict[str, str]]:
    """A request body and extra headers: mostly plausible decisions with one field broken,
    else raw junk."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200)), {}
    if kind == 1:
        depth = rng.choice([10, 2000, 50_000])
        return "[" * depth + "]" * depth, {}
    if kind == 2:
        return '{"note": "' + "y" * rng.choice([100, 300_000]) + '"}', {}
    body = {"action": rng.choice(ACTIONS), "passage_id": rng.choice(["sp01-01", "st02-01", "sp01-03", "x"]),
            "element": rng.choice([E1, E2, E1, "zzz"]),
            "reviewer": rng.choice(["ana", "ben", "ana", ""]),
            "trim_start": 0, "trim_end": rng.choice([5, 34, 9999]), "label": E2,
            "note": rng.choice(["", "ok", "=HYPERLINK(1)", "Mandy Brightwater"]),
            "elements": rng.choice([[E1], ["none"], [], "x"])}
    for _ in range(rng.choice([0, 0, 1, 2])):
        body[rng.choice(FIELDS)] = _value(rng)
    return json.dumps(body), {}


def fuzz(requests: int = 2000, seconds: float = 240.0, seed: int = 7) -> int:
    """Send the requests, print the summary; 0 when nothing failed."""
    rng = random.Random(seed)
    study = Path(tempfile.mkdtemp(prefix="themeflow-fuzz-")) / "study"
    make_run(study)
    server = LiveServer(create_app(study))
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    start = time.monotonic()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            html = client.get("/").text
            token = html.split('name="csrf-token" content="')[1].split('"')[0]
            for i in range(requests):
                if time.monotonic() - start > seconds:
                    break
                path = rng.choice(PATHS)
                body, extra = _body(rng)
                headers = {"Content-Type": rng.choice(["application/json"] * 4 + ["text/plain"]),
                           **extra}
                if rng.random() < 0.9:
                    headers["X-CSRF-Token"] = token
                if rng.random() < 0.1:
                    headers["Origin"] = rng.choice(["http://evil.example", "null",
                                                    "https://127.0.0.1"])
                method = rng.choice(["POST"] * 8 + ["GET", "PUT", "DELETE"])
                try:
                    r = client.request(method, path, content=body, headers=headers)
                    statuses[r.status_code] += 1
                    if r.status_code >= 500:
                        failures.append(f"#{i} {method} {path} -> {r.status_code}")
                except httpx.HTTPError as exc:
                    failures.append(f"#{i} {method} {path} -> {type(exc).__name__}")
    finally:
        server.stop()
    conn = sqlite3.connect(study / "review" / "decisions.sqlite")
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    stored = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    conn.close()
    sent = sum(statuses.values()) + len(failures)
    print(f"fuzz: {sent} requests in {time.monotonic() - start:.0f} s; statuses "
          + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items()))
          + f"; 5xx or dropped: {len(failures)}; decisions stored {stored}; "
          f"integrity_check {integrity}")
    for line in failures[:20]:
        print("  " + line)
    return 0 if not failures and integrity == "ok" else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    return fuzz(args.requests, args.seconds, args.seed)


if __name__ == "__main__":
    sys.exit(main())
