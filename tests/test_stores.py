"""Stores: a real SQLite file that refuses what it cannot trust and stays small."""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import sys
import zlib
from pathlib import Path

import pytest

from flowpoint import Checkpointer, Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.errors import (
    CorruptRecordError,
    EventValidationError,
    SchemaVersionError,
    StoreError,
    UnknownEventTypeError,
)
from flowpoint.stores import MemoryStore, RunInfo, SQLiteStore


class Number(Event):
    number: int


class AddTen(Workflow):
    @step
    async def first(self, ev: StartEvent) -> Number:
        return Number(number=ev.get("number", 5))

    @step
    async def second(self, ev: Number) -> StopEvent:
        return StopEvent(result=ev.number + 10)


async def _one_run(db: Path) -> str:
    store = SQLiteStore(db)
    handler = Checkpointer(AddTen(), store=store).run(number=5)
    assert await handler == 15
    store.close()
    return handler.run_id


def _edit(db: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _record_key(db: Path, run_id: str, seq: int) -> int:
    """Where a record lives in the file: key = (run number << 32) + seq."""
    conn = sqlite3.connect(db)
    (run_no,) = conn.execute("SELECT run_no FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    conn.close()
    return (run_no << 32) + seq


def _first_checkpoint_seq(db: Path, run_id: str) -> int:
    first = _record_key(db, run_id, 0)
    conn = sqlite3.connect(db)
    (key,) = conn.execute(
        "SELECT key FROM records WHERE key > ? AND kind = 'step' ORDER BY key", (first,)
    ).fetchone()
    conn.close()
    return key - first


def test_store_from_a_newer_flowpoint_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()
    _edit(db, "PRAGMA user_version = 99")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(SchemaVersionError, match="newer flowpoint"):
        SQLiteStore(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_a_database_that_is_not_a_flowpoint_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    _edit(db, "CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StoreError, match="not a flowpoint store"):
        SQLiteStore(db)


def test_a_store_reopened_in_a_new_process_lists_yesterdays_runs(tmp_path: Path) -> None:
    import asyncio

    run_id = asyncio.run(_one_run(tmp_path / "runs.db"))
    store = SQLiteStore(tmp_path / "runs.db")
    runs = Checkpointer(AddTen(), store=store).list_runs()
    assert [(r.run_id, r.status, r.steps) for r in runs] == [(run_id, "completed", 2)]
    store.close()


async def test_a_hand_edited_record_fails_its_checksum_naming_run_and_seq(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = await _one_run(db)
    seq = _first_checkpoint_seq(db, run_id)
    _edit(
        db,
        "UPDATE records SET data = replace(data, '\"number\":5', '\"number\":6') WHERE key = ?",
        _record_key(db, run_id, seq),
    )
    store = SQLiteStore(db)
    with pytest.raises(CorruptRecordError, match=f"run {run_id} seq {seq}: record fails"):
        Checkpointer(AddTen(), store=store).load_checkpoints(run_id)
    store.close()


async def test_a_truncated_record_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = await _one_run(db)
    seq = _first_checkpoint_seq(db, run_id)
    _edit(
        db,
        "UPDATE records SET data = substr(data, 1, 20) WHERE key = ?",
        _record_key(db, run_id, seq),
    )
    store = SQLiteStore(db)
    with pytest.raises(CorruptRecordError, match=f"seq {seq}"):
        store.read(run_id)
    store.close()


class _Boom:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        import os

        return (os.system, (f"touch {self.marker}",))


def _forge(db: Path, run_id: str, seq: int, mutate) -> None:  # type: ignore[no-untyped-def]
    """Rewrite a record *with a valid checksum*, as an attacker with the file could."""
    key = _record_key(db, run_id, seq)
    conn = sqlite3.connect(db)
    (data,) = conn.execute("SELECT data FROM records WHERE key = ?", (key,)).fetchone()
    record = json.loads(data)
    mutate(record)
    text = json.dumps(record, separators=(",", ":"))
    conn.execute(
        "UPDATE records SET data = ?, crc = ? WHERE key = ?",
        (text, zlib.crc32(text.encode()), key),
    )
    conn.commit()
    conn.close()


async def test_a_forged_pickle_payload_is_never_executed(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    marker = tmp_path / "pwned"
    run_id = await _one_run(db)
    seq = _first_checkpoint_seq(db, run_id)
    payload = pickle.dumps(_Boom(marker)).hex()

    def inject(record: dict) -> None:  # type: ignore[type-arg]
        # The shapes other engines trust: a pickled blob, and a module path to import.
        record["emitted"][0][1] = "evil_module_xyz.Exploit"
        record["emitted"][0][2] = {"__pickle__": payload, "qualified_name": "os.system"}

    _forge(db, run_id, seq, inject)
    store = SQLiteStore(db)
    checkpoint = Checkpointer(AddTen(), store=store).load_checkpoints(run_id)[0]
    with pytest.raises(UnknownEventTypeError, match="'evil_module_xyz.Exploit' is not declared"):
        _ = checkpoint.output_event
    assert not marker.exists()
    assert "evil_module_xyz" not in sys.modules
    store.close()


async def test_a_forged_payload_that_fails_validation_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = await _one_run(db)
    seq = _first_checkpoint_seq(db, run_id)

    def break_number(record: dict) -> None:  # type: ignore[type-arg]
        record["emitted"][0][2] = {"number": "not a number"}

    _forge(db, run_id, seq, break_number)
    store = SQLiteStore(db)
    checkpoint = Checkpointer(AddTen(), store=store).load_checkpoints(run_id)[0]
    with pytest.raises(EventValidationError, match=f"run {run_id} seq {seq}.*number"):
        _ = checkpoint.output_event
    store.close()


class Chunk(Event):
    i: int


class GrowingState(Workflow):
    """W2 of the benchmark spec: every step appends 1 KiB to a list in the state."""

    @step
    async def begin(self, ev: StartEvent) -> Chunk:
        return Chunk(i=0)

    @step
    async def grow(self, ev: Chunk, ctx: Context) -> Chunk | StopEvent:
        if ev.i >= await ctx.store.get("n"):
            return StopEvent(result=ev.i)
        items = await ctx.store.get("items", default=[])
        items.append("x" * 1024)
        await ctx.store.set("items", items)
        return Chunk(i=ev.i + 1)


async def _grow(tmp_path: Path, n: int) -> tuple[int, int, int]:
    db = tmp_path / f"w2-{n}.db"
    store = SQLiteStore(db)
    checkpointer = Checkpointer(GrowingState(timeout=None), store=store)
    ctx = Context(checkpointer.workflow)
    await ctx.store.set("n", n)
    handler = checkpointer.run(ctx=ctx)
    assert await handler == n
    journal_bytes = sum(len(json.dumps(rec)) for _, rec in store.read(handler.run_id))
    store.close()
    empty = tmp_path / "empty.db"
    SQLiteStore(empty).close()
    return db.stat().st_size, journal_bytes, empty.stat().st_size


async def test_bytes_stored_grow_linearly_with_appended_state(tmp_path: Path) -> None:
    size_100, journal_100, empty = await _grow(tmp_path, 100)
    size_1000, journal_1000, _ = await _grow(tmp_path, 1000)
    # 1,000 steps that each append 1 KiB: the whole file stays under 2 MB...
    assert size_1000 < 2_000_000
    # ...and ten times the steps cost ten times the bytes (quadratic would be ~100x).
    assert 9.5 <= journal_1000 / journal_100 <= 10.5
    assert 8.5 <= (size_1000 - empty) / (size_100 - empty) <= 11


async def test_batch_durability_commits_many_runs_together(tmp_path: Path) -> None:
    import asyncio

    store = SQLiteStore(tmp_path / "batch.db")
    checkpointer = Checkpointer(AddTen(), store=store, durability="batch")
    results = await asyncio.gather(*(checkpointer.run(number=i) for i in range(200)))
    assert results == [i + 10 for i in range(200)]
    store.close()
    reopened = SQLiteStore(tmp_path / "batch.db")
    runs = reopened.list_runs()
    assert len(runs) == 200 and {r.status for r in runs} == {"completed"}
    reopened.close()


def test_memory_store_keeps_runs_and_filters_them() -> None:
    store = MemoryStore()
    for i, status in enumerate(["completed", "failed"]):
        store.append(
            f"r{i}",
            [(0, {"kind": "started"})],
            run=RunInfo(f"r{i}", "m:W", "v", status, created_at=float(i)),
        )
    assert [r.run_id for r in store.list_runs()] == ["r1", "r0"]
    assert [r.run_id for r in store.list_runs(status="failed")] == ["r1"]
    assert store.delete_runs(["r0"]) == 1
    assert store.get_run("r0") is None


class _SnapshotLog(MemoryStore):
    """A memory store that remembers every snapshot it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[tuple[int, int]] = []  # (seq, bytes of state)

    def append(self, run_id, records, *, snapshot=None, **kwargs):  # type: ignore[no-untyped-def]
        if snapshot is not None:
            self.snapshots.append((snapshot[0], len(json.dumps(snapshot[1]["state"]))))
        return super().append(run_id, records, snapshot=snapshot, **kwargs)


async def test_snapshots_of_a_growing_state_are_spaced_out_so_bytes_written_stay_linear() -> None:
    store = _SnapshotLog()
    checkpointer = Checkpointer(GrowingState(timeout=None), store=store, snapshot_every=100)
    ctx = Context(checkpointer.workflow)
    await ctx.store.set("n", 2000)
    await checkpointer.run(ctx=ctx)
    final_state = 2000 * 1024
    written = sum(size for _, size in store.snapshots)
    # Every 100 steps would write 20 copies (about 10x the final state); spaced by size,
    # all snapshots together stay within a small multiple of it.
    assert written < 3 * final_state
    assert len(store.snapshots) < 10


async def test_a_small_state_is_snapshotted_every_k_records() -> None:
    store = _SnapshotLog()
    checkpointer = Checkpointer(AddTen(), store=store, snapshot_every=1)
    await checkpointer.run()
    # 0 is the started record (an image itself); 3 is the end, where none is needed.
    assert [seq for seq, _ in store.snapshots] == [1, 2]
