"""The study folder: where transcripts, participants, keys, caches and runs live.

Layout (``themeflow init`` creates it)::

    study/
      themeflow.toml            configuration (see pipeline.config)
      participants.csv          doc, participant, role, area   (doc = transcript file stem)
      transcripts/<block>/      one folder per fieldwork block, *.txt or *.docx
      lexicons/                 optional study deny/allow lists (deny.txt, allow.txt)
      keys/pseudonyms.json      identifier -> pseudonym; private, never inside outputs/
      cache/                    content-addressed detections and embeddings (redacted/derived only)
      outputs/<run-id>/         run folders
      review/decisions.sqlite   analysts' review decisions (append-only)
      exports/                  accepted quotes as xlsx, csv, docx and a REFI-QDA project

Usage::

    study = Study(Path("my-study"))
    study.blocks()  # ['2014', '2015']
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.errors import ManifestError, StudyLayoutError

if TYPE_CHECKING:  # the config does not need the study, nor the study the config at run time
    from pipeline.config import Config

PARTICIPANT_COLUMNS = ("doc", "participant", "role", "area")

_TOML_TEMPLATE = """# themeflow study configuration. Every key is optional; see README "Configuration".

[map]
framework = "collaborative_innovation"   # a file in lexicons/frameworks/ or a path to a codebook

[segment]
window_sentences = 3

[quotes]
per_element = 10
min_words = 15
max_words = 120
"""


@dataclass(frozen=True)
class Study:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "themeflow.toml"

    @property
    def transcripts_dir(self) -> Path:
        return self.root / "transcripts"

    @property
    def participants_path(self) -> Path:
        return self.root / "participants.csv"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    @property
    def review_path(self) -> Path:
        """The analysts' decisions (SQLite); never inside outputs/, never deleted by themeflow."""
        return self.root / "review" / "decisions.sqlite"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def key_path(self, cfg: Config) -> Path:
        """The pseudonym key (``redact.key_file``): private, outside outputs/, only extended."""
        return self.root / cfg.redact.key_file

    def metadata(self, doc_ids: list[str]) -> pd.DataFrame:
        """participant, role and area per document, from participants.csv; documents it does not
        list are their own participant, in an unknown area."""
        people = load_participants(self.participants_path).set_index("doc")
        rows = []
        for doc_id in doc_ids:
            if doc_id in people.index:
                p = people.loc[doc_id]
                rows.append((doc_id, p["participant"] or doc_id, p["role"] or "Participant",
                             p["area"] or "Area unknown"))
            else:
                rows.append((doc_id, doc_id, "Participant", "Area unknown"))
        return pd.DataFrame(rows, columns=["doc_id", "participant", "role", "area"])

    def published_words(self) -> list[str]:
        """Role and area values the team publishes in attributions (participants.csv): never
        treated as identifiers, even where one coincides with an entry in the key."""
        people = load_participants(self.participants_path)
        return sorted(set(people["role"]) | set(people["area"]))

    def validate(self) -> None:
        if not self.root.is_dir():
            raise StudyLayoutError("study folder does not exist", self.root)
        if not self.transcripts_dir.is_dir():
            raise StudyLayoutError(
                "no transcripts/ folder: put each fieldwork block in transcripts/<block>/ "
                "(themeflow init creates the layout)",
                self.root,
            )

    def blocks(self) -> list[str]:
        """Block folder names, in study order (sorted by name: 2014 < 2015, year1 < year2)."""
        return sorted(p.name for p in self.transcripts_dir.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def transcript_files(self, blocks: list[str] | None = None) -> list[tuple[str, Path]]:
        """(block, path) for every transcript in the chosen blocks, in a stable order."""
        wanted = self.blocks() if not blocks else blocks
        missing = sorted(set(wanted) - set(self.blocks()))
        if missing:
            raise StudyLayoutError(f"no such block folder(s): {', '.join(missing)}",
                                   self.transcripts_dir)
        files = []
        for block in wanted:
            for path in sorted((self.transcripts_dir / block).iterdir()):
                if path.is_file() and not path.name.startswith((".", "~$")):
                    files.append((block, path))
        return files


def init_study(root: Path) -> Study:
    """Scaffold an empty study folder; never overwrites an existing file."""
    study = Study(root)
    (root / "transcripts").mkdir(parents=True, exist_ok=True)
    for sub in ("lexicons", "keys"):
        (root / sub).mkdir(exist_ok=True)
    if not study.config_path.exists():
        study.config_path.write_text(_TOML_TEMPLATE, encoding="utf-8")
    if not study.participants_path.exists():
        study.participants_path.write_text(",".join(PARTICIPANT_COLUMNS) + "\n", encoding="utf-8")
    for name, text in (("deny.txt", "# one identifier per line that must always be redacted\n"),
                       ("allow.txt", "# one word per line that must never be redacted\n")):
        path = root / "lexicons" / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("keys/\ncache/\noutputs/\n", encoding="utf-8")
    return study


def load_participants(path: Path) -> pd.DataFrame:
    """Read participants.csv; a missing file means no metadata (empty frame), not an error."""
    columns = list(PARTICIPANT_COLUMNS)
    if not path.exists():
        return pd.DataFrame(columns=columns)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot be read as CSV: {exc}", path) from exc
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ManifestError(f"missing column(s) {', '.join(missing)}; expected {', '.join(columns)}",
                            path)
    frame = frame[columns].apply(lambda col: col.str.strip())
    dupes = sorted(frame.loc[frame["doc"].duplicated(), "doc"].unique())
    if dupes:
        raise ManifestError(f"duplicate doc id(s): {', '.join(dupes)}", path)
    if (frame["doc"] == "").any():
        raise ManifestError("a row has an empty doc id", path)
    return frame.reset_index(drop=True)
