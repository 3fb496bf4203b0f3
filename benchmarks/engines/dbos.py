"""DBOS: durable workflows as plain Python functions whose steps are checkpointed.

Idiom: a ``@DBOS.workflow()`` function is the loop and calls a ``@DBOS.step()`` once per
iteration; DBOS records each step's output in its system database (SQLite here). The
workflow's state is its local variables: after a crash DBOS re-executes the workflow
function and replays the recorded step outputs, so W2's list is rebuilt from the 1 KiB each
step returned and is never stored as a whole. Recovery is automatic: ``DBOS.launch()``
resumes every workflow that was pending on this executor.

DBOS has no non-durable mode (variant "none" is unsupported). For the "memory" variant its
SQLite system database lives on a RAM-backed tmpfs (``/dev/shm``), the closest DBOS gets to
checkpoints kept in memory; it still pays for SQL and for every commit.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path
from typing import Any

from common import (
    IN_MEMORY_DIR,
    PAYLOAD,
    W4_STEPS,
    LoopOutcome,
    ManyRunsOutcome,
    Stopwatch,
    Unsupported,
    crash_step_body_async,
    dir_bytes,
    run_concurrently,
)
from dbos import DBOS, SetWorkflowID


def versions() -> dict[str, str]:
    return {"dbos": version("dbos")}


def system_database_dir(variant: str, workdir: Path) -> Path:
    """Where the system database goes: the work dir, or tmpfs for the "memory" variant."""
    if variant == "none":
        raise Unsupported("DBOS has no non-durable mode: every step is recorded in its database")
    if variant == "durable":
        return workdir
    if IN_MEMORY_DIR is None:
        raise Unsupported("no RAM-backed directory (/dev/shm) on this machine")
    directory = IN_MEMORY_DIR / f"bench-dbos-{workdir.name}"
    directory.mkdir(exist_ok=True)
    return directory


def configure(db_dir: Path) -> Any:
    """Construct the DBOS singleton on a SQLite system database in ``db_dir``."""
    return DBOS(
        config={
            "name": "flowpoint-bench",
            "system_database_url": f"sqlite:///{db_dir / 'dbos.sqlite'}",
            "run_admin_server": False,
        }
    )


def cleanup(db_dir: Path, workdir: Path) -> None:
    """Remove a tmpfs database directory (the work dir is removed by the orchestrator)."""
    if db_dir != workdir:
        for p in db_dir.iterdir():
            p.unlink()
        db_dir.rmdir()


# --- W1 / W2 -------------------------------------------------------------------------------


def _register_loop(grow: bool) -> Any:
    @DBOS.step()
    async def loop_step(i: int) -> Any:
        return PAYLOAD if grow else i + 1

    @DBOS.workflow()
    async def loop_workflow(n: int) -> int:
        items: list[str] = []
        i = 0
        while i < n:
            if grow:
                items.append(await loop_step(i))
                i += 1
            else:
                i = await loop_step(i)
        return i

    return loop_workflow


async def loop(n: int, variant: str, grow: bool, workdir: Path) -> LoopOutcome:
    """W1/W2: one workflow that calls ``n`` steps; bytes = growth of the database files."""
    db_dir = system_database_dir(variant, workdir)
    configure(db_dir)
    loop_workflow = _register_loop(grow)
    DBOS.launch()
    try:
        await loop_workflow(10)
        before = dir_bytes(db_dir)
        with Stopwatch() as sw:
            assert await loop_workflow(n) == n
        written = dir_bytes(db_dir) - before
    finally:
        DBOS.destroy()
        cleanup(db_dir, workdir)
    return LoopOutcome(sw.seconds, n, written, sw.written)


# --- W3 -------------------------------------------------------------------------------------


def _register_number_workflow() -> Any:
    @DBOS.step()
    async def first_step() -> dict[str, Any]:
        return {"number": 5, "step_name": "first_step"}

    @DBOS.step()
    async def second_step(number: int) -> dict[str, Any]:
        added = 10
        return {
            "original_number": number,
            "added_number": added,
            "final_result": number + added,
            "step_name": "second_step",
        }

    @DBOS.workflow()
    async def number_workflow() -> dict[str, Any]:
        event = await first_step()
        return await second_step(event["number"])

    return number_workflow


async def many_runs(variant: str, runs: int, concurrency: int, workdir: Path) -> ManyRunsOutcome:
    """W3: ``runs`` workflows awaited directly, ``concurrency`` in flight at a time."""
    db_dir = system_database_dir(variant, workdir)
    configure(db_dir)
    number_workflow = _register_number_workflow()
    DBOS.launch()

    async def one(_: int) -> None:
        assert (await number_workflow())["final_result"] == 15

    try:
        await run_concurrently(one, 5, 5)
        with Stopwatch() as sw:
            await run_concurrently(one, runs, concurrency)
    finally:
        DBOS.destroy()
        cleanup(db_dir, workdir)
    return ManyRunsOutcome(sw.seconds, runs)


# --- W4 -------------------------------------------------------------------------------------

CRASH_WORKFLOW_ID = "w4-crash"


def _register_crash_workflow(marker: Path) -> Any:
    @DBOS.step()
    async def crash_step(step_no: int) -> str:
        return await crash_step_body_async(marker, step_no)

    @DBOS.workflow()
    async def crash_workflow() -> dict[str, Any]:
        outputs = {}
        for step_no in range(1, W4_STEPS + 1):
            outputs[step_no] = await crash_step(step_no)
        return {"outputs": outputs}

    return crash_workflow


def crash_start(workdir: Path, marker: Path) -> None:
    """W4 phase 1: start the workflow under a known id and wait for it (it gets killed)."""
    configure(workdir)
    crash_workflow = _register_crash_workflow(marker)
    DBOS.launch()

    async def run() -> None:
        with SetWorkflowID(CRASH_WORKFLOW_ID):
            await crash_workflow()

    asyncio.run(run())


def crash_resume(workdir: Path, marker: Path) -> tuple[Any, str]:
    """W4 phase 2: ``DBOS.launch()`` recovers pending workflows by itself; we only wait.

    The workflow id is used to wait for the result, not to tell DBOS what to resume.
    """
    configure(workdir)
    _register_crash_workflow(marker)
    DBOS.launch()

    async def wait() -> Any:
        handle = await DBOS.retrieve_workflow_async(CRASH_WORKFLOW_ID)
        return await handle.get_result()

    try:
        result = asyncio.run(wait())
    finally:
        DBOS.destroy()
    return result, "nothing: DBOS.launch() recovers pending workflows"
