"""A live run as the context dict users know (``ctx.to_dict()``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import Event
from ..journal import RunFold, encode_event, render_context_dict

if TYPE_CHECKING:
    from .engine import RunEngine


def live_context_dict(engine: RunEngine) -> dict[str, Any]:
    """``ctx.to_dict()`` of a live (or finished) run."""
    fold = RunFold(history=True)
    fold.state = engine._store.to_json()
    fold.state_type = engine._store.type_name
    events: dict[int, Event] = dict(engine._broker_log)
    in_progress: list[tuple[int, str]] = []
    for slot in engine._slots.values():
        for delivery in slot.active:
            events[delivery.event_id] = delivery.event
            in_progress.append((delivery.event_id, slot.name))
            fold.pending[(delivery.event_id, slot.name)] = None
        for delivery in slot.queue:
            events[delivery.event_id] = delivery.event
            fold.pending[(delivery.event_id, slot.name)] = None
    for key, buffered in engine._buffers.items():
        fold.buffers[key] = [i for i, _ in buffered]
        events.update(buffered)
    for waiter_id, waiter in engine._waiters.items():
        events[waiter.delivery.event_id] = waiter.delivery.event
        info: dict[str, Any] = {
            "event": waiter.delivery.event_id,
            "step": waiter.delivery.slot.name,
            "type": waiter.event_type.__qualname__,
            "requirements": waiter.requirements,
            "resolved": None,
        }
        if waiter.resolved is not None:
            info["resolved"] = waiter.resolved[0]
            events[waiter.resolved[0]] = waiter.resolved[1]
        fold.waiters[waiter_id] = info
    fold.events = {
        eid: (type(ev).__qualname__, _encode_for_snapshot(ev)) for eid, ev in events.items()
    }
    fold.broker_log = [eid for eid, _ in engine._broker_log]
    fold.accepted = list(engine._accepted)
    fold.awaiting_input = engine._awaiting_input
    fold.next_event_id = engine._next_id
    return render_context_dict(
        fold,
        engine._slots,
        in_progress=in_progress,
        state_data=None if engine._store.type_name == "DictState" else fold.state,
        is_running=not engine.done,
        run_id=engine.run_id,
    )


def _encode_for_snapshot(event: Event) -> Any:
    try:
        return encode_event(event)
    except Exception:
        return {"repr": repr(event)}
