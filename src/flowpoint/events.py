"""Typed events: the only thing steps exchange.

Events are pydantic models so that they validate on the way in and dump to plain JSON on
the way to the journal. Like LlamaIndex's events they also read like dicts (``ev["k"]``,
``ev.get("k")``), and ``StartEvent`` takes any keyword data.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base class of all events.

    >>> class Greeting(Event):
    ...     name: str
    >>> Greeting(name="Ada")["name"]
    'Ada'
    """

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def __getitem__(self, key: str) -> Any:
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (
            key in type(self).model_fields or key in (self.__pydantic_extra__ or {})
        )

    def get(self, key: str, default: Any = None) -> Any:
        """The field or extra data named ``key``, or ``default``."""
        if key in type(self).model_fields:
            return getattr(self, key)
        extra = self.__pydantic_extra__
        if extra is not None and key in extra:
            return extra[key]
        return default

    def keys(self) -> list[str]:
        return [*type(self).model_fields, *(self.__pydantic_extra__ or {})]

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-compatible data."""
        return self.model_dump(mode="json")


class StartEvent(Event):
    """The event a run starts with; ``workflow.run(**kwargs)`` puts the kwargs on it."""


class StopEvent(Event):
    """Returning this ends the run; ``result`` is what awaiting the handler gives."""

    result: Any = None


class InputRequiredEvent(Event):
    """Asks the outside world for input: written to the stream and marks the run as waiting."""


class HumanResponseEvent(Event):
    """The answer to an ``InputRequiredEvent``, sent in with ``ctx.send_event``."""


def event_tag(event_type: type[Event]) -> str:
    """The name an event type is stored under: its qualified name, never a module path."""
    return event_type.__qualname__


__all__ = [
    "Event",
    "HumanResponseEvent",
    "InputRequiredEvent",
    "StartEvent",
    "StopEvent",
    "event_tag",
]
