"""Steps parked on ``ctx.wait_for_event``: the waiter they leave behind, and the signal
that parks them."""

from __future__ import annotations

from typing import Any

from ..events import Event
from ._delivery import Delivery


class Waiter:
    __slots__ = ("delivery", "event_type", "requirements", "resolved")

    def __init__(
        self, delivery: Delivery, event_type: type[Event], requirements: dict[str, Any]
    ) -> None:
        self.delivery = delivery
        self.event_type = event_type
        self.requirements = requirements
        self.resolved: tuple[int, Event] | None = None

    def matches(self, event: Event) -> bool:
        if self.resolved is not None or not isinstance(event, self.event_type):
            return False
        return all(event.get(k) == v for k, v in self.requirements.items())


class Park(BaseException):
    """Raised by ``wait_for_event`` to park the step; a BaseException so steps' broad
    ``except Exception`` blocks do not swallow it."""

    def __init__(
        self,
        waiter_id: str,
        event_type: type[Event],
        requirements: dict[str, Any],
        prompt: Event | None,
        timeout: float | None = None,
    ) -> None:
        self.waiter_id = waiter_id
        self.event_type = event_type
        self.requirements = requirements
        self.prompt = prompt
        self.timeout = timeout
