"""Scale a study up for benchmarks: synthetic interviews assembled from real transcripts' turns.

Takes the turns of the source transcripts (the demo study and, when given, the alaska corpus),
and writes ``--interviews`` new transcripts over ``--blocks`` blocks, each a random sequence of
interviewer/respondent turn pairs until it reaches about ``--words`` words. Seeded, so the same
arguments give the same corpus. Paper scale: 220 interviews x 9,000 words = ~2M words.
``--recombine`` builds each answer from sentences of random answers, so passages are distinct
(without it, turns repeat and the embedding cache makes a cold run look cheaper than it is).

    python tests/benchmarks/make_corpus.py OUT --interviews 220 --words 9000 --recombine \\
        --source demo/study/transcripts --source ../shared/eval/alaska-water-interviews/transcripts
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

LABEL = re.compile(r"^(?:\[[\d:]+\]\s*)?([A-Za-z][\w .&/'-]{0,60}?)\s*:\s*(.*)$")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
INTERVIEWER = re.compile(r"^(interviewer|i|q|int)\b", re.IGNORECASE)


def read_pairs(sources: list[Path]) -> list[tuple[str, str]]:
    pairs, prompt = [], None
    for src in sources:
        for path in sorted(src.rglob("*.txt")):
            for block in path.read_text(encoding="utf-8", errors="ignore").split("\n\n"):
                m = LABEL.match(block.strip().replace("\n", " "))
                if not m:
                    continue
                if INTERVIEWER.match(m.group(1)):
                    prompt = m.group(2)
                elif prompt is not None and len(m.group(2).split()) >= 5:
                    pairs.append((prompt, m.group(2)))
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--interviews", type=int, default=220)
    ap.add_argument("--words", type=int, default=9000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--source", type=Path, action="append", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--recombine", action="store_true",
                    help="build each answer from sentences of random answers (distinct passages)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pairs = read_pairs(args.source)
    sentences = sorted({x.strip() for _, a in pairs for x in SENTENCE.split(a)
                        if len(x.split()) >= 3})
    (args.out / "transcripts").mkdir(parents=True, exist_ok=True)
    rows = ["doc,participant,role,area"]
    total = 0
    for i in range(args.interviews):
        block = f"block{1 + i * args.blocks // args.interviews}"
        folder = args.out / "transcripts" / block
        folder.mkdir(exist_ok=True)
        turns, words = [], 0
        while words < args.words:
            prompt, answer = rng.choice(pairs)
            if args.recombine:
                # A new answer of as many sentences, drawn from all answers: passages are then
                # (almost) all distinct, as in real fieldwork, so no cache saves model work that
                # the raw measurement has to do.
                n = max(1, len(SENTENCE.split(answer)))
                answer = " ".join(rng.choice(sentences) for _ in range(n))
            turns += [f"Interviewer: {prompt}", f"Respondent: {answer}"]
            words += len(prompt.split()) + len(answer.split())
        doc = f"int-{i + 1:04d}"
        (folder / f"{doc}.txt").write_text("\n\n".join(turns) + "\n", encoding="utf-8")
        role = "Service User" if i % 2 else "Keyworker"
        rows.append(f"{doc},P{i + 1:04d},{role},{1 + i % 5}")
        total += words
    (args.out / "participants.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{args.interviews} interviews, {total} words in {args.out}")


if __name__ == "__main__":
    main()
