"""LlamaIndex Workflows (``llama-index-workflows``): event-driven steps on a ``Context``.

Idiom: a ``Workflow`` subclass whose ``@step`` methods take and return typed events; the loop
step returns ``Loop(i+1)`` until it returns ``StopEvent``. State lives in ``ctx.store``
(``get``/``set``), which is how LlamaIndex shares data between steps.

Persistence per variant:

- "none": ``await wf.run(...)``, nothing saved.
- "memory": current llama-index-workflows has no checkpointer (the old
  ``WorkflowCheckpointer`` is gone), so we do what its docs show for saving a run: each step
  writes its event to the stream with ``ctx.write_event_to_stream``, and the caller, reading
  ``handler.stream_events()``, serializes ``handler.ctx.to_dict()`` to JSON and keeps it in
  a list, one snapshot per step. Bytes = the lengths of those JSON strings summed.
  (``to_dict`` can only be called from outside a step, so the stream is the step-end hook.)
- "durable": the DBOS runtime for LlamaIndex Workflows (``llama_agents.dbos.DBOSRuntime``,
  package ``llama-agents-dbos``) on a SQLite system database: each step runs as a DBOS step,
  ``ctx.store`` is a SQL table, and ``DBOS.launch()`` recovers interrupted runs.
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
    dir_bytes,
    run_concurrently,
)
from dbos import DBOS
from workflows import Context, Workflow, step
from workflows.events import Event, StartEvent, StopEvent

from engines.dbos import configure

CRASH_RUN_ID = "w4-crash"


def versions() -> dict[str, str]:
    names = ("llama-index-workflows", "llama-agents-dbos", "dbos")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except Exception:
            found[name] = "not installed"
    return found


class Loop(Event):
    i: int
    n: int


class LoopWorkflow(Workflow):
    """W1/W2. ``stream_steps`` turns on the stream that the "memory" variant snapshots."""

    def __init__(self, *, grow: bool, stream_steps: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grow = grow
        self.stream_steps = stream_steps

    @step
    async def start(self, ev: StartEvent) -> Loop:
        return Loop(i=0, n=ev.n)

    @step
    async def loop(self, ev: Loop, ctx: Context) -> Loop | StopEvent:
        if self.grow:
            items = await ctx.store.get("items", default=[])
            items.append(PAYLOAD)
            await ctx.store.set("items", items)
        if self.stream_steps:
            ctx.write_event_to_stream(ev)
        if ev.i >= ev.n:
            return StopEvent(result=ev.i)
        return Loop(i=ev.i + 1, n=ev.n)


class NumberEvent(Event):
    number: int
    step_name: str


class NumberWorkflow(Workflow):
    """W3: the seed's NumberWorkflow, without its prints."""

    def __init__(self, *, stream_steps: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream_steps = stream_steps

    @step
    async def first_step(self, ev: StartEvent, ctx: Context) -> NumberEvent:
        result = NumberEvent(number=5, step_name="first_step")
        if self.stream_steps:
            ctx.write_event_to_stream(result)
        return result

    @step
    async def second_step(self, ev: NumberEvent, ctx: Context) -> StopEvent:
        added = 10
        result = StopEvent(
            result={
                "original_number": ev.number,
                "added_number": added,
                "final_result": ev.number + added,
                "step_name": "second_step",
            }
        )
        if self.stream_steps:
            ctx.write_event_to_stream(result)
        return result


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


async def _snapshotting_run(wf: Any, **kwargs: Any) -> tuple[Any, int]:
    """Run ``wf`` and serialize ``ctx.to_dict()`` after every streamed step event.

    Returns the result and the summed size of the JSON snapshots kept in memory.
    """
    snapshots: list[str] = []
    handler = wf.run(**kwargs)
    async for _ in handler.stream_events():
        snapshots.append(json.dumps(handler.ctx.to_dict()))
    result = await handler
    return result, sum(len(s.encode()) for s in snapshots)


def _dbos_runtime(db_dir: Path) -> Any:
    """LlamaIndex's durable runtime (``llama-agents-dbos``) on a SQLite system database.

    Raises ``Unsupported`` when the package is missing or meets a DBOS it cannot run on
    (llama-agents-dbos 0.7.0 constructs ``dbos.Queue`` directly, which DBOS 3 forbids).
    """
    try:
        from llama_agents.dbos import DBOSRuntime
    except ImportError as exc:
        raise Unsupported(f"LlamaIndex's DBOS runtime is not installed ({exc})") from exc
    if int(version("dbos").split(".")[0]) >= 3:
        raise Unsupported(
            f"llama-agents-dbos {version('llama-agents-dbos')} does not run on dbos "
            f"{version('dbos')} (it constructs dbos.Queue directly); install dbos<3"
        )
    configure(db_dir)
    return DBOSRuntime()


async def loop(n: int, variant: str, grow: bool, workdir: Path) -> LoopOutcome:
    """W1/W2: one run of the loop workflow under the persistence ``variant`` asks for."""
    if variant == "none":
        wf = LoopWorkflow(grow=grow, stream_steps=False, timeout=None)
        await wf.run(n=10)
        with Stopwatch() as sw:
            assert await wf.run(n=n) == n
        return LoopOutcome(sw.seconds, n)
    if variant == "memory":
        wf = LoopWorkflow(grow=grow, stream_steps=True, timeout=None)
        await _snapshotting_run(wf, n=10)
        with Stopwatch() as sw:
            result, size = await _snapshotting_run(wf, n=n)
        assert result == n
        return LoopOutcome(sw.seconds, n, size)
    runtime = _dbos_runtime(workdir)
    wf = LoopWorkflow(grow=grow, stream_steps=False, timeout=None, runtime=runtime)
    await runtime.launch()
    try:
        await wf.run(n=10)
        before = dir_bytes(workdir)
        with Stopwatch() as sw:
            assert await wf.run(n=n) == n
        written = dir_bytes(workdir) - before
    finally:
        await runtime.destroy()
    return LoopOutcome(sw.seconds, n, written, sw.written)


async def many_runs(variant: str, runs: int, concurrency: int, workdir: Path) -> ManyRunsOutcome:
    """W3: ``runs`` NumberWorkflow runs, ``concurrency`` at a time, on one workflow object."""
    if variant == "none":
        raise Unsupported("W3 has no non-persistent variant")
    runtime = _dbos_runtime(workdir) if variant == "durable" else None
    extra = {"runtime": runtime} if runtime is not None else {}
    wf = NumberWorkflow(stream_steps=variant == "memory", timeout=None, **extra)

    async def one(_: int) -> None:
        if variant == "memory":
            result, _size = await _snapshotting_run(wf)
        else:
            result = await wf.run()
        assert result["final_result"] == 15

    if runtime is not None:
        await runtime.launch()
    try:
        await run_concurrently(one, 5, 5)
        with Stopwatch() as sw:
            await run_concurrently(one, runs, concurrency)
    finally:
        if runtime is not None:
            await runtime.destroy()
    return ManyRunsOutcome(sw.seconds, runs)


def crash_start(workdir: Path, marker: Path) -> None:
    """W4 phase 1: start the run on the DBOS runtime under a known run id; it gets killed."""
    runtime = _dbos_runtime(workdir)
    wf = CrashWorkflow(marker=marker, timeout=None, runtime=runtime)

    async def run() -> None:
        await runtime.launch()
        await wf.run(run_id=CRASH_RUN_ID)

    asyncio.run(run())


def crash_resume(workdir: Path, marker: Path) -> tuple[Any, str]:
    """W4 phase 2: launching the runtime makes DBOS recover the pending run by itself."""
    runtime = _dbos_runtime(workdir)
    CrashWorkflow(marker=marker, timeout=None, runtime=runtime)

    async def wait() -> Any:
        await runtime.launch()
        try:
            handle = await DBOS.retrieve_workflow_async(CRASH_RUN_ID)
            return await handle.get_result()
        finally:
            await runtime.destroy()

    return asyncio.run(wait()), "nothing: runtime.launch() lets DBOS recover pending runs"
