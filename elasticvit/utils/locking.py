"""One run per output directory: an exclusive lock file naming its holder.

Two trainings (or collections, searches, exports) writing the same directory would overwrite each
other's checkpoints and report files that no longer exist. ``exclusive_dir`` creates
``<dir>/.lock`` atomically (written beside it, then hard-linked into place, so the file never
exists half-written) holding the owner's PID, host and task. A second run finds it and fails at
once naming the holder. A lock whose holder is gone (same host, PID no longer running, or this
very PID without this process holding it: a restarted container reuses PIDs) is stale and taken
over. Holding the directory, the run also removes the temporary files a killed atomic write left
(``.<name>.<random>.tmp``, see ``utils/atomic.py``): nobody else can be writing them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from elasticvit.errors import ElasticViTError
from elasticvit.utils.atomic import write_json

LOCK_NAME = ".lock"

_held: set[Path] = set()
_held_guard = threading.Lock()


class DirectoryLockedError(ElasticViTError):
    """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive_dir(directory: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold ``directory`` (created if needed) for ``what`` (e.g. "train") until the block ends."""
    directory = Path(directory).resolve()
    created = [p for p in (directory, *directory.parents) if not p.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_NAME
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
             "since": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())}
    _acquire(lock, owner)
    try:
        remove_orphans(directory)
        yield directory
    finally:
        with _held_guard:
            _held.discard(lock)
        lock.unlink(missing_ok=True)
        for path in created:  # a run refused before it wrote anything leaves no empty folders
            with contextlib.suppress(OSError):
                path.rmdir()


def remove_orphans(directory: Path) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes under ``directory``; return them."""
    orphans = [p for p in directory.rglob(".*.tmp") if p.is_file() and not p.name.startswith(f"{LOCK_NAME}.")]
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def _acquire(lock: Path, owner: dict[str, object]) -> None:
    staged = write_json(lock.with_name(f"{LOCK_NAME}.{owner['pid']}.{threading.get_ident()}.tmp"), owner)
    try:
        for _ in range(3):
            with _held_guard:
                try:
                    os.link(staged, lock)  # fails if the lock exists: creation and content in one step
                except FileExistsError:
                    pass
                else:
                    _held.add(lock)
                    return
                holder = _read(lock)
                if holder is not None and not _stale(lock, holder):
                    raise DirectoryLockedError(
                        f"{lock.parent} is in use by '{holder.get('what')}' (pid {holder.get('pid')} on "
                        f"{holder.get('host')}, since {holder.get('since')}): wait for it to finish or give "
                        f"another output directory (delete {lock} only if that run is gone)"
                    )
            # stale, or released between the link and the read (two runs taking over the same stale
            # lock at the same instant can still both win: the window is one unlink wide)
            lock.unlink(missing_ok=True)
        raise DirectoryLockedError(f"{lock.parent}: could not take {lock} (other runs keep taking it)")
    finally:
        staged.unlink(missing_ok=True)


def _read(lock: Path) -> dict | None:
    """The holder, or None when the lock vanished; an unreadable lock counts as a live stranger's."""
    try:
        return json.loads(lock.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"what": "unknown (unreadable lock file)"}


def _stale(lock: Path, holder: dict) -> bool:
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False  # another machine's PIDs cannot be checked from here
    pid = holder["pid"]
    if pid == os.getpid():
        return lock not in _held
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
