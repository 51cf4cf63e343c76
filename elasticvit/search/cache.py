"""A persistent store of measured subnet accuracies, shared by every device's search.

Accuracy with shared weights depends only on the arch, the supernet weights and the data it is
measured on, never on the device, so an entry is keyed by (arch id, supernet checkpoint hash,
data split hash): a second device's search finds every accuracy the first one measured.

SQLite rather than a JSONL file: several searches (one per device, possibly in parallel processes)
append to the same store, and SQLite gives atomic, concurrent-safe inserts and indexed lookups
without a lock file of our own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    arch_id TEXT NOT NULL,
    supernet TEXT NOT NULL,
    data TEXT NOT NULL,
    accuracy REAL NOT NULL,
    samples INTEGER NOT NULL,
    seconds REAL NOT NULL,
    arch TEXT NOT NULL,
    created REAL NOT NULL,
    loss REAL,
    PRIMARY KEY (arch_id, supernet, data)
)
"""

_COLUMNS = "arch_id, accuracy, samples, seconds, arch, loss"

_BUSY_TIMEOUT_S = 60.0

log = logging.getLogger(__name__)
"""How long a writer waits for another process's transaction before failing."""


class CacheContext(BaseModel):
    """What an accuracy is a function of besides the arch."""

    model_config = ConfigDict(frozen=True)

    supernet: str
    """Hash of the supernet checkpoint the weights come from."""
    data: str
    """Hash of the data the subnet is calibrated and scored on (splits and subset settings)."""


RankBy = Literal["accuracy", "loss"]


class Evaluation(BaseModel):
    """One subnet's measured accuracy, with its arch as JSON so the store can be read back alone."""

    model_config = ConfigDict(frozen=True)

    arch_id: str
    accuracy: float
    samples: int
    seconds: float
    arch: dict[str, Any]
    loss: float | None = None
    """Mean cross-entropy on the same images; None in entries stored before it was recorded."""

    def score(self, rank_by: RankBy) -> float | None:
        return score(self.accuracy, self.loss, rank_by)


def score(accuracy: float, loss: float | None, rank_by: RankBy) -> float | None:
    """What a search ranking by ``rank_by`` maximises; None without the loss it needs."""
    if rank_by == "accuracy":
        return accuracy
    return None if loss is None else -loss


class EvaluationCache:
    """Evaluations stored in an SQLite file; safe to share between processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = -1
        try:
            with self._connect() as db:
                db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            # a cache is derived: a damaged file is set aside (kept for a look) and started afresh
            self._close()
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            log.warning("%s is damaged (%s); moved to %s, starting an empty cache", self.path, exc, aside.name)
            with self._connect() as db:
                db.execute(_SCHEMA)
        with self._connect() as db:
            if "loss" not in {row[1] for row in db.execute("PRAGMA table_info(evaluations)")}:
                db.execute("ALTER TABLE evaluations ADD COLUMN loss REAL")  # a store from before losses were kept

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    def get(self, context: CacheContext, arch_id: str) -> Evaluation | None:
        found = self.get_many(context, [arch_id])
        return found.get(arch_id)

    def get_many(self, context: CacheContext, arch_ids: Iterable[str]) -> dict[str, Evaluation]:
        ids = list(dict.fromkeys(arch_ids))
        found: dict[str, Evaluation] = {}
        with self._connect() as db:
            # SQLite limits bound parameters per statement; query in chunks.
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM evaluations "
                    f"WHERE supernet = ? AND data = ? AND arch_id IN ({marks})",
                    (context.supernet, context.data, *chunk),
                )
                found.update((row[0], _row_to_evaluation(row)) for row in rows)
        return found

    def put(self, context: CacheContext, evaluation: Evaluation) -> None:
        """Store an evaluation; an existing entry for the same key is kept (first write wins), except
        that an entry stored without a loss takes the new one's."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO evaluations (arch_id, supernet, data, accuracy, samples, seconds, arch, created, loss) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (arch_id, supernet, data) DO UPDATE SET "
                "loss = excluded.loss WHERE evaluations.loss IS NULL",
                (
                    evaluation.arch_id,
                    context.supernet,
                    context.data,
                    evaluation.accuracy,
                    evaluation.samples,
                    evaluation.seconds,
                    json.dumps(evaluation.arch, sort_keys=True),
                    time.time(),
                    evaluation.loss,
                ),
            )

    def all(self, context: CacheContext) -> list[Evaluation]:
        """Every evaluation stored for this supernet and data, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM evaluations "
                "WHERE supernet = ? AND data = ? ORDER BY created, arch_id",
                (context.supernet, context.data),
            ).fetchall()
        return [_row_to_evaluation(row) for row in rows]

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction on this process's connection (commits on success, rolls back on error).

        The connection is kept open (opening and closing per call costs more than a lookup) and
        serialised by a lock, so Prefect's worker threads can share the cache; a forked child
        opens its own, since a connection must not cross a fork.
        """
        with self._lock:
            if self._db is None or self._pid != os.getpid():
                self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
                self._pid = os.getpid()
                # WAL: readers proceed while another process writes. synchronous=NORMAL: a commit
                # does not wait for the disk; a crash of the process never corrupts or loses a
                # committed entry, only a power loss can drop the last few (they are re-measured).
                # The journal mode is stored in the file: switching it takes an exclusive lock, so
                # only switch when needed instead of racing another process's open transaction.
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                yield self._db


def _row_to_evaluation(row: tuple[Any, ...]) -> Evaluation:
    arch_id, accuracy, samples, seconds, arch, loss = row
    return Evaluation(arch_id=arch_id, accuracy=accuracy, samples=samples, seconds=seconds, arch=json.loads(arch),
                      loss=loss)
