"""LangGraph: a ``StateGraph`` whose loop node routes back to itself via a conditional edge.

Idiom: state is a ``TypedDict``; W2's list uses the ``operator.add`` reducer, so each node
returns only the item it appends (``{"items": [PAYLOAD]}``), as LangGraph's docs teach for
message lists. Persistence is a checkpointer passed to ``compile()``: none, ``InMemorySaver``
or ``SqliteSaver`` (``AsyncSqliteSaver`` for W3, which needs ``ainvoke`` to run 50 graphs
concurrently in one process). Checkpointing uses LangGraph's default durability
(``"async"``: a step's checkpoint is written while the next step runs).

W1/W2 use the synchronous ``invoke`` with plain functions as nodes: that is LangGraph's
primary API and, measured on this machine, its fastest path (``ainvoke`` costs more per step).
``recursion_limit`` must be raised, as every loop iteration is one superstep.
"""

from __future__ import annotations

import operator
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypedDict

from common import (
    PAYLOAD,
    W4_STEPS,
    LoopOutcome,
    ManyRunsOutcome,
    Stopwatch,
    crash_step_body,
    run_concurrently,
    sqlite_bytes,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph


def versions() -> dict[str, str]:
    return {p: version(p) for p in ("langgraph", "langgraph-checkpoint-sqlite")}


# --- W1 / W2 -------------------------------------------------------------------------------


class LoopState(TypedDict):
    i: int
    n: int
    items: Annotated[list[str], operator.add]


def _start(state: LoopState) -> dict[str, Any]:
    return {"i": 0}


def _loop(state: LoopState) -> dict[str, Any]:
    return {"i": state["i"] + 1}


def _loop_growing(state: LoopState) -> dict[str, Any]:
    return {"i": state["i"] + 1, "items": [PAYLOAD]}


def _route(state: LoopState) -> str:
    return END if state["i"] >= state["n"] else "loop"


def _loop_graph(grow: bool) -> Any:
    graph = StateGraph(LoopState)
    graph.add_node("start", _start)
    graph.add_node("loop", _loop_growing if grow else _loop)
    graph.add_edge(START, "start")
    graph.add_edge("start", "loop")
    graph.add_conditional_edges("loop", _route)
    return graph


def _config(thread_id: str, n: int) -> dict[str, Any]:
    return {"recursion_limit": n + 10, "configurable": {"thread_id": thread_id}}


def _memory_saver_bytes(saver: Any) -> int:
    """Serialized bytes held by an ``InMemorySaver``: checkpoints, channel blobs and writes.

    ``InMemorySaver`` keeps everything already serialized (``serde.dumps_typed``), so these
    are exactly the bytes a checkpoint after every step costs.
    """
    total = 0
    for namespaces in saver.storage.values():
        for checkpoints in namespaces.values():
            for checkpoint, metadata, _parent in checkpoints.values():
                total += len(checkpoint[1]) + len(metadata[1])
    total += sum(len(blob[1]) for blob in saver.blobs.values())
    for writes in saver.writes.values():
        total += sum(len(w[2][1]) for w in writes.values())
    return total


def _run_loop(graph: Any, n: int, thread_id: str) -> int:
    result = graph.invoke({"i": 0, "n": n, "items": []}, _config(thread_id, n))
    assert result["i"] == n, result["i"]
    return len(result["items"])


async def loop(n: int, variant: str, grow: bool, workdir: Path) -> LoopOutcome:
    """W1/W2: one run of the loop graph with the checkpointer ``variant`` asks for."""
    if variant == "none":
        graph = _loop_graph(grow).compile()
        _run_loop(graph, 10, "warmup")
        with Stopwatch() as sw:
            _run_loop(graph, n, "bench")
        return LoopOutcome(sw.seconds, n)
    if variant == "memory":
        _run_loop(_loop_graph(grow).compile(checkpointer=InMemorySaver()), 10, "warmup")
        saver = InMemorySaver()
        graph = _loop_graph(grow).compile(checkpointer=saver)
        with Stopwatch() as sw:
            _run_loop(graph, n, "bench")
        return LoopOutcome(sw.seconds, n, _memory_saver_bytes(saver))
    db = workdir / "langgraph.sqlite"
    with SqliteSaver.from_conn_string(str(db)) as saver:
        graph = _loop_graph(grow).compile(checkpointer=saver)
        _run_loop(graph, 10, "warmup")
        before = sqlite_bytes(db)
        with Stopwatch() as sw:
            _run_loop(graph, n, "bench")
        return LoopOutcome(sw.seconds, n, sqlite_bytes(db) - before, sw.written)


# --- W3 -------------------------------------------------------------------------------------


class NumberState(TypedDict, total=False):
    number: int
    step_name: str
    result: dict[str, Any]


async def _first_step(state: NumberState) -> NumberState:
    return {"number": 5, "step_name": "first_step"}


async def _second_step(state: NumberState) -> NumberState:
    added = 10
    return {
        "result": {
            "original_number": state["number"],
            "added_number": added,
            "final_result": state["number"] + added,
            "step_name": "second_step",
        }
    }


def _number_graph() -> Any:
    graph = StateGraph(NumberState)
    graph.add_node("first_step", _first_step)
    graph.add_node("second_step", _second_step)
    graph.add_edge(START, "first_step")
    graph.add_edge("first_step", "second_step")
    graph.add_edge("second_step", END)
    return graph


async def many_runs(variant: str, runs: int, concurrency: int, workdir: Path) -> ManyRunsOutcome:
    """W3: ``runs`` NumberWorkflow graphs, each its own thread, ``concurrency`` at a time."""

    async def measure(graph: Any) -> float:
        async def one(i: int) -> None:
            out = await graph.ainvoke({}, {"configurable": {"thread_id": f"run-{i}"}})
            assert out["result"]["final_result"] == 15

        await run_concurrently(lambda i: one(-1 - i), 5, 5)  # warm-up threads: negative ids
        with Stopwatch() as sw:
            await run_concurrently(one, runs, concurrency)
        return sw.seconds

    if variant == "memory":
        seconds = await measure(_number_graph().compile(checkpointer=InMemorySaver()))
        return ManyRunsOutcome(seconds, runs)
    async with AsyncSqliteSaver.from_conn_string(str(workdir / "langgraph.sqlite")) as saver:
        seconds = await measure(_number_graph().compile(checkpointer=saver))
    return ManyRunsOutcome(seconds, runs)


# --- W4 -------------------------------------------------------------------------------------

CRASH_THREAD = "w4-crash"


class CrashState(TypedDict, total=False):
    outputs: Annotated[dict[int, str], operator.or_]


def _crash_graph(marker: Path) -> Any:
    def make_node(step_no: int) -> Any:
        def node(state: CrashState) -> CrashState:
            return {"outputs": {step_no: crash_step_body(marker, step_no)}}

        return node

    graph = StateGraph(CrashState)
    previous = START
    for step_no in range(1, W4_STEPS + 1):
        graph.add_node(f"step{step_no}", make_node(step_no))
        graph.add_edge(previous, f"step{step_no}")
        previous = f"step{step_no}"
    graph.add_edge(previous, END)
    return graph


def crash_start(workdir: Path, marker: Path) -> None:
    """W4 phase 1: run the five-step graph on a SQLite checkpointer until killed in step 3."""
    with SqliteSaver.from_conn_string(str(workdir / "langgraph.sqlite")) as saver:
        graph = _crash_graph(marker).compile(checkpointer=saver)
        graph.invoke({"outputs": {}}, {"configurable": {"thread_id": CRASH_THREAD}})


def crash_resume(workdir: Path, marker: Path) -> tuple[Any, str]:
    """W4 phase 2: LangGraph resumes a thread by invoking it with ``None`` as input."""
    with SqliteSaver.from_conn_string(str(workdir / "langgraph.sqlite")) as saver:
        graph = _crash_graph(marker).compile(checkpointer=saver)
        result = graph.invoke(None, {"configurable": {"thread_id": CRASH_THREAD}})
    return result, "graph.invoke(None, thread_id=...): told which thread, not which step"
