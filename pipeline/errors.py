"""Every user-facing error, with a code and an actionable message.

Why one module: an analyst who hits an error should get the same wording from the CLI, the flow and
the tests, and a code (``TF1xx``) to search the README for. Raise these, never bare exceptions, at
the boundaries where user input is read.
"""

from __future__ import annotations

from pathlib import Path


class ThemeflowError(Exception):
    """Base class: ``code`` identifies the error; ``path`` names the file at fault, if any."""

    code = "TF000"

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"[{self.code}] {where}{message}")
        self.reason = message


class ConfigError(ThemeflowError):
    code = "TF100"


class StudyLayoutError(ThemeflowError):
    code = "TF101"


class ManifestError(ThemeflowError):
    """participants.csv (the study manifest) is malformed: missing columns, duplicate docs."""

    code = "TF102"


class IngestError(ThemeflowError):
    """A transcript could not be read or parsed; the file is quarantined, the run goes on."""

    code = "TF200"


class EmptyFileError(IngestError):
    code = "TF201"


class BinaryFileError(IngestError):
    code = "TF202"


class EncodingError(IngestError):
    code = "TF203"


class TooLargeError(IngestError):
    code = "TF204"


class NoSpeechError(IngestError):
    code = "TF205"


class DuplicateDocError(IngestError):
    code = "TF206"


class ProjectImportError(IngestError):
    """A REFI-QDA project (or one of its sources) cannot be read: the file at fault is named,
    and the project's other sources are still imported."""

    code = "TF207"


class ModelNotFoundError(ThemeflowError):
    code = "TF300"


class LeakError(ThemeflowError):
    """An identifier from the pseudonym key was found in a written file: the run is failed."""

    code = "TF400"


class RunLockedError(ThemeflowError):
    code = "TF500"


class PrefectDatabaseError(ThemeflowError):
    """The study's Prefect database cannot be read: rebuilding it loses only Prefect's own
    record of past runs (run folders and review decisions live elsewhere)."""

    code = "TF501"


class ReviewError(ThemeflowError):
    """The review page or store refused a decision or export (bad input, no run to review)."""

    code = "TF600"
    http_status = 400


class TooManyRefusalsError(ReviewError):
    """Too many notes or reviewer names were refused for naming a key identifier in a short
    time: the checks pause, so that guessing names against them is slow."""

    code = "TF601"
    http_status = 429
