"""What every engine module shares: the workload constants, the result shapes and helpers.

Engine modules only describe *how* their engine runs a workload; timing, byte counting and
crash bookkeeping live here so that all four engines are measured the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PAYLOAD = "x" * 1024
"""The 1 KiB string W2 appends to the workflow's state on every step."""

W3_RUNS = 1000
W3_CONCURRENCY = 50
W4_STEPS = 5
W4_CRASH_STEP = 3
W4_SLEEP_ENV = "BENCH_W4_STEP3_SLEEP"
"""Seconds step 3 sleeps: 30 in the process that is killed, 0 in the one that resumes."""

IN_MEMORY_DIR = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
"""A RAM-backed directory, used where an engine can only checkpoint to a database file."""


class Unsupported(Exception):
    """Raised by an engine for a variant it has no idiomatic way to run; the text says why."""


@dataclass
class LoopOutcome:
    """One W1/W2 run: wall time of the run itself and the checkpoint bytes it produced."""

    seconds: float
    steps: int
    bytes: int | None = None
    """Checkpoint bytes: serialized sizes summed (in memory) or database growth (SQLite)."""
    written: int | None = None
    """Bytes handed to ``write()`` during the run (see :func:`bytes_written`)."""
    note: str = ""


@dataclass
class ManyRunsOutcome:
    """One W3 measurement: wall time for all runs, started ``concurrency`` at a time."""

    seconds: float
    runs: int
    note: str = ""


@dataclass
class CrashReport:
    """One W4 outcome, built by the orchestrator from the marker file and the final result."""

    resumed_without_being_told_where: bool | None
    steps_rerun: list[int] = field(default_factory=list)
    outputs_lost: list[int] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stopwatch:
    """Wall time and bytes written around a block; the block is the run only, no setup."""

    def __enter__(self) -> Stopwatch:
        self.seconds = 0.0
        self.written = 0
        self._written_at_start = bytes_written()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.written = bytes_written() - self._written_at_start


def sqlite_bytes(path: Path) -> int:
    """Size of a SQLite database on disk, main file plus WAL, once the WAL is folded in.

    A WAL file is reused, not shrunk, after each automatic checkpoint, so its size says how
    big the WAL once was rather than how much data there is. Checkpointing with TRUNCATE
    first (from a separate connection, outside any timed region) makes the figure the pages
    the data really occupies. The ``-shm`` file is an index of the WAL and is left out.
    """
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def dir_bytes(directory: Path) -> int:
    """:func:`sqlite_bytes` summed over the SQLite databases in a directory."""
    return sum(sqlite_bytes(p) for p in directory.glob("*.sqlite"))


def bytes_written() -> int:
    """Bytes this process (all its threads) has passed to ``write()`` so far.

    A database's size counts what it holds at the end; an engine that rewrites its state in
    place writes far more than that. ``wchar`` from ``/proc/self/io`` sees every write.
    """
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


async def run_concurrently(
    make_run: Callable[[int], Awaitable[Any]], runs: int, concurrency: int
) -> list[Any]:
    """Run ``make_run(i)`` for ``i in range(runs)``, at most ``concurrency`` at a time.

    A sliding window (a semaphore), not batches: a new run starts as soon as one ends, which
    is how a service would keep 50 runs in flight.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await make_run(i)

    return await asyncio.gather(*(one(i) for i in range(runs)))


# --- W4: crash bookkeeping -------------------------------------------------------------


def step3_sleep_seconds() -> float:
    return float(os.environ.get(W4_SLEEP_ENV, "0"))


def step_output(step_no: int) -> str:
    """A step output that cannot be recomputed identically: if a completed step runs again
    after the crash, its output in the final result differs from the one first recorded."""
    return f"step{step_no}-{os.getpid()}-{time.time_ns()}"


def mark(marker: Path, step_no: int, what: str, output: str = "") -> None:
    """Append a line to the marker file and flush it to disk at once.

    The orchestrator waits for 'step3 started' before it kills the process, and reads the
    'done' lines to learn which outputs existed before the crash.
    """
    line = json.dumps({"pid": os.getpid(), "step": step_no, "what": what, "output": output})
    with marker.open("a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_marks(marker: Path) -> list[dict[str, Any]]:
    if not marker.exists():
        return []
    return [json.loads(line) for line in marker.read_text().splitlines() if line.strip()]


def crash_step_body(marker: Path, step_no: int) -> str:
    """What each of the five W4 steps does (synchronously): mark, maybe sleep, mark, return.

    Engines with async steps call :func:`crash_step_body_async` instead.
    """
    mark(marker, step_no, "started")
    if step_no == W4_CRASH_STEP:
        time.sleep(step3_sleep_seconds())
    out = step_output(step_no)
    mark(marker, step_no, "done", out)
    return out


async def crash_step_body_async(marker: Path, step_no: int) -> str:
    mark(marker, step_no, "started")
    if step_no == W4_CRASH_STEP:
        await asyncio.sleep(step3_sleep_seconds())
    out = step_output(step_no)
    mark(marker, step_no, "done", out)
    return out


def outputs_from_result(result: Any) -> dict[int, str]:
    """The W4 workflows all end with ``{"outputs": {step_no: output}}``; keys may be str."""
    if hasattr(result, "result"):
        result = result.result
    outputs = result["outputs"] if isinstance(result, dict) else result
    return {int(k): str(v) for k, v in dict(outputs).items()}


def first(items: Iterable[Any]) -> Any:
    return next(iter(items))
