"""One run, scheduled: deliveries go to steps, steps run on worker tasks, results commit.

The hot path is ``_execute``: take a delivery, call the step, build its journal record
(only when the run is journaled), wait for the commit (only with ``sync`` durability),
then hand the step's events on. A worker that finishes a step keeps going with the next
delivery it just made, so a linear chain of steps runs on one task with no hand-off; other
deliveries get tasks of their own, up to each step's ``num_workers``.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..errors import (
    WorkflowRuntimeError,
    WorkflowTimeoutError,
)
from ..events import (
    Event,
    HumanResponseEvent,
    InputRequiredEvent,
    StopEvent,
)
from ..journal import RunFold, encode_event
from ..journal.fold import DONE, WAITER_PREFIX
from ._delivery import Delivery, Execution, StepSlot, bind_step
from ._snapshot import live_context_dict
from ._waiting import Park, Waiter

if TYPE_CHECKING:
    from ..context import Context
    from ..handler import WorkflowHandler
    from ..journal import Journal
    from ..workflow import WorkflowSpec

# Steps that never await would otherwise hold the event loop for a whole chain.
_YIELD_EVERY = 32


class StepFailure(Exception):
    """Internal: carries a step's exception and the step's name to the failure path."""

    def __init__(self, step: str, error: BaseException) -> None:
        self.step = step
        self.error = error


_current: ContextVar[Execution | None] = ContextVar("flowpoint_step", default=None)
_END: Any = object()


class RunEngine:
    """Runs one run of a workflow to its end, journaling each step when given a journal."""

    def __init__(
        self,
        spec: WorkflowSpec,
        instance: Any,
        ctx: Context[Any],
        handler: WorkflowHandler,
        *,
        run_id: str,
        boot: RunFold | dict[str, Any],
        live_events: dict[int, Event] | None = None,
        journal: Journal | None = None,
        timeout: float | None = None,
        verbose: bool = False,
    ) -> None:
        self.spec = spec
        self.run_id = run_id
        self.ctx = ctx
        self.handler = handler
        self.journal = journal
        self.verbose = verbose
        self.done = False
        self._boot = boot
        self._live_events = live_events or {}
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = 0
        self._external = 0
        self._waiting = False
        self._since_yield = 0
        self._next_id = 1
        self._broker_log: list[tuple[int, Event]] = []
        self._accepted: list[tuple[str, str]] = []
        self._buffers: dict[str, list[tuple[int, Event]]] = {}
        self._waiters: dict[str, Waiter] = {}
        self._awaiting_input = 0
        self._stream_queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stream_taken = False
        self._store = ctx.store
        self._slots: dict[str, StepSlot] = {}
        for name, step_spec in spec.steps.items():
            self._slots[name] = StepSlot(step_spec, bind_step(step_spec, instance, ctx))
        self._timer = self._loop.call_later(timeout, self._on_timeout, timeout) if timeout else None
        # Set once the run's image is restored; events sent from outside wait for it.
        self._ready: asyncio.Future[None] = self._loop.create_future()
        handler._engine = self
        ctx._engine = self
        handler.add_done_callback(self._on_handler_done)
        self._spawn_coro(self._start())

    # ---- starting -------------------------------------------------------------------------
    async def _start(self) -> None:
        try:
            journal = self.journal
            if journal is not None:
                assert isinstance(self._boot, dict)
                commit = journal.append(self._boot)
                if commit is not None:
                    await commit
                fold = journal.fold
                if self._boot["kind"] != "started":
                    # A fork's state patch or a resumed image: the journal's image is the truth.
                    self._store.load_json(fold.state)
            else:
                if isinstance(self._boot, RunFold):
                    fold = self._boot
                else:
                    fold = RunFold()
                    fold.apply(0, self._boot)
            pending = self._restore(fold)
        except BaseException as exc:
            await self._fail(exc, None)
            return
        finally:
            if not self._ready.done():
                self._ready.set_result(None)
        if fold.result_event is not None:
            # The image already holds a StopEvent (a fork from the last step): nothing runs.
            await self._complete(self._decode(fold.result_event, fold))
            return
        first = self._place(pending, take_one=True)
        if first is None:
            self._check_idle()
            return
        await self._work(first)

    def _restore(self, fold: RunFold) -> list[Delivery]:
        """Rebuild the run's live structures from a folded image; returns its deliveries."""
        self._next_id = fold.next_event_id
        decoded: dict[int, Event] = {}

        def event(event_id: int) -> Event:
            if event_id not in decoded:
                decoded[event_id] = self._decode(event_id, fold)
            return decoded[event_id]

        deliveries = []
        for event_id, step in fold.pending:
            slot = self._slots.get(step)
            if slot is None:
                raise WorkflowRuntimeError(
                    f"run {self.run_id}: a pending event is addressed to step '{step}', which "
                    "this workflow does not have"
                )
            deliveries.append(Delivery(event(event_id), event_id, slot))
        for key, ids in fold.buffers.items():
            self._buffers[key] = [(i, event(i)) for i in ids]
        for waiter_id, info in fold.waiters.items():
            slot = self._slots[info["step"]]
            event_type = self.spec.registry.get(info["type"])
            if event_type is None:
                raise WorkflowRuntimeError(f"waiter {waiter_id} waits for unknown {info['type']}")
            waiter = Waiter(
                Delivery(event(int(info["event"])), int(info["event"]), slot),
                event_type,
                dict(info.get("requirements") or {}),
            )
            if info.get("resolved") is not None:
                waiter.resolved = (int(info["resolved"]), event(int(info["resolved"])))
            self._waiters[waiter_id] = waiter
        self._awaiting_input = fold.awaiting_input
        # A journal's fold keeps no history; the broker log then starts with what is pending.
        logged = fold.broker_log if fold.history else sorted({d.event_id for d in deliveries})
        for event_id in logged:
            if event_id in fold.events:
                self._broker_log.append((event_id, event(event_id)))
        self._accepted.extend(fold.accepted)
        return deliveries

    def _decode(self, event_id: int, fold: RunFold) -> Event:
        live = self._live_events.get(event_id)
        if live is not None:
            return live
        tag, payload = fold.events[event_id]
        return self.spec.registry.decode(tag, payload, run_id=self.run_id, seq=fold.last_seq)

    # ---- scheduling -----------------------------------------------------------------------
    def _spawn_coro(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _place(self, deliveries: Iterable[Delivery], take_one: bool) -> Delivery | None:
        """Queue deliveries; start the ones their step has room for. One may be kept by
        the calling task (``take_one``) to run next without a hand-off."""
        kept = None
        for delivery in deliveries:
            slot = delivery.slot
            if len(slot.active) < slot.limit:
                slot.active.add(delivery)
                self._busy += 1
                if take_one and kept is None:
                    kept = delivery
                else:
                    self._spawn_coro(self._work(delivery))
            else:
                slot.queue.append(delivery)
        return kept

    async def _work(self, delivery: Delivery | None) -> None:
        try:
            while delivery is not None and not self.done:
                delivery = await self._execute(delivery)
                self._since_yield += 1
                if self._since_yield >= _YIELD_EVERY:
                    self._since_yield = 0
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            return
        except StepFailure as failure:
            await self._fail(failure.error, failure.step)
            return
        except BaseException as exc:
            await self._fail(exc, None)
            return
        self._check_idle()

    def _set_waiting(self, waiting: bool) -> Awaitable[None] | None:
        """Store the run as waiting for input (or running again), once per change."""
        if waiting == self._waiting or self.journal is None:
            return None
        self._waiting = waiting
        return self.journal.set_status("waiting" if waiting else "running")

    def _check_idle(self) -> None:
        if self.done or self._busy or self._external:
            return
        if self._waiters or self._awaiting_input:
            self._set_waiting(True)
            return
        self._spawn_coro(
            self._fail(
                WorkflowRuntimeError(
                    f"run {self.run_id} stalled: no step is running and no event is pending, "
                    "but no StopEvent was returned. A step may have returned None while "
                    "collecting events that never came; to wait for outside input, emit an "
                    "InputRequiredEvent or use ctx.wait_for_event."
                ),
                None,
            )
        )

    # ---- the hot path -----------------------------------------------------------------------
    async def _execute(self, delivery: Delivery) -> Delivery | None:
        slot = delivery.slot
        name = slot.name
        event = delivery.event
        if self.verbose:
            print(f"Running step {name}")
        self._accepted.append((name, type(event).__qualname__))
        execution = Execution(delivery)
        token = _current.set(execution)
        started = time.time()
        attempt = 1
        try:
            while True:
                try:
                    out = await slot.call(event)
                    break
                except Park as park:
                    return await self._park(execution, park, started)
                except Exception as exc:
                    policy = slot.spec.retry_policy
                    delay = (
                        policy.next(time.time() - started, attempt, exc)
                        if policy is not None
                        else None
                    )
                    if delay is None:
                        raise StepFailure(name, exc) from exc
                    attempt += 1
                    execution = Execution(delivery)
                    _current.set(execution)
                    await asyncio.sleep(delay)
        finally:
            _current.reset(token)
        if self.done:
            return None
        emitted = execution.sent
        returned = -1
        if out is not None:
            if not isinstance(out, Event):
                raise StepFailure(
                    name,
                    WorkflowRuntimeError(
                        f"step '{name}' returned {type(out).__name__}, not an Event (or None)"
                    ),
                )
            if emitted is None:
                emitted = [(out, None)]
            else:
                emitted.append((out, None))
            returned = len(emitted) - 1
        if self.verbose:
            if out is None:
                print(f"Step {name} produced no event")
            else:
                print(f"Step {name} produced event {type(out).__name__}")
        routed = self._route(emitted) if emitted else []
        journal = self.journal
        if journal is not None:
            record: dict[str, Any] = {
                "kind": "step",
                "step": name,
                "consumed": delivery.event_id,
                "attempt": attempt,
                "started": started,
                "ended": time.time(),
                "emitted": _entries(routed),
                "returned": returned,
            }
            self._add_effects(record, execution)
            commit = journal.append(record)
            if commit is not None:
                await commit
                if self.done:
                    return None
        # The step's record is committed: its events may move on.
        slot.active.discard(delivery)
        self._busy -= 1
        if self._waiters:
            self._drop_waiters_of(delivery)
        kept = None
        if routed:
            deliveries, stop = self._deliveries(routed)
            if stop is not None:
                await self._complete(stop)
                return None
            kept = self._place(deliveries, take_one=True)
        return self._take_queued(slot, kept)

    def _take_queued(self, slot: StepSlot, kept: Delivery | None) -> Delivery | None:
        """A slot just freed a worker: start its next queued delivery, on this task if the
        task has nothing else to do next (``kept``)."""
        if slot.queue and len(slot.active) < slot.limit:
            following = slot.queue.popleft()
            slot.active.add(following)
            self._busy += 1
            if kept is None:
                return following
            self._spawn_coro(self._work(following))
        return kept

    def _route(self, emitted: list[tuple[Event, str | None]]) -> list[tuple[int, Event, list[str]]]:
        """Give each event an id and the places it goes: steps, '_done', or a waiter."""
        routed = []
        routes = self.spec.routes
        for event, target in emitted:
            event_id = self._next_id
            self._next_id = event_id + 1
            etype = type(event)
            steps = routes.get(etype)
            if steps is None:
                steps = self.spec.route(etype)  # also refuses types the workflow does not know
            if target is not None:
                if target not in self._slots:
                    raise WorkflowRuntimeError(f"send_event to unknown step '{target}'")
                targets = [target]
            else:
                targets = list(steps)
                if isinstance(event, StopEvent):
                    targets.append(DONE)
                elif self._waiters:
                    for waiter_id, waiter in self._waiters.items():
                        if waiter.matches(event):
                            targets = [WAITER_PREFIX + waiter_id]
                            break
                if isinstance(event, InputRequiredEvent):
                    self._awaiting_input += 1
                elif isinstance(event, HumanResponseEvent) and self._awaiting_input:
                    self._awaiting_input -= 1
            routed.append((event_id, event, targets))
        return routed

    def _deliveries(
        self, routed: list[tuple[int, Event, list[str]]]
    ) -> tuple[list[Delivery], Event | None]:
        deliveries = []
        stop = None
        slots = self._slots
        for event_id, event, targets in routed:
            self._broker_log.append((event_id, event))
            if isinstance(event, InputRequiredEvent):
                self._stream_queue.put_nowait(event)  # after its record committed
            for target in targets:
                if target == DONE:
                    stop = event
                elif target[0] == "@":
                    waiter = self._waiters[target[len(WAITER_PREFIX) :]]
                    waiter.resolved = (event_id, event)
                    deliveries.append(waiter.delivery)
                else:
                    deliveries.append(Delivery(event, event_id, slots[target]))
        return deliveries, stop

    def _add_effects(self, record: dict[str, Any], execution: Execution | None) -> None:
        """Add what changed besides the emitted events: state, stream, buffers, prompts."""
        journal = self.journal
        assert journal is not None
        delta = self._store.take_delta(journal.committed_state)
        if delta is not None:
            record["delta"] = delta
        if journal.fold.awaiting_input != self._awaiting_input:
            record["awaiting_input"] = self._awaiting_input
        if execution is None:
            return
        if execution.stream:
            record["stream"] = [
                [type(ev).__qualname__, encode_event(ev)] for ev in execution.stream
            ]
        if execution.extra:
            record.setdefault("emitted", []).extend(
                [eid, type(ev).__qualname__, encode_event(ev), []] for eid, ev in execution.extra
            )
        if execution.buffers_changed:
            record["buffers"] = {k: [i for i, _ in v] for k, v in self._buffers.items()}

    # ---- sending, streaming, collecting, waiting ------------------------------------------
    def send(self, event: Event, step: str | None) -> None:
        if not isinstance(event, Event):
            raise WorkflowRuntimeError(f"send_event takes an Event, got {type(event).__name__}")
        execution = _current.get()
        if execution is not None and execution.delivery.slot.name in self._slots:
            if execution.sent is None:
                execution.sent = []
            execution.sent.append((event, step))
            return
        self._external += 1
        self._spawn_coro(self._accept_external(event, step))

    async def _accept_external(self, event: Event, step: str | None) -> None:
        await self._ready
        self._external -= 1
        self._busy += 1  # counted as work until its deliveries are placed
        try:
            routed = self._route([(event, step)])
            if self.journal is not None:
                record: dict[str, Any] = {"kind": "sent", "emitted": _entries(routed)}
                self._add_effects(record, None)
                commit = self.journal.append(record)
                if commit is not None:
                    await commit
                status = self._set_waiting(False)
                if status is not None:
                    await status
            if self.done:
                return
            deliveries, stop = self._deliveries(routed)
            if stop is not None:
                await self._complete(stop)
                return
            kept = self._place(deliveries, take_one=True)
        except BaseException as exc:
            await self._fail(exc, None)
            return
        finally:
            self._busy -= 1
        await self._work(kept)

    def write_to_stream(self, event: Event) -> None:
        execution = _current.get()
        if execution is not None and self.journal is not None:
            if execution.stream is None:
                execution.stream = []
            execution.stream.append(event)
        self._stream_queue.put_nowait(event)

    def collect(
        self, event: Event, expected: list[type[Event]], buffer_id: str | None
    ) -> list[Event] | None:
        execution = _current.get()
        if execution is None:
            raise WorkflowRuntimeError("collect_events can only be called inside a step")
        key = buffer_id or ",".join(t.__qualname__ for t in expected)
        buffer = self._buffers.setdefault(key, [])
        if event is execution.delivery.event:
            event_id = execution.delivery.event_id
        else:
            event_id = self._next_id
            self._next_id += 1
            if execution.extra is None:
                execution.extra = []
            execution.extra.append((event_id, event))
        if all(existing is not event for _, existing in buffer):
            buffer.append((event_id, event))
        execution.buffers_changed = True
        picked: list[int] = []
        for wanted in expected:
            for index, (_, candidate) in enumerate(buffer):
                if index not in picked and isinstance(candidate, wanted):
                    picked.append(index)
                    break
            else:
                return None
        collected = [buffer[i][1] for i in picked]
        for index in sorted(picked, reverse=True):
            del buffer[index]
        if not buffer:
            del self._buffers[key]
        return collected

    def wait_for(
        self,
        event_type: type[Event],
        waiter_event: Event | None,
        waiter_id: str | None,
        requirements: dict[str, Any] | None,
        timeout: float | None = None,
    ) -> Any:
        execution = _current.get()
        if execution is None:
            raise WorkflowRuntimeError("wait_for_event can only be called inside a step")
        delivery = execution.delivery
        key = waiter_id or (f"{delivery.slot.name}:{delivery.event_id}:{execution.wait_calls}")
        execution.wait_calls += 1
        waiter = self._waiters.get(key)
        if waiter is not None and waiter.resolved is not None:
            return waiter.resolved[1]
        prompt = waiter_event if waiter is None else None
        raise Park(key, event_type, dict(requirements or {}), prompt, timeout)

    async def _park(self, execution: Execution, park: Park, started: float) -> Delivery | None:
        delivery = execution.delivery
        if park.waiter_id not in self._waiters:
            self._waiters[park.waiter_id] = Waiter(delivery, park.event_type, park.requirements)
        if park.prompt is not None and self.journal is not None:
            if execution.stream is None:
                execution.stream = []
            execution.stream.append(park.prompt)
        if self.journal is not None:
            record: dict[str, Any] = {
                "kind": "wait",
                "step": delivery.slot.name,
                "consumed": delivery.event_id,
                "waiter_id": park.waiter_id,
                "event_type": park.event_type.__qualname__,
                "requirements": park.requirements,
                "started": started,
                "ended": time.time(),
            }
            self._add_effects(record, execution)
            commit = self.journal.append(record)
            if commit is not None:
                await commit
        delivery.slot.active.discard(delivery)
        self._busy -= 1
        if not self._busy and not self._external:
            # Whoever sees the prompt can rely on the run being stored as waiting.
            status = self._set_waiting(True)
            if status is not None:
                await status
        if park.prompt is not None:
            self._stream_queue.put_nowait(park.prompt)
        if park.timeout is not None:
            self._loop.call_later(park.timeout, self._on_wait_timeout, park.waiter_id, park.timeout)
        return self._take_queued(delivery.slot, None)

    def _drop_waiters_of(self, delivery: Delivery) -> None:
        for waiter_id in [
            w
            for w, waiter in self._waiters.items()
            if waiter.delivery.event_id == delivery.event_id
            and waiter.delivery.slot is delivery.slot
            and waiter.resolved is not None
        ]:
            del self._waiters[waiter_id]

    def snapshot_dict(self) -> dict[str, Any]:
        """``ctx.to_dict()`` of a live (or finished) run."""
        return live_context_dict(self)

    async def stream(self) -> AsyncIterator[Event]:
        if self._stream_taken:
            raise WorkflowRuntimeError("stream_events() can be consumed only once per run")
        self._stream_taken = True
        while True:
            item = await self._stream_queue.get()
            if item is _END:
                return
            yield item

    # ---- ending -----------------------------------------------------------------------------
    async def _complete(self, stop: Event) -> None:
        if self.done:
            return
        self.done = True
        result = stop.result if type(stop) is StopEvent else stop
        try:
            if self.journal is not None:
                commit = self.journal.append({"kind": "stopped", "result": _jsonable(result)})
                if commit is not None:
                    await commit
                if self.journal.durability == "batch":
                    await self.journal.flush()
        except BaseException as exc:
            self._finish_stream()
            self._cancel_tasks()
            if not self.handler.done():
                self.handler.set_exception(exc)
            return
        self._stream_queue.put_nowait(stop)
        self._finish_stream()
        self._cancel_tasks()
        if not self.handler.done():
            self.handler.set_result(result)

    async def _fail(self, error: BaseException, step: str | None) -> None:
        if self.done:
            return
        self.done = True
        self._cancel_tasks()
        if isinstance(error, asyncio.CancelledError):
            error = WorkflowRuntimeError(f"run {self.run_id} was cancelled")
        try:
            if self.journal is not None:
                trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
                message = f"{type(error).__name__}: {error}"
                commit = self.journal.append(
                    {
                        "kind": "failed",
                        "step": step,
                        "error": type(error).__name__,
                        "message": str(error),
                        "traceback": trace,
                    },
                    error=message,
                )
                if commit is not None:
                    await commit
                await self.journal.flush()
        except Exception as journal_error:  # the run's own error matters more
            print(f"flowpoint: could not journal failure: {journal_error}", file=sys.stderr)
        self._finish_stream()
        if not self.handler.done():
            self.handler.set_exception(error)

    async def cancel(self, error: BaseException) -> None:
        if self.done:
            return
        self.done = True
        self._cancel_tasks()
        if self.journal is not None:
            commit = self.journal.append({"kind": "cancelled"})
            if commit is not None:
                await commit
            await self.journal.flush()
        self._finish_stream()
        if not self.handler.done():
            self.handler.set_exception(error)

    def _on_timeout(self, timeout: float) -> None:
        if not self.done:
            self._spawn_coro(
                self._fail(
                    WorkflowTimeoutError(
                        f"Operation timed out after {timeout} seconds (run {self.run_id})"
                    ),
                    None,
                )
            )

    def _on_wait_timeout(self, waiter_id: str, timeout: float) -> None:
        waiter = self._waiters.get(waiter_id)
        if self.done or waiter is None or waiter.resolved is not None:
            return
        self._spawn_coro(
            self._fail(
                WorkflowTimeoutError(
                    f"step '{waiter.delivery.slot.name}' waited {timeout} seconds for a "
                    f"{waiter.event_type.__name__} that did not come (run {self.run_id})"
                ),
                waiter.delivery.slot.name,
            )
        )

    def _on_handler_done(self, handler: asyncio.Future[Any]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if handler.cancelled() and not self.done:
            self.done = True
            self._cancel_tasks()
            self._finish_stream()
            if self.journal is not None:
                journal = self.journal

                async def record_cancel() -> None:
                    try:
                        commit = journal.append({"kind": "cancelled"})
                        if commit is not None:
                            await commit
                    except Exception as exc:
                        print(f"flowpoint: could not journal cancellation: {exc}", file=sys.stderr)

                self._loop.create_task(record_cancel())

    def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def _finish_stream(self) -> None:
        self._stream_queue.put_nowait(_END)


def _entries(routed: list[tuple[int, Event, list[str]]]) -> list[list[Any]]:
    """Emitted events as journal entries: ``[id, type tag, JSON payload, targets]``."""
    return [[eid, type(ev).__qualname__, encode_event(ev), targets] for eid, ev, targets in routed]


def _jsonable(value: Any) -> Any:
    """The run's result as JSON for the ``stopped`` record, or its repr if it is not JSON."""
    from ..journal import json_copy

    try:
        return json_copy(value, "result")
    except Exception:
        if isinstance(value, Event):
            try:
                return {"event": type(value).__qualname__, "data": encode_event(value)}
            except Exception:
                pass
        return {"repr": repr(value)}


__all__ = ["RunEngine", "StepFailure"]
