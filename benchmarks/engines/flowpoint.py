"""flowpoint: LlamaIndex-compatible workflows whose every step is journaled.

The workflows are written exactly as for LlamaIndex (same ``@step``/event/``ctx.store``
idiom, see ``llamaindex.py``); persistence is a ``Checkpointer`` over a store:

- "none": ``await wf.run(...)``, no journal;
- "memory": ``Checkpointer(wf, store=MemoryStore())``; bytes = the journal records of the
  run serialized to JSON (the form a durable store would write), summed;
- "durable": ``Checkpointer(wf, store=SQLiteStore(path), durability="sync")``, the default
  for durable stores: each step's record commits before its events move on;
- "durable-batch": the same with ``durability="batch"`` (steps and runs share commits);
- "durable-fsync": "durable" with ``SQLiteStore(..., synchronous="FULL")``, an fsync per
  commit as the peers' SQLite defaults do; shown so the durable rows can be compared at
  equal durability against power loss, not only against a killed process.

W4 resumes with ``Checkpointer(wf, store=SQLiteStore(path)).resume_interrupted()``, which
finds the crashed run by itself.
"""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from common import (
    PAYLOAD,
    W4_STEPS,
    LoopOutcome,
    ManyRunsOutcome,
    Stopwatch,
    Unsupported,
    crash_step_body_async,
    run_concurrently,
    sqlite_bytes,
)

from flowpoint import Checkpointer, Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.stores import MemoryStore, SQLiteStore

VARIANTS = ("none", "memory", "durable", "durable-batch", "durable-fsync")


def versions() -> dict[str, str]:
    return {"flowpoint": version("flowpoint")}


class Loop(Event):
    i: int
    n: int


class LoopWorkflow(Workflow):
    """W1/W2: the loop of BENCH_SPEC; ``grow`` appends 1 KiB to state on every step."""

    def __init__(self, *, grow: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grow = grow

    @step
    async def start(self, ev: StartEvent) -> Loop:
        return Loop(i=0, n=ev.n)

    @step
    async def loop(self, ev: Loop, ctx: Context) -> Loop | StopEvent:
        if self.grow:
            items = await ctx.store.get("items", default=[])
            items.append(PAYLOAD)
            await ctx.store.set("items", items)
        if ev.i >= ev.n:
            return StopEvent(result=ev.i)
        return Loop(i=ev.i + 1, n=ev.n)


class NumberEvent(Event):
    number: int
    step_name: str


class NumberWorkflow(Workflow):
    """W3: the seed's NumberWorkflow, without its prints."""

    @step
    async def first_step(self, ev: StartEvent, ctx: Context) -> NumberEvent:
        return NumberEvent(number=5, step_name="first_step")

    @step
    async def second_step(self, ev: NumberEvent, ctx: Context) -> StopEvent:
        added = 10
        return StopEvent(
            result={
                "original_number": ev.number,
                "added_number": added,
                "final_result": ev.number + added,
                "step_name": "second_step",
            }
        )


class Next(Event):
    step_no: int


class CrashWorkflow(Workflow):
    """W4: five steps in a line; each keeps its output in ``ctx.store``."""

    def __init__(self, *, marker: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    @step
    async def begin(self, ev: StartEvent) -> Next:
        return Next(step_no=1)

    @step
    async def work(self, ev: Next, ctx: Context) -> Next | StopEvent:
        output = await crash_step_body_async(self.marker, ev.step_no)
        outputs = await ctx.store.get("outputs", default={})
        outputs[str(ev.step_no)] = output
        await ctx.store.set("outputs", outputs)
        if ev.step_no == W4_STEPS:
            return StopEvent(result={"outputs": outputs})
        return Next(step_no=ev.step_no + 1)


def _checkpointer(wf: Workflow, variant: str, workdir: Path) -> Checkpointer:
    """The checkpointer a persistence variant stands for (see the module docstring)."""
    path = workdir / "flowpoint.sqlite"
    if variant == "memory":
        return Checkpointer(wf, store=MemoryStore())
    if variant == "durable":
        return Checkpointer(wf, store=SQLiteStore(path), durability="sync")
    if variant == "durable-batch":
        return Checkpointer(wf, store=SQLiteStore(path), durability="batch")
    if variant == "durable-fsync":
        return Checkpointer(wf, store=SQLiteStore(path, synchronous="FULL"), durability="sync")
    raise Unsupported(f"unknown variant {variant!r}")


def _memory_bytes(store: MemoryStore, run_id: str) -> int:
    """The run's journal records as JSON, summed: what checkpointing every step produced."""
    return sum(len(json.dumps(record).encode()) for _seq, record in store.read(run_id))


async def _finish(cp: Checkpointer) -> None:
    """Wait for queued commits (``batch``) so that the bytes counted are on disk."""
    await cp.store.flush()


async def loop(n: int, variant: str, grow: bool, workdir: Path) -> LoopOutcome:
    """W1/W2: one run of the loop workflow under the persistence ``variant`` asks for."""
    wf = LoopWorkflow(grow=grow, timeout=None)
    if variant == "none":
        await wf.run(n=10)
        with Stopwatch() as sw:
            assert await wf.run(n=n) == n
        return LoopOutcome(sw.seconds, n)
    cp = _checkpointer(wf, variant, workdir)
    try:
        await cp.run(n=10)
        await _finish(cp)
        durable = isinstance(cp.store, SQLiteStore)
        before = sqlite_bytes(cp.store.path) if durable else 0
        with Stopwatch() as sw:
            handler = cp.run(n=n)
            assert await handler == n
            await _finish(cp)
        if isinstance(cp.store, MemoryStore):
            return LoopOutcome(sw.seconds, n, _memory_bytes(cp.store, handler.run_id))
        return LoopOutcome(sw.seconds, n, sqlite_bytes(cp.store.path) - before, sw.written)
    finally:
        cp.close()


async def many_runs(variant: str, runs: int, concurrency: int, workdir: Path) -> ManyRunsOutcome:
    """W3: ``runs`` NumberWorkflow runs through one checkpointer, ``concurrency`` at a time."""
    cp = _checkpointer(NumberWorkflow(timeout=None), variant, workdir)

    async def one(_: int) -> None:
        assert (await cp.run())["final_result"] == 15

    try:
        await run_concurrently(one, 5, 5)
        with Stopwatch() as sw:
            await run_concurrently(one, runs, concurrency)
            await _finish(cp)
    finally:
        cp.close()
    return ManyRunsOutcome(sw.seconds, runs)


def crash_start(workdir: Path, marker: Path) -> None:
    """W4 phase 1: a checkpointed run on SQLite (durability "sync"); it gets killed."""
    cp = _checkpointer(CrashWorkflow(marker=marker, timeout=None), "durable", workdir)

    async def run() -> None:
        await cp.run()

    asyncio.run(run())


def crash_resume(workdir: Path, marker: Path) -> tuple[Any, str]:
    """W4 phase 2: ``resume_interrupted()`` finds the crashed run in the store by itself."""
    wf = CrashWorkflow(marker=marker, timeout=None)

    async def resume() -> Any:
        cp = Checkpointer(wf, store=SQLiteStore(workdir / "flowpoint.sqlite"))
        try:
            handlers = cp.resume_interrupted()
            if len(handlers) != 1:
                raise RuntimeError(f"expected 1 interrupted run, found {len(handlers)}")
            return await handlers[0]
        finally:
            cp.close()

    return asyncio.run(resume()), "nothing: Checkpointer(...).resume_interrupted()"
