"""Workflows: routing by type hints, validation, concurrency, retries, timeouts, streaming."""

from __future__ import annotations

import asyncio

import pytest

from flowpoint import Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.errors import (
    WorkflowCancelledByUser,
    WorkflowRuntimeError,
    WorkflowTimeoutError,
    WorkflowValidationError,
)
from flowpoint.retry_policy import ConstantDelayRetryPolicy, ExponentialBackoffRetryPolicy


class Question(Event):
    text: str


class Answer(Event):
    text: str


class Other(Event):
    n: int


class QA(Workflow):
    @step
    async def ask(self, ev: StartEvent) -> Question:
        return Question(text=ev.get("q", "why?"))

    @step
    async def answer(self, ev: Question) -> StopEvent:
        return StopEvent(result=f"because {ev.text}")


async def test_run_routes_events_by_type_hints() -> None:
    assert await QA().run(q="sky") == "because sky"


async def test_handler_exposes_run_id_and_context() -> None:
    handler = QA().run()
    await handler
    assert len(handler.run_id) == 32
    assert handler.ctx.to_dict()["accepted_events"] == [
        ("ask", "StartEvent"),
        ("answer", "Question"),
    ]


async def test_verbose_prints_the_seed_lines(capsys: pytest.CaptureFixture[str]) -> None:
    await QA(verbose=True).run()
    assert capsys.readouterr().out.splitlines() == [
        "Running step ask",
        "Step ask produced event Question",
        "Running step answer",
        "Step answer produced event StopEvent",
    ]


async def test_union_annotations_and_postponed_annotations() -> None:
    class Either(Workflow):
        @step
        async def start(self, ev: StartEvent) -> Question | Other:
            return Other(n=2) if ev.get("other") else Question(text="q")

        @step
        async def finish(self, ev: Question | Other) -> StopEvent:
            return StopEvent(result=type(ev).__name__)

    assert await Either().run(other=True) == "Other"
    assert await Either().run() == "Question"


async def test_an_event_goes_to_every_step_that_accepts_it() -> None:
    seen: list[str] = []

    class FanOut(Workflow):
        @step
        async def start(self, ev: StartEvent) -> Question:
            return Question(text="x")

        @step
        async def left(self, ev: Question) -> Answer:
            seen.append("left")
            return Answer(text="l")

        @step
        async def right(self, ev: Question) -> Answer:
            seen.append("right")
            return Answer(text="r")

        @step
        async def join(self, ev: Answer, ctx: Context) -> StopEvent | None:
            got = ctx.collect_events(ev, [Answer, Answer])
            if got is None:
                return None
            return StopEvent(result=sorted(a.text for a in got))

    assert await FanOut().run() == ["l", "r"]
    assert sorted(seen) == ["left", "right"]


async def test_send_event_and_num_workers_run_deliveries_concurrently() -> None:
    running = 0
    peak = 0
    gate = asyncio.Event()

    class Parallel(Workflow):
        @step
        async def start(self, ev: StartEvent, ctx: Context) -> Other | None:
            for i in range(6):
                ctx.send_event(Other(n=i))
            return None

        @step(num_workers=3)
        async def work(self, ev: Other) -> Answer:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            if peak == 3:
                gate.set()
            await gate.wait()
            running -= 1
            return Answer(text=str(ev.n))

        @step
        async def join(self, ev: Answer, ctx: Context) -> StopEvent | None:
            got = ctx.collect_events(ev, [Answer] * 6)
            return None if got is None else StopEvent(result=len(got))

    assert await Parallel(timeout=10).run() == 6
    assert peak == 3


async def test_a_step_exception_reaches_the_caller_with_its_own_type() -> None:
    class Boom(Workflow):
        @step
        async def start(self, ev: StartEvent) -> StopEvent:
            raise KeyError("missing thing")

    with pytest.raises(KeyError, match="missing thing"):
        await Boom().run()


async def test_retry_policy_runs_the_step_again() -> None:
    attempts = 0

    class Flaky(Workflow):
        @step(retry_policy=ConstantDelayRetryPolicy(delay=0, maximum_attempts=3))
        async def start(self, ev: StartEvent) -> StopEvent:
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise ConnectionError("try again")
            return StopEvent(result=attempts)

    assert await Flaky().run() == 3


async def test_retry_policy_gives_up_after_maximum_attempts() -> None:
    class AlwaysFails(Workflow):
        @step(retry_policy=ConstantDelayRetryPolicy(delay=0, maximum_attempts=2))
        async def start(self, ev: StartEvent) -> StopEvent:
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await AlwaysFails().run()


def test_exponential_backoff_grows_and_caps() -> None:
    policy = ExponentialBackoffRetryPolicy(initial_delay=1, multiplier=2, max_delay=5)
    delays = [policy.next(0, attempt, ValueError()) for attempt in range(1, 6)]
    assert delays == [1, 2, 4, 5, None]


async def test_timeout_raises_workflow_timeout_error() -> None:
    class Slow(Workflow):
        @step
        async def start(self, ev: StartEvent) -> StopEvent:
            await asyncio.sleep(10)
            return StopEvent()

    with pytest.raises(WorkflowTimeoutError):
        await Slow(timeout=0.05).run()


async def test_cancel_run_raises_cancelled_by_user() -> None:
    started = asyncio.Event()

    class Forever(Workflow):
        @step
        async def start(self, ev: StartEvent) -> StopEvent:
            started.set()
            await asyncio.Event().wait()
            return StopEvent()

    handler = Forever(timeout=None).run()
    await started.wait()
    await handler.cancel_run()
    with pytest.raises(WorkflowCancelledByUser):
        await handler


async def test_stream_events_yields_written_events_then_the_stop_event() -> None:
    class Streaming(Workflow):
        @step
        async def start(self, ev: StartEvent, ctx: Context) -> StopEvent:
            for i in range(3):
                ctx.write_event_to_stream(Other(n=i))
            return StopEvent(result="done")

    handler = Streaming().run()
    seen = [ev async for ev in handler.stream_events()]
    assert [getattr(ev, "n", None) for ev in seen[:3]] == [0, 1, 2]
    assert isinstance(seen[-1], StopEvent)
    assert await handler == "done"


async def test_one_instance_runs_many_runs_at_once_in_isolation() -> None:
    class Counter(Workflow):
        @step
        async def start(self, ev: StartEvent, ctx: Context) -> StopEvent:
            await ctx.store.set("n", ev.get("n"))
            await asyncio.sleep(0)
            return StopEvent(result=await ctx.store.get("n"))

    wf = Counter()
    results = await asyncio.gather(*(wf.run(n=i) for i in range(20)))
    assert results == list(range(20))


async def test_stalled_run_fails_fast_with_a_clear_error() -> None:
    class Stalls(Workflow):
        @step
        async def start(self, ev: StartEvent) -> Other | None:
            return None

        @step
        async def finish(self, ev: Other) -> StopEvent:
            return StopEvent()

    with pytest.raises(WorkflowRuntimeError, match="stalled"):
        await Stalls(timeout=5).run()


async def test_step_returning_a_non_event_is_a_runtime_error() -> None:
    class Wrong(Workflow):
        @step
        async def start(self, ev: StartEvent) -> StopEvent:
            return "oops"  # type: ignore[return-value]

    with pytest.raises(WorkflowRuntimeError, match="returned str"):
        await Wrong().run()


async def test_custom_start_and_stop_events() -> None:
    class MyStart(StartEvent):
        topic: str

    class MyStop(StopEvent):
        summary: str

    class Custom(Workflow):
        @step
        async def start(self, ev: MyStart) -> MyStop:
            return MyStop(summary=ev.topic.upper())

    result = await Custom().run(topic="tea")
    assert isinstance(result, MyStop) and result.summary == "TEA"


async def test_free_function_step_with_workflow_argument() -> None:
    class Host(Workflow):
        pass

    @step(workflow=Host)
    async def only(ev: StartEvent) -> StopEvent:
        return StopEvent(result="free")

    assert await Host().run() == "free"


# ---- validation -------------------------------------------------------------------------------
def _validate(cls: type[Workflow]) -> None:
    cls._spec()


def test_validation_no_step_takes_start_event() -> None:
    class NoStart(Workflow):
        @step
        async def only(self, ev: Question) -> StopEvent:
            return StopEvent()

    with pytest.raises(WorkflowValidationError, match="no step takes StartEvent"):
        _validate(NoStart)


def test_validation_event_produced_but_never_consumed_names_step_and_type() -> None:
    class Orphan(Workflow):
        @step
        async def start(self, ev: StartEvent) -> Question | StopEvent:
            return StopEvent()

    with pytest.raises(WorkflowValidationError, match="step 'start' produces Question"):
        _validate(Orphan)


def test_validation_step_without_annotations() -> None:
    class Bare(Workflow):
        @step
        async def start(self, ev):  # type: ignore[no-untyped-def]
            return StopEvent()

    with pytest.raises(WorkflowValidationError, match=r"Step .start.*no type annotation"):
        _validate(Bare)


def test_validation_missing_return_annotation() -> None:
    class NoReturn(Workflow):
        @step
        async def start(self, ev: StartEvent):  # type: ignore[no-untyped-def]
            return StopEvent()

    with pytest.raises(WorkflowValidationError, match="Step 'start' has no return annotation"):
        _validate(NoReturn)


def test_validation_no_path_to_stop_event() -> None:
    class Loop(Workflow):
        @step
        async def start(self, ev: StartEvent) -> Question:
            return Question(text="")

        @step
        async def spin(self, ev: Question) -> Question:
            return ev

    with pytest.raises(WorkflowValidationError, match="returns a StopEvent"):
        _validate(Loop)


async def test_emitting_an_event_type_the_workflow_does_not_declare_is_refused() -> None:
    class Stray(Event):
        pass

    class Sloppy(Workflow):
        @step
        async def start(self, ev: StartEvent, ctx: Context) -> StopEvent:
            ctx.send_event(Stray())
            return StopEvent()

    with pytest.raises(WorkflowRuntimeError, match=r"Stray, an event type it does not declare"):
        await Sloppy().run()

    Sloppy.register_event_types(Stray)
    assert await Sloppy().run() is None


async def test_wait_for_event_with_a_timeout_fails_when_no_answer_comes() -> None:
    from flowpoint import HumanResponseEvent

    class Patient(Workflow):
        @step
        async def start(self, ev: StartEvent, ctx: Context) -> StopEvent:
            answer = await ctx.wait_for_event(HumanResponseEvent, timeout=0.01)
            return StopEvent(result=answer.response)

    with pytest.raises(WorkflowTimeoutError, match="waited 0.01 seconds for a HumanResponseEvent"):
        await Patient(timeout=10).run()
