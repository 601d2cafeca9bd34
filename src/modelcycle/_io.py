"""Atomic writes and file hashing, shared by every stage that writes files.

Nothing is half-written: a file or directory is built under a temporary sibling name and renamed
into place only when complete. The temporary name is ``.NAME.PID.XXXXXXXX.tmp`` (PID: the writing
process), so that what a killed process left behind is recognised, and removed, by the next write
of the same path; :func:`sigterm_interrupts` makes SIGTERM clean up the way Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from modelcycle.exceptions import ArtifactError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    check_output_path(path)
    if path.is_dir():
        raise ArtifactError(f"{path} is a directory; give the output a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temps(path)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, replace_if: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary directory that becomes ``path`` if the block succeeds.

    An existing ``path`` is replaced only when it is empty or holds the file ``replace_if``
    (for example a ``manifest.json`` that marks it as ours); any other directory is refused,
    so a typo in ``-o`` never deletes a user's files.
    """
    path = Path(path)
    check_output_path(path)
    if path.exists() and not _replaceable(path, replace_if):
        raise ArtifactError(
            f"{path} exists and is not a directory modelcycle wrote; choose another output path"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~_UMASK)
        yield tmp
        if path.exists():
            old = tmp.with_name(tmp.name + ".old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_output_path(path: str | Path) -> None:
    """Refuse an output under a file (``-o notes.txt/x.csv``), before anything is written."""
    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                raise ArtifactError(
                    f"cannot write {path}: {parent} is a file, not a directory; "
                    "choose another output path"
                )
            return


def _replaceable(path: Path, marker: str | None) -> bool:
    if not path.is_dir():
        return False
    return not any(path.iterdir()) or (marker is not None and (path / marker).is_file())


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def clear_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporary siblings that killed writes of ``path`` left behind; return them.

    Only names of the form ``.NAME.PID.XXXXXXXX.tmp`` (or that plus ``.plain`` or ``.old``, the
    helpers' own siblings) whose process no longer runs are removed: a write still in progress,
    in this or another process, and every other file are kept. Does nothing off POSIX.
    """
    path = Path(path)
    if os.name != "posix" or not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp(\.plain|\.old)?")
    removed = []
    for entry in path.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (when unsure: yes, so that nothing live is removed)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by :func:`sigterm_interrupts` the way Ctrl-C raises KeyboardInterrupt."""


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    Its default is to end the process at once, leaving temporary files behind; as an exception
    it runs the ``finally`` clauses that remove them, as Ctrl-C does. A second SIGTERM gets the
    previous handler (by default: the process ends at once). Off the main thread (where no
    handler can be set) it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    restore = signal.SIG_DFL if previous is None else previous

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, restore)
        raise Terminated

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, restore)


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
