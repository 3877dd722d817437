"""Atomic file writes that honour the umask (mode 0644 under umask 022, like ``open``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARK = ".tmp"


def current_umask() -> int:
    """This process's umask, read without changing it (Linux), else by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # other platforms: the only portable way to read it is to set it
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open`` would give a new file: 0o666 minus the umask."""
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = TEMP_MARK) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success give it the umask's mode and rename it into place.

    ``mkstemp`` creates files with mode 0600 whatever the umask; the chmod makes results readable to
    collaborators exactly as a plain ``open`` would. On error the temp file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(temp_name)
        os.chmod(temp_name, file_mode())
        os.replace(temp_name, path)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` (flushed to disk), then rename it into place."""
    with atomic_path(path) as temp, open(temp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
