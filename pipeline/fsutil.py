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

import grp
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import ConfigError


def _current_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once, at import, before any thread could create a file


def restrict_permissions(root: Path, shared_group: str = "") -> None:
    """Who may read what themeflow creates from now on in this process. By default the owner
    only (umask 077: files 0600, folders 0700): the study holds interview data, and the review
    record and exports quote it. With ``shared_group`` (``[review] shared_group``), that group
    too (umask 007); the study folder is given to the group with the setgid bit, so files made
    later inherit it. Files already there keep their modes."""
    global _UMASK
    if not shared_group:
        _UMASK = 0o077
        os.umask(_UMASK)
        return
    try:
        gid = grp.getgrnam(shared_group).gr_gid
    except KeyError:
        raise ConfigError(f"review.shared_group {shared_group!r} is not a group on this "
                          "machine") from None
    _UMASK = 0o007
    os.umask(_UMASK)
    folders = [root, *(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
    try:
        for folder in folders:
            os.chown(folder, -1, gid)
            os.chmod(folder, (folder.stat().st_mode & 0o7777) | stat.S_ISGID | 0o070)
    except PermissionError as exc:
        raise ConfigError(f"cannot give {root} to group {shared_group!r} ({exc}); are you a "
                          "member of it?") from None


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
        # mkstemp makes every file 0600; a file is given the mode the process's umask says
        # (see ``restrict_permissions``), the key always 0600
        os.chmod(tmp, 0o600 if private else 0o666 & ~_UMASK)
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
