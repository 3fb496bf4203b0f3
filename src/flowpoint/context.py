"""The context a run's steps share: its state, and the way to send and wait for events.

State is JSON (or a pydantic model of JSON fields) because it is journaled: a value JSON
cannot hold is refused at ``set``, where the mistake is, not at resume days later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from .errors import ContextSerdeError, JournalError, StateKeyError, StateSerializationError
from .events import Event
from .journal import check_json, diff_state, json_copy, parse_context_dict

if TYPE_CHECKING:
    from .journal import RunFold
    from .runtime.engine import RunEngine
    from .workflow import Workflow

StateT = TypeVar("StateT")

_NO_DEFAULT: Any = object()


class DictState(dict):  # type: ignore[type-arg]
    """The default state: a dict whose keys also read as attributes (``state.count``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]


class StateStore(Generic[StateT]):
    """``ctx.store``: get and set state by key (dotted paths reach into dicts).

    >>> await ctx.store.set("history", [])                 # doctest: +SKIP
    >>> async with ctx.store.edit_state() as state:        # doctest: +SKIP
    ...     state["history"].append("hi")
    """

    def __init__(self, state_type: type | None = None, data: Mapping[str, Any] | None = None):
        self.state_type = state_type
        self._model: BaseModel | None = None
        self._data: DictState = DictState()
        # Top-level keys read or written since the last journal record; only these are
        # diffed when the record is built (``None`` means "all").
        self._touched: set[str] | None = set()
        self._lock: asyncio.Lock | None = None
        # The list last checked per key and how long it was, so setting the same list
        # after appending to it checks only the new items (not the whole list every step).
        self._checked: dict[str, tuple[list[Any], int]] = {}
        if state_type is not None and issubclass(state_type, BaseModel):
            try:
                self._model = state_type.model_validate(dict(data or {}))
            except Exception as exc:
                raise StateSerializationError(
                    f"state type {state_type.__name__} cannot be built from {dict(data or {})!r}"
                    f": {exc}. Typed state needs defaults for every field."
                ) from exc
        elif data:
            self._data.update(json_copy(dict(data), "state"))

    # ---- the API steps use --------------------------------------------------------------
    async def get(self, path: str, default: Any = _NO_DEFAULT) -> Any:
        """The value at ``path``; without a default a missing key raises ``StateKeyError``."""
        head = path.split(".", 1)[0] if "." in path else path
        if self._touched is not None:
            self._touched.add(head)
        try:
            if self._model is not None:
                value: Any = self._model
                for part in path.split("."):
                    value = value[part] if isinstance(value, dict) else getattr(value, part)
                return value
            if "." not in path:
                return self._data[path]
            value = self._data
            for part in path.split("."):
                value = value[int(part)] if isinstance(value, list) else value[part]
            return value
        except (KeyError, AttributeError, IndexError, ValueError, TypeError):
            if default is not _NO_DEFAULT:
                return default
            raise StateKeyError(
                f"state has no key '{path}'; set it first or pass a default: "
                f"ctx.store.get({path!r}, default=...)"
            ) from None

    async def set(self, path: str, value: Any) -> None:
        """Set ``path``; a value JSON cannot hold raises ``StateSerializationError`` here."""
        head = path.split(".", 1)[0] if "." in path else path
        if self._touched is not None:
            self._touched.add(head)
        if self._model is not None:
            self._set_on_model(path, value)
            return
        self._check(path, value)
        if "." not in path:
            self._data[path] = value
            return
        *parents, last = path.split(".")
        target: Any = self._data
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise StateKeyError(
                    f"state path '{path}' goes through a non-dict value at '{part}'"
                )
        target[last] = value

    def _check(self, path: str, value: Any) -> None:
        if type(value) is not list:
            check_json(value, path)
            return
        seen = self._checked.get(path)
        start = seen[1] if seen is not None and seen[0] is value and len(value) >= seen[1] else 0
        # Items before ``start`` were checked when this same list was set before; if one
        # was replaced in place since, the step's journal record still refuses it.
        check_json(value[start:] if start else value, path)
        self._checked[path] = (value, len(value))

    def _set_on_model(self, path: str, value: Any) -> None:
        assert self._model is not None
        *parents, last = path.split(".")
        target: Any = self._model
        for part in parents:
            target = target[part] if isinstance(target, dict) else getattr(target, part)
        if isinstance(target, dict):
            target[last] = value
        else:
            setattr(target, last, value)
        head = path.split(".", 1)[0]
        try:
            self._model.model_dump(mode="json", include={head})
        except PydanticSerializationError as exc:
            raise StateSerializationError(
                f"State key '{path}' cannot be stored as JSON: {exc}"
            ) from exc

    @asynccontextmanager
    async def edit_state(self) -> AsyncIterator[Any]:
        """Edit the whole state under a lock, so concurrent steps do not interleave edits."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._touched = None
            yield self._model if self._model is not None else self._data
            if self._model is None:
                for key, value in self._data.items():
                    check_json(value, key)

    async def get_state(self) -> Any:
        """A copy of the whole state (the model for typed state)."""
        if self._model is not None:
            return self._model.model_copy(deep=True)
        return DictState(json_copy(dict(self._data), "state"))

    async def set_state(self, state: Any) -> None:
        self._touched = None
        if self._model is not None:
            self._model = type(self._model).model_validate(
                state.model_dump() if isinstance(state, BaseModel) else state
            )
            return
        values = dict(state)
        check_json(values, "state")
        self._data.clear()
        self._data.update(values)

    async def clear(self) -> None:
        self._touched = None
        if self._model is not None:
            self._model = type(self._model)()
        else:
            self._data.clear()

    # ---- what the runtime and journal need ----------------------------------------------
    @property
    def type_name(self) -> str:
        return type(self._model).__qualname__ if self._model is not None else "DictState"

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (a copy)."""
        if self._model is not None:
            return self._model.model_dump(mode="json")
        return json_copy(dict(self._data), "state")

    def load_json(self, data: Mapping[str, Any]) -> None:
        if self._model is not None:
            self._model = type(self._model).model_validate(dict(data))
        else:
            self._data.clear()
            self._data.update(json_copy(dict(data), "state"))
        self._touched = set()

    def take_delta(self, committed: dict[str, Any]) -> Any:
        """What changed since the last record, relative to ``committed`` (which is updated)."""
        touched = self._touched
        if touched is not None and not touched:
            return None
        self._touched = set()
        if self._model is not None:
            live = self._model.model_dump(mode="json")
            return diff_state(live, committed, live.keys() | committed.keys())
        if touched is None:
            return diff_state(self._data, committed, self._data.keys() | committed.keys())
        return diff_state(self._data, committed, touched)


class Context(Generic[StateT]):
    """What a step can reach beyond its event: state, sending, collecting, waiting, streaming.

    ``Context(workflow)`` made by hand and passed to ``workflow.run(ctx=ctx)`` keeps its
    state across runs, the way a conversation keeps its memory.
    """

    def __init__(self, workflow: Workflow, *, _restore: RunFold | None = None) -> None:
        self._workflow = workflow
        spec = workflow._spec()
        self._state_type = spec.state_type
        self._store: StateStore[StateT] = StateStore(
            spec.state_type, _restore.state if _restore is not None else None
        )
        self._engine: RunEngine | None = None
        self._restore = _restore

    @property
    def store(self) -> StateStore[StateT]:
        return self._store

    @property
    def run_id(self) -> str | None:
        return self._engine.run_id if self._engine is not None else None

    @property
    def is_running(self) -> bool:
        return self._engine is not None and not self._engine.done

    # The seed's (and older LlamaIndex's) spelling of ctx.store.get / set.
    async def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        return await self._store.get(key, default)

    async def set(self, key: str, value: Any) -> None:
        await self._store.set(key, value)

    def send_event(self, event: Event, step: str | None = None) -> None:
        """Send an event to every step that takes it (or only to ``step``).

        Inside a step the event leaves with the step's own output, after its journal
        record commits; from outside it is journaled and dispatched at once.
        """
        self._running_engine().send(event, step)

    def write_event_to_stream(self, event: Event | None) -> None:
        """Hand an event to whoever reads ``handler.stream_events()``."""
        if event is not None:
            self._running_engine().write_to_stream(event)

    def collect_events(
        self, event: Event, expected: list[type[Event]], buffer_id: str | None = None
    ) -> list[Event] | None:
        """Buffer ``event``; once one event of each ``expected`` type is in, return them."""
        return self._running_engine().collect(event, expected, buffer_id)

    async def wait_for_event(
        self,
        event_type: type[Event],
        waiter_event: Event | None = None,
        waiter_id: str | None = None,
        requirements: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Wait for an event from outside (a human's answer, typically).

        The step is parked, not kept in memory: when the event comes (even in another
        process, after a restart) the step runs again from its top and this call returns
        the event. Keep work before it safe to repeat. ``timeout`` (seconds, counted in
        this process) fails the run with ``WorkflowTimeoutError`` if no answer comes; the
        default waits as long as the run may.
        """
        return self._running_engine().wait_for(
            event_type, waiter_event, waiter_id, requirements, timeout
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON snapshot of the run: state, queues, accepted events, broker log."""
        if self._engine is not None:
            return self._engine.snapshot_dict()
        from .journal import RunFold, render_context_dict

        fold = self._restore or RunFold(history=True)
        if self._restore is None:
            fold.state = self._store.to_json()
            fold.state_type = self._store.type_name
        return render_context_dict(fold, self._workflow._spec().steps)

    @classmethod
    def from_dict(cls, workflow: Workflow, data: Mapping[str, Any]) -> Context[Any]:
        """Rebuild a context from ``to_dict()``; ``workflow.run(ctx=...)`` continues the run."""
        fold = parse_context_dict(data)
        registry = workflow._spec().registry
        try:
            for tag, payload in fold.events.values():
                registry.decode(tag, payload)
        except JournalError as exc:
            raise ContextSerdeError(f"context snapshot cannot be restored: {exc}") from exc
        try:
            return cls(workflow, _restore=fold)
        except StateSerializationError as exc:
            raise ContextSerdeError(str(exc)) from exc

    def _running_engine(self) -> RunEngine:
        engine = self._engine
        if engine is None or engine.done:
            from .errors import WorkflowRuntimeError

            raise WorkflowRuntimeError(
                "this context has no running run; start one with workflow.run(ctx=ctx)"
            )
        return engine


__all__ = ["Context", "DictState", "StateStore"]
