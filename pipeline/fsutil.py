"""Writing files so that a reader never sees half of one: every file themeflow writes that it
or a user reads back (caches, the pseudonym key, exports, figures) goes through here.

The new content is written to a hidden temporary file in the same folder, then renamed onto the
target, which on one file system is atomic: a crash leaves the old file or the new one, and at
worst a stray hidden temporary. Run folders get the same guarantee one level up
(``pipeline.run.folders.RunFolder``).

Usage::

    atomic_write(cache / "plan.json", json.dumps(plan))
    with replacing(out / "quotes.xlsx") as tmp:      # for writers that want a path
        workbook.save(tmp)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, *, private: bool = False, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` with the same suffix (readers that go by type, such as
    the leak check, read it as its kind); renamed onto ``path`` if the block succeeds, removed
    if it raises. ``private``: readable by the owner only (the pseudonym key). ``durable``:
    flushed to disk before the rename, for what a user cannot rebuild."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: str | bytes, *, private: bool = False,
                 durable: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; see ``replacing``."""
    with replacing(path, private=private, durable=durable) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
    return path
