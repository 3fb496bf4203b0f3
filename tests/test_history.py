"""Reading runs from the store alone: lineage, timelines, states at checkpoints, diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowpoint import Checkpointer, Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.errors import CheckpointNotFoundError, RunNotFoundError
from flowpoint.history import (
    diff_runs,
    diff_states,
    lineage,
    previous_checkpoint,
    resolve_run,
    split_checkpoint_ref,
    state_at,
    timeline,
)
from flowpoint.stores import MemoryStore, SQLiteStore
from flowpoint.stores.base import RunInfo


class Counted(Event):
    n: int


class Tally(Workflow):
    @step
    async def count(self, ev: StartEvent, ctx: Context) -> Counted:
        await ctx.store.set("log", ["counted"])
        return Counted(n=ev.get("n", 1))

    @step
    async def total(self, ev: Counted, ctx: Context) -> StopEvent:
        log = await ctx.store.get("log")
        await ctx.store.set("log", [*log, "totalled"])
        if ev.n < 0:
            raise ValueError("negative count")
        return StopEvent(result=ev.n * 2)


async def run_and_fork(store) -> tuple[str, str]:
    checkpointer = Checkpointer(Tally(), store=store)
    handler = checkpointer.run(n=3)
    assert await handler == 6
    first = checkpointer.load_checkpoints(handler.run_id)[0]
    fork = checkpointer.run_from(first, event={"n": 5})
    assert await fork == 10
    return handler.run_id, fork.run_id


async def test_lineage_of_a_fork_is_its_parents_prefix_then_its_own_records() -> None:
    store = MemoryStore()
    parent, fork = await run_and_fork(store)
    records = lineage(store, fork)
    assert [(seq, owner) for seq, _, owner in records] == [
        (0, parent),
        (1, parent),
        (2, fork),
        (3, fork),
        (4, fork),
    ]
    assert [r["kind"] for _, r, _ in records] == ["started", "step", "forked", "step", "stopped"]


async def test_timeline_gives_each_step_its_input_emitted_events_and_changed_keys() -> None:
    store = MemoryStore()
    parent, _ = await run_and_fork(store)
    view = timeline(store, parent)
    count, total = view.checkpoints
    assert (count.seq, count.step, count.attempt) == (1, "count", 1)
    assert count.input is not None and count.input.type == "StartEvent"
    assert count.returned is not None and count.returned.data == {"n": 3}
    assert count.returned.targets == ("total",)
    assert count.changed == {"log": "set"}
    assert total.changed == {"log": "extended by 1"}
    assert total.duration is not None and total.duration >= 0
    assert view.result == 6 and view.failure is None


async def test_timeline_of_a_forked_run_shows_the_edit_and_lists_forks_under_the_parent() -> None:
    store = MemoryStore()
    parent, fork = await run_and_fork(store)
    view = timeline(store, fork)
    forked = next(e for e in view.entries if e.kind == "forked")
    assert forked.emitted[0].data == {"n": 5}
    assert forked.detail["replaced"] == [{"id": 2, "before": {"n": 3}}]
    assert [e.inherited for e in view.entries] == [True, True, False, False, False]
    assert [f.run_id for f in timeline(store, parent).forks] == [fork]


async def test_a_failure_carries_the_event_the_step_was_given_and_the_state_then() -> None:
    store = MemoryStore()
    checkpointer = Checkpointer(Tally(), store=store)
    handler = checkpointer.run(n=-1)
    with pytest.raises(ValueError):
        await handler
    failure = timeline(store, handler.run_id).failure
    assert failure is not None
    assert (failure.step, failure.error, failure.message) == (
        "total",
        "ValueError",
        "negative count",
    )
    assert failure.input is not None and failure.input.data == {"n": -1}
    assert failure.state == {"log": ["counted"]}  # the failed step's changes never committed
    assert "negative count" in (failure.traceback or "")


async def test_state_at_any_record_and_the_previous_checkpoint_to_diff_against() -> None:
    store = MemoryStore()
    parent, fork = await run_and_fork(store)
    assert state_at(store, parent, 0).state == {}
    assert state_at(store, parent, 1).state == {"log": ["counted"]}
    latest = state_at(store, fork)
    assert (latest.seq, latest.kind) == (4, "stopped")
    assert latest.state == {"log": ["counted", "totalled"]}
    assert previous_checkpoint(store, fork, 3) == 1  # the parent's step, before the fork
    assert previous_checkpoint(store, parent, 1) == 0  # the start


async def test_state_at_a_sequence_number_out_of_range_names_the_range() -> None:
    store = MemoryStore()
    parent, _ = await run_and_fork(store)
    with pytest.raises(CheckpointNotFoundError, match=r"seq 9 is out of range: .* records 0\.\.3"):
        state_at(store, parent, 9)


def test_diff_states_reports_added_removed_and_changed_keys() -> None:
    diff = diff_states({"a": 1, "b": [1], "c": "x"}, {"a": 1, "b": [1, 2], "d": True})
    assert diff.added == {"d": True}
    assert diff.removed == {"c": "x"}
    assert diff.changed == {"b": ([1], [1, 2])}
    assert diff.keys == ["b", "c", "d"]
    assert not diff_states({"a": 1}, {"a": 1})


async def test_diff_runs_finds_the_first_step_that_differs() -> None:
    store = MemoryStore()
    parent, fork = await run_and_fork(store)
    diff = diff_runs(store, parent, fork)
    assert diff.same_steps == 1
    assert diff.first is not None
    left, right = diff.first
    assert left is not None and right is not None
    assert (left.step, left.seq, right.seq) == ("total", 2, 3)
    assert diff.differs_in == ["input", "emitted"]
    assert not diff.state
    assert (diff.a.result, diff.b.result) == (6, 10)
    assert diff.relation == f"{fork[:12]} is a fork of {parent[:12]} at seq 1"
    assert diff_runs(store, parent, parent).identical


def test_resolve_run_takes_a_unique_prefix_and_explains_an_ambiguous_one(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "f.db")
    for run_id in ("abc111", "abc222"):
        store.append(run_id, [], run=RunInfo(run_id, "m:W", "v", "completed"))
    assert resolve_run(store, "abc1").run_id == "abc111"
    with pytest.raises(RunNotFoundError, match="matches several runs"):
        resolve_run(store, "abc")
    with pytest.raises(RunNotFoundError, match="no run 'zzz'"):
        resolve_run(store, "zzz")
    store.close()


def test_split_checkpoint_ref_reads_run_at_seq() -> None:
    assert split_checkpoint_ref("3f2a@12") == ("3f2a", 12)
    assert split_checkpoint_ref("3f2a") == ("3f2a", None)
    with pytest.raises(CheckpointNotFoundError, match="must be a sequence number"):
        split_checkpoint_ref("3f2a@last")
