"""Exclusive locks on output directories: one writer at a time, and a clear line for the second.

A writer holds an ``flock`` on ``<dir>/.emovec.lock`` (or ``<file>.lock`` beside an output file) for its whole
run; the file holds the writer's pid and command. The kernel drops the lock when its process dies, so a lock
left by a killed run is taken over with a note naming the dead pid. POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from emovec.errors import EmovecError
from emovec.progress import stderr_console

LOCK_NAME = ".emovec.lock"


def lock_path(target: Path) -> Path:
    """Where the lock of ``target`` lives: inside it when it is (or will be) a directory, beside it otherwise."""
    return target / LOCK_NAME if target.is_dir() or not target.suffix else target.with_name(target.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(text: str) -> tuple[int | None, str]:
    first, _, command = text.partition("\n")
    try:
        return int(first.strip()), command.strip()
    except ValueError:
        return None, ""


_HELD: dict[Path, int] = {}  # locks this process holds, with their nesting depth


@contextlib.contextmanager
def exclusive_lock(target: str | Path) -> Iterator[Path]:
    """Hold the lock of ``target`` (created as a directory unless it has a file suffix) while the block runs.

    Re-entrant within one process: a command that locks its output for the whole run can call writers that
    lock the same output again.
    """
    target = Path(target)
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = path.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield path
        finally:
            _HELD[key] -= 1
        return
    with _locked(target, path, key):
        yield path


@contextlib.contextmanager
def _locked(target: Path, path: Path, key: Path) -> Iterator[None]:
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, command = _holder(os.pread(handle, 4096, 0).decode(errors="replace"))
            who = f"pid {pid}" + (f": {command}" if command else "") if pid else "another process"
            raise EmovecError(f"{target}: in use by another emovec run ({who}); wait for it to finish or choose "
                              "another output") from None  # fmt: skip
        pid, _ = _holder(os.pread(handle, 4096, 0).decode(errors="replace"))
        if pid is not None and pid != os.getpid() and not _alive(pid):
            stderr_console.print(f"note: {target}: taking over the lock left by process {pid}, which is not running")
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n{' '.join(sys.argv)[:500]}\n".encode(), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            os.ftruncate(handle, 0)
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(handle)
