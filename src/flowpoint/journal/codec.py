"""Events to JSON and back, resolving type tags only against a closed registry.

Decoding never imports a module and never unpickles: a tag the workflow does not declare
is an error, not an instruction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from ..errors import (
    CorruptRecordError,
    EventValidationError,
    StateSerializationError,
    UnknownEventTypeError,
)
from ..events import Event, event_tag


def encode_event(event: Event) -> Any:
    """The event's payload as native JSON (what the journal stores)."""
    try:
        return event.model_dump(mode="json")
    except PydanticSerializationError as exc:
        raise StateSerializationError(
            f"{type(event).__name__} cannot be stored as JSON: {exc}. Give its fields JSON "
            "types (or pydantic models of them)."
        ) from exc


class EventRegistry:
    """The event types one workflow knows, by tag."""

    def __init__(self, event_types: Iterable[type[Event]] = ()) -> None:
        self._by_tag: dict[str, type[Event]] = {}
        for event_type in event_types:
            self.add(event_type)

    def add(self, event_type: type[Event]) -> None:
        tag = event_tag(event_type)
        known = self._by_tag.get(tag)
        if known is not None and known is not event_type:
            raise ValueError(
                f"Two event types are both named '{tag}' ({known.__module__} and "
                f"{event_type.__module__}); rename one so stored runs can tell them apart."
            )
        self._by_tag[tag] = event_type

    def __contains__(self, tag: object) -> bool:
        return tag in self._by_tag

    def tags(self) -> list[str]:
        return sorted(self._by_tag)

    def get(self, tag: str) -> type[Event] | None:
        return self._by_tag.get(tag)

    def decode(
        self, tag: Any, payload: Any, *, run_id: str | None = None, seq: int | None = None
    ) -> Event:
        """Rebuild an event, or raise an error that says which run and record is at fault."""
        if not isinstance(tag, str):
            raise CorruptRecordError(
                f"event type tag is {tag!r}, not a string", run_id=run_id, seq=seq
            )
        event_type = self._by_tag.get(tag)
        if event_type is None:
            raise UnknownEventTypeError(
                f"event type '{tag}' is not declared by this workflow (it knows: "
                f"{', '.join(self.tags())}). Nothing was imported. If the type is real, add it "
                "to a step's annotations or register it with Workflow.register_event_types().",
                run_id=run_id,
                seq=seq,
            )
        if not isinstance(payload, dict):
            raise CorruptRecordError(
                f"payload of a '{tag}' event is {type(payload).__name__}, not an object",
                run_id=run_id,
                seq=seq,
            )
        try:
            return event_type.model_validate(payload)
        except ValidationError as exc:
            raise EventValidationError(
                f"stored '{tag}' event does not validate: {_first_error(exc)}",
                run_id=run_id,
                seq=seq,
            ) from exc


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "(event)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"


__all__ = ["EventRegistry", "encode_event"]
