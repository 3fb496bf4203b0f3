"""The units the engine schedules: a delivery (one event for one step), a step's slot in
one run, and what a running step did besides returning."""

from __future__ import annotations

import functools
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..events import Event

if TYPE_CHECKING:
    from ..context import Context
    from ..step import StepSpec


class Delivery:
    """One event for one step."""

    __slots__ = ("event", "event_id", "slot")

    def __init__(self, event: Event, event_id: int, slot: StepSlot) -> None:
        self.event = event
        self.event_id = event_id
        self.slot = slot


class StepSlot:
    """A step within one run: its queue and the deliveries it is working on."""

    __slots__ = ("active", "call", "limit", "name", "queue", "spec")

    def __init__(self, spec: StepSpec, call: Callable[[Event], Awaitable[Any]]) -> None:
        self.spec = spec
        self.name = spec.name
        self.call = call
        self.limit = spec.num_workers
        self.queue: deque[Delivery] = deque()
        self.active: set[Delivery] = set()


class Execution:
    """What a running step did besides returning: sends, stream writes, buffer changes."""

    __slots__ = ("buffers_changed", "delivery", "extra", "sent", "stream", "wait_calls")

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        # Events buffered by collect_events that were never delivered (so not journaled yet).
        self.extra: list[tuple[int, Event]] | None = None
        self.sent: list[tuple[Event, str | None]] | None = None
        self.stream: list[Event] | None = None
        self.buffers_changed = False
        self.wait_calls = 0


def bind_step(
    spec: StepSpec, instance: Any, ctx: Context[Any]
) -> Callable[[Event], Awaitable[Any]]:
    """A one-argument callable for the step, so the hot path builds no arguments."""
    fn = spec.fn.__get__(instance) if spec.is_method else spec.fn
    if spec.ctx_param is None:
        call: Callable[[Event], Any] = fn
    elif spec.ctx_first:
        call = functools.partial(fn, ctx)
    else:

        def call(event: Event) -> Any:
            return fn(event, ctx)

    if inspect.iscoroutinefunction(spec.fn):
        return call

    async def call_sync(event: Event) -> Any:
        return call(event)

    return call_sync
