"""The default store: one SQLite file, WAL mode, a writer thread with group commit.

All writes go through one thread so the event loop never blocks on disk, and so that
records of many steps and many runs that arrive while a commit is in progress are
committed together in the next transaction (group commit). Reads use their own
connection on the caller's thread; WAL lets them run beside the writer, and beside other
processes (the CLI reading while a worker writes).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sqlite3
import threading
import time
import weakref
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import CorruptRecordError, SchemaVersionError, StoreError
from .base import COMPLETED, Record, RunInfo, Store, _one_match

SCHEMA_VERSION = 1
DEFAULT_PATH = Path(".flowpoint") / "flowpoint.db"

_SCHEMA_V1 = """
CREATE TABLE runs (
    run_no INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: records are keyed by it
    run_id TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    parent_run_id TEXT,
    fork_seq INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    owner TEXT,
    error TEXT,
    extra TEXT
);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_parent ON runs (parent_run_id);
-- A record's key is (run_no << 32) + seq: one B-tree and no secondary index, so a step's
-- commit writes one page, and a run's records are one key range. A rowid table also keeps
-- rows of up to ~4 KB inline, where WITHOUT ROWID spills any row over ~1 KB to a whole
-- overflow page (4x the bytes for 1 KiB steps).
CREATE TABLE records (
    key INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    crc INTEGER NOT NULL
);
CREATE TABLE snapshots (
    run_no INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: records are keyed by it
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    crc INTEGER NOT NULL
);
"""
_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1

# Each entry migrates from version N-1 to N. A new schema version appends one here.
_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1}

_open_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _encode(value: Any) -> tuple[str, int]:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text, zlib.crc32(text.encode())


def _decode(text: Any, crc: Any, run_id: str, seq: int | None, what: str = "record") -> Any:
    if not isinstance(text, str) or zlib.crc32(text.encode()) != crc:
        raise CorruptRecordError(
            f"{what} fails its checksum (truncated or edited outside flowpoint); it was not "
            "loaded. Fork from an earlier checkpoint, or restore the database from a backup.",
            run_id=run_id,
            seq=seq,
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CorruptRecordError(
            f"{what} is not valid JSON: {exc}", run_id=run_id, seq=seq
        ) from exc


class SQLiteStore(Store):
    """Runs and their journals in a SQLite file.

    >>> store = SQLiteStore("runs.db")            # doctest: +SKIP
    >>> Checkpointer(MyWorkflow(), store=store)   # doctest: +SKIP

    ``synchronous="NORMAL"`` (the default) survives a killed process: a commit is in the
    WAL before the step's events move on. ``"FULL"`` also survives power loss, at an fsync
    per group commit.
    """

    durable = True

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH, *, synchronous: str = "NORMAL"):
        self.path = Path(path)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.synchronous = synchronous.upper()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._read_lock = threading.Lock()
        self._reader = self._connect()
        self._open_schema(self._reader)
        self._queue: deque[_Job] = deque()
        self._wakeup = threading.Condition()
        # One connection writes, from whichever thread leads the next commit (see append).
        self._conn = self._connect()
        self._conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        self._write_lock = threading.Lock()
        # run_id -> run_no, for the writer (used only with _write_lock held).
        self._run_numbers: dict[str, int] = {}
        self._writer: threading.Thread | None = None
        self._closed = False
        self._write_error: BaseException | None = None
        _open_stores.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # ---- connection and schema ----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn

    def _open_schema(self, conn: sqlite3.Connection) -> None:
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self.path} was written by a newer flowpoint (store schema {version}, this "
                    f"flowpoint reads up to {SCHEMA_VERSION}). Upgrade flowpoint; the file was "
                    "not changed."
                )
            if version == 0:
                tables = conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
                if tables:
                    raise StoreError(
                        f"{self.path} is a SQLite database but not a flowpoint store (it has "
                        f"tables {', '.join(t[0] for t in tables[:5])}); point FLOWPOINT_DB at "
                        "another file."
                    )
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have migrated while we waited for the lock.
                    current = conn.execute("PRAGMA user_version").fetchone()[0]
                    for target in range(current + 1, SCHEMA_VERSION + 1):
                        for statement in _MIGRATIONS[target].split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute(f"PRAGMA user_version = {target}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {self.path} as a flowpoint store: {exc}") from exc

    # ---- writing ------------------------------------------------------------------------
    def append(
        self,
        run_id: str,
        records: Sequence[Record],
        *,
        run: RunInfo | None = None,
        status: str | None = None,
        error: str | None = None,
        snapshot: tuple[int, dict[str, Any]] | None = None,
        wait: bool = True,
    ) -> Awaitable[None] | None:
        job = _Job(None)
        job.write = self._append_job(job, run_id, records, run, status, error, snapshot)
        if wait and not self._queue and self._write_lock.acquire(blocking=False):
            # Leader/follower group commit: with no commit in progress, the caller commits
            # now (one ~40 us WAL commit) rather than handing off to the writer thread and
            # waiting for it (two thread wake-ups, ~100 us). Records that arrive while a
            # commit is in progress queue up and share the writer thread's next commit.
            try:
                if self._closed:
                    raise StoreError(f"{self} is closed")
                self._commit([job])
            finally:
                self._write_lock.release()
            return None
        return self._submit(job, wait)

    def set_status(
        self, run_id: str, status: str, *, owner: str | None = None, error: str | None = None
    ) -> Awaitable[None] | None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET status = ?, owner = COALESCE(?, owner), "
                "error = COALESCE(?, error), updated_at = ? WHERE run_id = ?",
                (status, owner, error, time.time(), run_id),
            )

        return self._submit(_Job(write), wait=True)

    def _submit(self, job: _Job, wait: bool) -> Awaitable[None] | None:
        if self._closed:
            raise StoreError(f"{self} is closed")
        if self._write_error is not None:
            raise StoreError(f"{self}: an earlier write failed: {self._write_error}")
        future: asyncio.Future[None] | None = None
        if wait:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                future = loop.create_future()
                job.future = future
                job.loop = loop
            else:
                job.event = threading.Event()
        self._enqueue(job)
        if job.event is not None:
            job.event.wait()
            if job.error is not None:
                raise StoreError(f"write to {self.path} failed: {job.error}")
        return future

    def _enqueue(self, job: _Job) -> None:
        with self._wakeup:
            self._queue.append(job)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name=f"flowpoint-sqlite-{self.path.name}", daemon=True
                )
                self._writer.start()
            self._wakeup.notify()

    def _write_loop(self) -> None:
        while True:
            with self._wakeup:
                while not self._queue:
                    self._wakeup.wait()
            with self._write_lock:
                with self._wakeup:
                    batch = list(self._queue)
                    self._queue.clear()
                error = self._commit(batch, raise_error=False)
                stop = any(job.stop for job in batch)
                if stop:
                    self._conn.close()
            _notify(batch, error)
            if stop:
                return

    def _commit(self, batch: list[_Job], raise_error: bool = True) -> BaseException | None:
        """One transaction for the whole batch. Called with ``_write_lock`` held."""
        conn = self._conn
        error: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                if job.write is not None:
                    job.write(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            error = exc
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if raise_error:
                raise StoreError(f"write to {self.path} failed: {exc}") from exc
            if any(job.future is None and job.event is None for job in batch):
                # Someone did not wait for this commit (batch durability): later writes
                # must not pretend the journal is whole.
                self._write_error = exc
        if error is None and any(job.vacuum for job in batch):
            try:
                # executescript steps the pragma to the end; execute() frees a single page.
                conn.executescript("PRAGMA incremental_vacuum;")
            except sqlite3.Error:
                pass
        return error

    async def flush(self) -> None:
        waiter = self._submit(_Job(None), wait=True)
        if waiter is not None:
            await waiter

    def close(self) -> None:
        if self._closed:
            return
        if self._writer is not None:
            job = _Job(None)
            job.stop = True
            job.event = threading.Event()
            self._enqueue(job)
            job.event.wait()
            self._writer.join()
        else:
            with self._write_lock:
                self._conn.close()
        self._closed = True
        with self._read_lock:
            self._reader.close()

    # ---- reading ------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._closed:
            raise StoreError(f"{self} is closed")
        with self._read_lock:
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def read(self, run_id: str, from_seq: int = 0, to_seq: int | None = None) -> list[Record]:
        found = self._query("SELECT run_no FROM runs WHERE run_id = ?", (run_id,))
        if not found:
            return []
        base = found[0][0] << _SEQ_BITS
        last = _SEQ_MASK if to_seq is None else min(to_seq, _SEQ_MASK)
        rows = self._query(
            "SELECT key, data, crc FROM records WHERE key BETWEEN ? AND ? ORDER BY key",
            (base + max(from_seq, 0), base + last),
        )
        records: list[Record] = []
        for key, data, crc in rows:
            seq = key & _SEQ_MASK
            record = _decode(data, crc, run_id, seq)
            if not isinstance(record, dict):
                raise CorruptRecordError("record is not a JSON object", run_id=run_id, seq=seq)
            records.append((seq, record))
        return records

    def get_run(self, run_id: str) -> RunInfo | None:
        rows = self._query(f"{_RUN_SELECT} WHERE run_id = ?", (run_id,))
        return _run_info(rows[0]) if rows else None

    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        since: float | None = None,
        parent_run_id: str | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", status),
            ("workflow", workflow),
            ("parent_run_id", parent_run_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        sql = _RUN_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_run_info(row) for row in self._query(sql, params)]

    def resolve_run_id(self, prefix: str) -> str | None:
        rows = self._query(
            "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 5",
            (prefix, prefix + "\uffff"),
        )
        return _one_match(prefix, [row[0] for row in rows])

    def latest_snapshot(self, run_id: str, at_most: int) -> tuple[int, dict[str, Any]] | None:
        rows = self._query(
            "SELECT s.seq, s.data, s.crc FROM snapshots s JOIN runs r ON r.run_no = s.run_no "
            "WHERE r.run_id = ? AND s.seq <= ?",
            (run_id, at_most),
        )
        if not rows:
            return None
        seq, data, crc = rows[0]
        return seq, _decode(data, crc, run_id, seq, "snapshot")

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        ids = list(run_ids)

        def write(conn: sqlite3.Connection) -> None:
            for run_id in ids:
                row = conn.execute("SELECT run_no FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                if row is None:
                    continue
                base = row[0] << _SEQ_BITS
                conn.execute(
                    "DELETE FROM records WHERE key BETWEEN ? AND ?", (base, base + _SEQ_MASK)
                )
                conn.execute("DELETE FROM snapshots WHERE run_no = ?", (row[0],))
                conn.execute("DELETE FROM runs WHERE run_no = ?", (row[0],))
                self._run_numbers.pop(run_id, None)

        existing = sum(1 for i in ids if self.get_run(i) is not None)
        self._write_blocking(write, vacuum=True)
        return existing

    def _write_blocking(
        self, write: Callable[[sqlite3.Connection], None] | None, vacuum: bool = False
    ) -> None:
        """Run a write on the writer thread and wait for it here (rare, caller-facing writes)."""
        job = _Job(write)
        job.vacuum = vacuum
        job.event = threading.Event()
        self._enqueue(job)
        job.event.wait()
        if job.error is not None:
            raise StoreError(f"write to {self.path} failed: {job.error}")

    def _append_job(
        self,
        job: _Job,
        run_id: str,
        records: Sequence[Record],
        run: RunInfo | None,
        status: str | None,
        error: str | None,
        snapshot: tuple[int, dict[str, Any]] | None,
    ) -> Callable[[sqlite3.Connection], None]:
        def write(conn: sqlite3.Connection) -> None:
            now = time.time()
            if run is not None:
                cursor = conn.execute(
                    f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run.run_id,
                        run.workflow,
                        run.version,
                        run.status,
                        run.parent_run_id,
                        run.fork_seq,
                        run.created_at or now,
                        run.updated_at or now,
                        run.owner,
                        run.error,
                        json.dumps(run.extra) if run.extra else None,
                    ),
                )
                self._run_numbers[run_id] = int(cursor.lastrowid or 0)
            run_no = self._run_no(conn, run_id)
            base = run_no << _SEQ_BITS
            rows = []
            for seq, record in records:
                text, crc = _encode(record)
                rows.append((base + seq, record["kind"], text, crc))
            if len(rows) == 1:
                conn.execute("INSERT INTO records (key, kind, data, crc) VALUES (?,?,?,?)", rows[0])
            elif rows:
                conn.executemany(
                    "INSERT INTO records (key, kind, data, crc) VALUES (?,?,?,?)", rows
                )
            if status is not None and (run is None or status != run.status):
                conn.execute(
                    "UPDATE runs SET status = ?, error = COALESCE(?, error), updated_at = ? "
                    "WHERE run_no = ?",
                    (status, error, now, run_no),
                )
            if snapshot is not None:
                text, crc = _encode(snapshot[1])
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots (run_no, seq, data, crc) VALUES (?,?,?,?)",
                    (run_no, snapshot[0], text, crc),
                )
            if status == COMPLETED:
                # A completed run is only ever read from (failed and cancelled ones may be
                # resumed), and showing it folds its journal; its snapshot is dead weight.
                deleted = conn.execute("DELETE FROM snapshots WHERE run_no = ?", (run_no,))
                # Give the snapshot's pages back to the file system, so the database size
                # follows the journal and not the largest state it ever held.
                job.vacuum = deleted.rowcount > 0

        return write

    def _run_no(self, conn: sqlite3.Connection, run_id: str) -> int:
        run_no = self._run_numbers.get(run_id)
        if run_no is None:
            row = conn.execute("SELECT run_no FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r} in {self.path} to append to")
            run_no = self._run_numbers[run_id] = int(row[0])
        return run_no

    def file_size(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                total += candidate.stat().st_size
        return total


_RUN_COLUMNS = (
    "run_id, workflow, version, status, parent_run_id, fork_seq, created_at, updated_at, "
    "owner, error, extra"
)
# Sequence and step counts come from the journal itself, so appending a step writes one row.
_RUN_SELECT = (
    f"SELECT {_RUN_COLUMNS}, "
    "(SELECT MAX(key) - (runs.run_no << 32) FROM records "
    " WHERE key BETWEEN runs.run_no << 32 AND (runs.run_no << 32) + 4294967295), "
    "(SELECT COUNT(*) FROM records "
    " WHERE key BETWEEN runs.run_no << 32 AND (runs.run_no << 32) + 4294967295 "
    " AND kind = 'step') "
    "FROM runs"
)


def _run_info(row: Sequence[Any]) -> RunInfo:
    return RunInfo(
        run_id=row[0],
        workflow=row[1],
        version=row[2],
        status=row[3],
        parent_run_id=row[4],
        fork_seq=row[5],
        created_at=row[6],
        updated_at=row[7],
        owner=row[8],
        error=row[9],
        extra=json.loads(row[10]) if row[10] else {},
        last_seq=row[11] if row[11] is not None else -1,
        steps=row[12] or 0,
    )


class _Job:
    __slots__ = ("error", "event", "future", "loop", "stop", "vacuum", "write")

    def __init__(self, write: Callable[[sqlite3.Connection], None] | None) -> None:
        self.write = write
        self.future: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: threading.Event | None = None
        self.error: BaseException | None = None
        self.stop = False
        self.vacuum = False


def _notify(batch: list[_Job], error: BaseException | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for job in batch:
        job.error = error
        if job.event is not None:
            job.event.set()
        if job.future is not None and job.loop is not None:
            by_loop.setdefault(job.loop, []).append(job.future)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, error)
        except RuntimeError:
            pass  # the loop is closed; nobody is waiting any more


def _resolve(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(StoreError(f"commit failed: {error}"))


@atexit.register
def _close_all() -> None:
    # Batch-durability records still queued are committed before the process exits.
    for store in list(_open_stores):
        try:
            store.close()
        except Exception:
            pass


__all__ = ["DEFAULT_PATH", "SCHEMA_VERSION", "SQLiteStore"]
