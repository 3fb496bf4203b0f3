"""The checkpointer: checkpoints per step, forks with edits, resume, human input, durably."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel

from flowpoint import (
    Checkpointer,
    Context,
    Event,
    HumanResponseEvent,
    InputRequiredEvent,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowCheckpointer,
    step,
)
from flowpoint.errors import (
    CheckpointNotFoundError,
    ContextSerdeError,
    EventValidationError,
    RunNotFoundError,
    StateSerializationError,
    WorkflowMismatchError,
)
from flowpoint.stores import MemoryStore, SQLiteStore

calls: list[str] = []


class Number(Event):
    number: int


class AddTen(Workflow):
    @step
    async def first(self, ev: StartEvent, ctx: Context) -> Number:
        calls.append("first")
        await ctx.store.set("seen", [ev.get("number", 5)])
        return Number(number=ev.get("number", 5))

    @step
    async def second(self, ev: Number, ctx: Context) -> StopEvent:
        calls.append("second")
        seen = await ctx.store.get("seen")
        return StopEvent(result={"result": ev.number + 10, "seen": seen})


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "runs.db")
    yield store  # type: ignore[misc]
    store.close()


async def test_a_checkpoint_is_recorded_after_every_step(store: SQLiteStore) -> None:
    checkpointer = WorkflowCheckpointer(workflow=AddTen(), store=store)
    handler = checkpointer.run(number=5)
    await handler
    checkpoints = checkpointer.checkpoints[handler.run_id]
    assert [c.last_completed_step for c in checkpoints] == ["first", "second"]
    first = checkpoints[0]
    assert first.id_ == f"{handler.run_id}@{first.seq}"
    assert first.input_event.get("number") == 5
    assert first.output_event == Number(number=5)
    assert first.ctx_state["state"]["state_data"]["_data"] == {"seen": [5]}


async def test_fork_with_edited_output_event_changes_the_result_and_not_the_parent(
    store: SQLiteStore,
) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    parent = checkpointer.run(number=5)
    assert (await parent)["result"] == 15
    first = checkpointer.checkpoints[parent.run_id][0]
    first.output_event.number = 20  # the seed's edit
    calls.clear()
    fork = checkpointer.run_from(checkpoint=first)
    assert (await fork)["result"] == 30
    assert calls == ["second"]  # only the step after the checkpoint ran
    live = checkpointer.checkpoints[fork.run_id][0]
    assert (live.parent_run_id, live.fork_seq) == (parent.run_id, first.seq)
    reloaded = checkpointer.load_checkpoints(parent.run_id)
    assert [c.output_event for c in reloaded][0] == Number(number=5)
    info = checkpointer.get_run(fork.run_id)
    assert (info.parent_run_id, info.fork_seq, info.status) == (
        parent.run_id,
        first.seq,
        "completed",
    )
    # The fork stores only its own records: the parent's prefix is referenced.
    assert min(seq for seq, _ in store.read(fork.run_id)) == first.seq + 1


async def test_fork_with_event_patch_and_state_patch(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    parent = checkpointer.run(number=5)
    await parent
    first = checkpointer.load_checkpoints(parent.run_id)[0]
    fork = checkpointer.run_from(first, event={"number": 7}, state={"seen": ["edited"]})
    assert await fork == {"result": 17, "seen": ["edited"]}


async def test_fork_with_an_invalid_event_raises_before_anything_runs(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    parent = checkpointer.run()
    await parent
    first = checkpointer.load_checkpoints(parent.run_id)[0]
    with pytest.raises(EventValidationError, match="number"):
        checkpointer.run_from(first, event={"number": "many"})
    assert len(store.list_runs()) == 1


async def test_fork_of_a_fork_reads_the_whole_lineage(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    root = checkpointer.run(number=1)
    await root
    first = checkpointer.load_checkpoints(root.run_id)[0]
    child = checkpointer.run_from(first, event={"number": 2})
    await child
    grandchild_cp = checkpointer.load_checkpoints(child.run_id)[0]
    assert grandchild_cp.input_event == Number(number=2)
    assert grandchild_cp.state == {"seen": [1]}


async def test_unknown_run_and_checkpoint_ids_are_clear_errors(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        checkpointer.resume("nope")
    handler = checkpointer.run()
    await handler
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint at seq 99"):
        checkpointer.checkpoint(handler.run_id, 99)


async def test_a_run_of_another_workflow_is_refused(store: SQLiteStore) -> None:
    class Other(Workflow):
        @step
        async def only(self, ev: StartEvent) -> StopEvent:
            return StopEvent()

    handler = Checkpointer(Other(), store=store).run()
    await handler
    checkpoint = Checkpointer(Other(), store=store).load_checkpoints(handler.run_id)[0]
    with pytest.raises(WorkflowMismatchError, match="belongs to workflow"):
        Checkpointer(AddTen(), store=store).run_from(checkpoint)


class Flaky(Workflow):
    fail = True

    @step
    async def first(self, ev: StartEvent, ctx: Context) -> Number:
        calls.append("first")
        return Number(number=1)

    @step
    async def second(self, ev: Number) -> StopEvent:
        calls.append("second")
        if Flaky.fail:
            raise ConnectionError("service down")
        return StopEvent(result="recovered")


async def test_a_failed_run_is_stored_with_its_error_and_can_be_resumed(
    store: SQLiteStore,
) -> None:
    checkpointer = Checkpointer(Flaky(), store=store)
    handler = checkpointer.run()
    with pytest.raises(ConnectionError):
        await handler
    info = checkpointer.get_run(handler.run_id)
    assert info.status == "failed" and "service down" in (info.error or "")
    Flaky.fail = False
    try:
        calls.clear()
        again = Checkpointer(Flaky(), store=store).resume(handler.run_id)
        assert await again == "recovered"
        assert calls == ["second"]
    finally:
        Flaky.fail = True


async def test_resume_of_a_completed_run_is_refused(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(AddTen(), store=store)
    handler = checkpointer.run()
    await handler
    with pytest.raises(WorkflowMismatchError, match="already completed"):
        checkpointer.resume(handler.run_id)


class Approval(Workflow):
    @step
    async def prepare(self, ev: StartEvent, ctx: Context) -> Number:
        calls.append("prepare")
        await ctx.store.set("draft", "v1")
        return Number(number=1)

    @step
    async def approve(self, ev: Number, ctx: Context) -> StopEvent:
        calls.append("approve")
        answer = await ctx.wait_for_event(
            HumanResponseEvent,
            waiter_event=InputRequiredEvent(prefix="approve the draft?"),
            requirements={"kind": "approval"},
        )
        return StopEvent(result=f"{await ctx.store.get('draft')}:{answer.response}")


async def test_a_run_waiting_for_input_is_answered_from_a_new_process(tmp_path: Path) -> None:
    db = tmp_path / "hitl.db"
    store = SQLiteStore(db)
    handler = Checkpointer(Approval(timeout=None), store=store).run()
    prompts = []
    async for event in handler.stream_events():
        prompts.append(event)
        break
    assert prompts[0].prefix == "approve the draft?"
    assert Checkpointer(Approval(), store=store).get_run(handler.run_id).status == "waiting"
    store.close()  # the process goes away; the run stays waiting in the store

    calls.clear()
    store = SQLiteStore(db)
    answer = HumanResponseEvent(response="yes", kind="approval")
    resumed = Checkpointer(Approval(timeout=5), store=store).resume(handler.run_id, event=answer)
    assert await resumed == "v1:yes"
    assert calls == ["approve"]  # prepare never ran again
    store.close()


class AskThenAnswer(Workflow):
    @step
    async def ask(self, ev: StartEvent) -> InputRequiredEvent:
        calls.append("ask")
        return InputRequiredEvent(prefix="name?")

    @step
    async def answer(self, ev: HumanResponseEvent) -> StopEvent:
        calls.append("answer")
        return StopEvent(result=f"hello {ev.response}")


async def test_context_from_dict_continues_a_run_waiting_for_input() -> None:
    workflow = AskThenAnswer()
    handler = workflow.run()
    async for event in handler.stream_events():
        assert isinstance(event, InputRequiredEvent)
        break
    snapshot = handler.ctx.to_dict()
    handler.cancel()

    calls.clear()
    restored = Context.from_dict(AskThenAnswer(), snapshot)
    again = AskThenAnswer().run(ctx=restored)
    again.ctx.send_event(HumanResponseEvent(response="Ada"))
    assert await again == "hello Ada"
    assert calls == ["answer"]


def test_context_from_dict_refuses_unknown_event_types() -> None:
    snapshot = {
        "state": {"state_data": {"_data": {}}, "state_type": "DictState"},
        "queues": {"ask": [{"id": 1, "type": "os.system", "data": {}}]},
    }
    with pytest.raises(ContextSerdeError, match="'os.system' is not declared"):
        Context.from_dict(AskThenAnswer(), snapshot)


async def test_state_that_json_cannot_hold_fails_at_set_naming_the_key() -> None:
    class Bad(Workflow):
        @step
        async def only(self, ev: StartEvent, ctx: Context) -> StopEvent:
            await ctx.store.set("when", object())
            return StopEvent()

    with pytest.raises(StateSerializationError, match="'when'"):
        await Checkpointer(Bad(), store=MemoryStore()).run()


class Tally(BaseModel):
    count: int = 0
    names: list[str] = []


class Typed(Workflow):
    @step
    async def only(self, ev: StartEvent, ctx: Context[Tally]) -> StopEvent:
        async with ctx.store.edit_state() as state:
            state.count += 1
            state.names.append(ev.get("name"))
        return StopEvent(result=(await ctx.store.get_state()).model_dump())


async def test_typed_state_is_journaled_and_restored(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(Typed(), store=store)
    handler = checkpointer.run(name="ada")
    assert await handler == {"count": 1, "names": ["ada"]}
    checkpoint = checkpointer.load_checkpoints(handler.run_id)[0]
    assert checkpoint.state == {"count": 1, "names": ["ada"]}
    assert checkpoint.ctx_state["state"]["state_type"] == "Tally"


def test_durability_none_keeps_checkpoints_in_memory() -> None:
    checkpointer = Checkpointer(AddTen(), durability="none")
    assert isinstance(checkpointer.store, MemoryStore)
    with pytest.raises(ValueError, match="in memory"):
        Checkpointer(AddTen(), store=SQLiteStore(":memory:"), durability="none")


class Counter(Event):
    i: int


class Long(Workflow):
    """Counts to 40; the first time through it stops dead at 25 (a process that hangs)."""

    hang_at: int | None = 25
    reached = None  # an asyncio.Event, set when the hang begins

    @step
    async def begin(self, ev: StartEvent) -> Counter:
        return Counter(i=0)

    @step
    async def count(self, ev: Counter, ctx: Context) -> Counter | StopEvent:
        calls.append(f"count{ev.i}")
        if ev.i == Long.hang_at:
            Long.reached.set()  # type: ignore[union-attr]
            await asyncio.Event().wait()
        await ctx.store.set("last", ev.i)
        if ev.i == 40:
            return StopEvent(result=await ctx.store.get("last"))
        return Counter(i=ev.i + 1)


class _ReadLog(SQLiteStore):
    """A real SQLite store that remembers which records were read."""

    reads: list[tuple[str, int]] = []

    def read(self, run_id: str, from_seq: int = 0, to_seq: int | None = None):  # type: ignore[no-untyped-def]
        _ReadLog.reads.append((run_id, from_seq))
        return super().read(run_id, from_seq, to_seq)


async def test_resume_starts_from_the_latest_snapshot(tmp_path: Path) -> None:
    Long.reached = asyncio.Event()
    store = SQLiteStore(tmp_path / "long.db")
    hung = Checkpointer(Long(timeout=None), store=store, snapshot_every=10).run()
    await Long.reached.wait()
    snapshot = store.latest_snapshot(hung.run_id, 10**9)
    assert snapshot is not None and 10 < snapshot[0] < 27

    Long.hang_at = None
    calls.clear()
    _ReadLog.reads.clear()
    try:
        reopened = _ReadLog(tmp_path / "long.db")
        resumed = Checkpointer(Long(timeout=None), store=reopened).resume(hung.run_id)
        assert await resumed == 40
    finally:
        Long.hang_at = 25
    assert calls[0] == "count25"  # 0..24 were done and never ran again
    assert _ReadLog.reads == [(hung.run_id, snapshot[0] + 1)]  # only the records after it
    hung.cancel()
    reopened.close()
    store.close()


class Part(Event):
    name: str


class Split(Event):
    pass


class FanIn(Workflow):
    right_fails = True

    @step
    async def start(self, ev: StartEvent) -> Split:
        return Split()

    @step
    async def left(self, ev: Split) -> Part:
        return Part(name="left")

    @step
    async def right(self, ev: Split) -> Part:
        await asyncio.sleep(0)  # let the left branch reach the join first
        if FanIn.right_fails:
            raise ConnectionError("right branch down")
        return Part(name="right")

    @step
    async def join(self, ev: Part, ctx: Context) -> StopEvent | None:
        parts = ctx.collect_events(ev, [Part, Part])
        if parts is None:
            return None
        return StopEvent(result=sorted(p.name for p in parts))


async def test_events_collected_before_a_failure_are_still_there_on_resume(
    store: SQLiteStore,
) -> None:
    checkpointer = Checkpointer(FanIn(), store=store)
    handler = checkpointer.run()
    with pytest.raises(ConnectionError):
        await handler
    FanIn.right_fails = False
    try:
        assert await checkpointer.resume(handler.run_id) == ["left", "right"]
    finally:
        FanIn.right_fails = True
