"""``Workflow``: a set of steps, checked once, run many times at once.

Everything derived from the class (steps, routing, the event registry, validation) is
computed once per class and shared by its instances and runs; a run only gets its own
queues, context and journal.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .context import Context
from .errors import WorkflowRuntimeError, WorkflowValidationError
from .events import (
    Event,
    HumanResponseEvent,
    InputRequiredEvent,
    StartEvent,
    StopEvent,
    event_tag,
)
from .handler import WorkflowHandler
from .journal import EventRegistry, RunFold, encode_event
from .step import StepSpec, read_step, step_options

_BUILTIN_EVENTS = (Event, StartEvent, StopEvent, InputRequiredEvent, HumanResponseEvent)


@dataclass
class WorkflowSpec:
    """What the runtime and the journal need to know about a workflow class."""

    identity: str
    version: str
    steps: dict[str, StepSpec]
    start_event_type: type[StartEvent]
    state_type: type | None
    registry: EventRegistry
    routes: dict[type, tuple[str, ...]] = field(default_factory=dict)

    def route(self, event_type: type) -> tuple[str, ...]:
        """The steps that take ``event_type`` (cached; subclasses go where their bases go).

        A type the workflow does not declare is refused here, when it is first emitted,
        rather than when a stored run holding it cannot be loaded back.
        """
        if self.registry.get(event_tag(event_type)) is not event_type:
            raise WorkflowRuntimeError(
                f"{self.identity} emitted a {event_type.__name__}, an event type it does not "
                "declare (no step annotation names it), so a run holding it could not be "
                f"loaded back. Add it to a step's annotations or call "
                f"{self.identity.rsplit(':', 1)[-1]}.register_event_types({event_type.__name__})."
            )
        steps = tuple(
            name
            for name, spec in self.steps.items()
            if any(issubclass(event_type, accepted) for accepted in spec.accepts)
        )
        self.routes[event_type] = steps
        return steps


class Workflow:
    """Subclass it and decorate methods with ``@step``; ``run()`` starts a run.

    >>> class Echo(Workflow):
    ...     @step
    ...     async def echo(self, ev: StartEvent) -> StopEvent:
    ...         return StopEvent(result=ev.get("text"))
    >>> await Echo(timeout=10).run(text="hi")     # doctest: +SKIP
    'hi'
    """

    _free_steps: ClassVar[dict[str, Any]] = {}
    _extra_event_types: ClassVar[tuple[type[Event], ...]] = ()
    _specs: ClassVar[dict[type, WorkflowSpec]] = {}

    def __init__(
        self,
        timeout: float | None = 45.0,
        verbose: bool = False,
        disable_validation: bool = False,
    ) -> None:
        self.timeout = timeout
        self.verbose = verbose
        self._disable_validation = disable_validation

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._free_steps = {}

    # ---- building the spec --------------------------------------------------------------------
    @classmethod
    def _add_free_step(cls, fn: Any) -> None:
        cls._free_steps[fn.__name__] = fn
        Workflow._specs.pop(cls, None)

    @classmethod
    def register_event_types(cls, *event_types: type[Event]) -> None:
        """Declare event types that no step annotation names but a run may carry (sent from
        outside, say), so stored runs holding them can be loaded."""
        cls._extra_event_types = (*cls._extra_event_types, *event_types)
        Workflow._specs.pop(cls, None)

    @classmethod
    def _spec(cls) -> WorkflowSpec:
        spec = Workflow._specs.get(cls)
        if spec is None:
            spec = _build_spec(cls)
            Workflow._specs[cls] = spec
        return spec

    def _run_spec(self) -> WorkflowSpec:
        if not self._disable_validation:
            return self._spec()
        spec = Workflow._specs.get(type(self))
        return spec if spec is not None else _build_spec(type(self), validate=False)

    @classmethod
    def identity(cls) -> str:
        """``module:qualname``: how stored runs name the workflow they belong to."""
        return cls._spec().identity

    @classmethod
    def version(cls) -> str:
        """A hash of the step set and its routing; changes when steps or their types do."""
        return cls._spec().version

    # ---- running ------------------------------------------------------------------------------
    def run(
        self,
        ctx: Context[Any] | None = None,
        start_event: StartEvent | None = None,
        **kwargs: Any,
    ) -> WorkflowHandler:
        """Start a run and return its handler; await the handler for the result.

        ``ctx`` reuses a context (its state carries over, or it continues the run it was
        restored from with ``Context.from_dict``); ``kwargs`` become the StartEvent's data.
        """
        return self._launch(ctx=ctx, start_event=start_event, kwargs=kwargs)

    def _launch(
        self,
        *,
        ctx: Context[Any] | None = None,
        start_event: StartEvent | None = None,
        kwargs: dict[str, Any] | None = None,
        run_id: str | None = None,
        journal_factory: Any = None,
        boot: dict[str, Any] | None = None,
    ) -> WorkflowHandler:
        """Start a run. ``journal_factory(run_id, started_record) -> (journal, boot_record)``
        lets the checkpointer journal it; ``boot`` is a resume or fork record."""
        from .runtime import RunEngine

        spec = self._run_spec()
        loop = asyncio.get_running_loop()
        ctx = ctx if ctx is not None else Context(self)
        if ctx.is_running:
            raise WorkflowValidationError("this context is already running a run")
        run_id = run_id or uuid.uuid4().hex
        handler = WorkflowHandler(ctx, run_id, loop=loop)
        live_events: dict[int, Event] = {}
        restored = ctx._restore
        journaled = journal_factory is not None
        boot_image: RunFold | dict[str, Any]
        if boot is not None:
            boot_image = boot
        elif restored is not None:
            ctx._restore = None
            boot_image = _started_from_fold(spec, restored) if journaled else restored
        else:
            if start_event is None:
                start_event = spec.start_event_type(**(kwargs or {}))
            elif kwargs:
                raise WorkflowValidationError("pass either start_event or keyword data, not both")
            live_events[1] = start_event
            boot_image = self._started_record(spec, ctx, start_event, journaled=journaled)
        journal = journal_factory(run_id, boot_image) if journal_factory is not None else None
        RunEngine(
            spec,
            self,
            ctx,
            handler,
            run_id=run_id,
            boot=boot_image,
            live_events=live_events,
            journal=journal,
            timeout=self.timeout,
            verbose=self.verbose,
        )
        return handler

    def _started_record(
        self, spec: WorkflowSpec, ctx: Context[Any], start_event: StartEvent, *, journaled: bool
    ) -> dict[str, Any]:
        # Without a journal the start event is used as it is (it may hold objects that JSON
        # cannot), so its payload is only encoded when the run is journaled.
        payload = encode_event(start_event) if journaled else {}
        tag = event_tag(type(start_event))
        targets = list(spec.routes.get(type(start_event)) or spec.route(type(start_event)))
        if not targets:
            raise WorkflowValidationError(
                f"no step of {spec.identity} takes {type(start_event).__name__}"
            )
        return {
            "kind": "started",
            "workflow": spec.identity,
            "version": spec.version,
            "snapshot": {
                "format": 1,
                "seq": -1,
                "state": ctx.store.to_json() if journaled else {},
                "state_type": ctx.store.type_name,
                "events": [[1, tag, payload]],
                "pending": [[1, name] for name in targets],
                "next_event_id": 2,
            },
        }


def _started_from_fold(spec: WorkflowSpec, fold: RunFold) -> dict[str, Any]:
    """A journaled run that starts from a restored context begins with that image."""
    snapshot = fold.to_snapshot()
    return {
        "kind": "started",
        "workflow": spec.identity,
        "version": spec.version,
        "snapshot": snapshot,
    }


# ---- reading and checking a workflow class ---------------------------------------------------
def _build_spec(cls: type[Workflow], validate: bool = True) -> WorkflowSpec:
    steps: dict[str, StepSpec] = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            options = step_options(member)
            if options is not None:
                steps[name] = read_step(name, member, options, is_method=True)
        for name, fn in getattr(klass, "_free_steps", {}).items():
            options = step_options(fn)
            if options is not None:
                steps[name] = read_step(name, fn, options, is_method=False)
    identity = f"{_importable_module(cls)}:{cls.__qualname__}"
    if not steps:
        raise WorkflowValidationError(f"{identity} has no steps; decorate methods with @step.")
    start_types = {t for s in steps.values() for t in s.accepts if issubclass(t, StartEvent)}
    if not start_types:
        raise WorkflowValidationError(
            f"{identity}: no step takes StartEvent, so a run could never begin. Annotate the "
            "first step's event parameter with StartEvent (or a subclass)."
        )
    if len(start_types) > 1:
        names = ", ".join(sorted(t.__name__ for t in start_types))
        raise WorkflowValidationError(f"{identity}: steps take several start event types ({names})")
    state_types = {s.state_type for s in steps.values() if s.state_type is not None}
    if len(state_types) > 1:
        raise WorkflowValidationError(
            f"{identity}: steps declare different state types "
            f"({', '.join(sorted(t.__name__ for t in state_types))})"
        )
    registry = EventRegistry()
    declared: tuple[type[Event], ...] = (
        *_BUILTIN_EVENTS,
        *start_types,
        *(t for s in steps.values() for t in (*s.accepts, *s.returns)),
        *cls._extra_event_types,
    )
    try:
        for event_type in declared:
            registry.add(event_type)
    except ValueError as exc:
        raise WorkflowValidationError(f"{identity}: {exc}") from exc
    fingerprint = "|".join(
        f"{name}:{','.join(sorted(map(event_tag, s.accepts)))}>"
        f"{','.join(sorted(map(event_tag, s.returns)))}"
        for name, s in sorted(steps.items())
    )
    spec = WorkflowSpec(
        identity=identity,
        version=hashlib.sha256(fingerprint.encode()).hexdigest()[:12],
        steps=steps,
        start_event_type=next(iter(start_types)),
        state_type=next(iter(state_types)) if state_types else None,
        registry=registry,
    )
    if validate:
        _validate(spec)
    return spec


def _importable_module(cls: type) -> str:
    """The module name a later process can import the class from: ``python -m pkg.mod``
    runs ``pkg.mod`` as ``__main__``, and runs recorded under ``__main__`` could never be
    resumed by the CLI."""
    if cls.__module__ == "__main__":
        main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if main_spec is not None and main_spec.name and main_spec.name != "__main__":
            return str(main_spec.name)
    return cls.__module__


def _validate(spec: WorkflowSpec) -> None:
    """Catch the mistakes that would otherwise show up as a run that hangs until its timeout."""
    consumers = {t for s in spec.steps.values() for t in s.accepts}

    def consumed(event_type: type) -> bool:
        return any(issubclass(event_type, accepted) for accepted in consumers)

    for name, s in spec.steps.items():
        for produced in s.returns:
            if issubclass(produced, (StopEvent, InputRequiredEvent)):
                continue
            if not consumed(produced):
                raise WorkflowValidationError(
                    f"{spec.identity}: step '{name}' produces {produced.__name__}, but no step "
                    "takes it. Add a step that accepts it, or remove it from the return "
                    "annotation."
                )
    available: set[type] = {spec.start_event_type, HumanResponseEvent}
    reached: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, s in spec.steps.items():
            if name in reached:
                continue
            if any(issubclass(a, t) or issubclass(t, a) for t in available for a in s.accepts):
                reached.add(name)
                available.update(s.returns)
                changed = True
    if not any(issubclass(t, StopEvent) for t in available):
        raise WorkflowValidationError(
            f"{spec.identity}: no step reachable from {spec.start_event_type.__name__} returns "
            "a StopEvent, so a run could never finish. Reached steps: "
            f"{', '.join(sorted(reached)) or 'none'}."
        )


__all__ = ["Workflow", "WorkflowSpec"]
