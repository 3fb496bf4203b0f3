"""``@step`` and reading a step's signature.

A step is routed by its type hints: the event parameter's annotation says which events it
takes (a Union takes several), the return annotation which events it may emit. Hints are
read when the workflow is first built, not when the decorator runs, so that postponed
annotations and event classes defined after the workflow (or inside a test function) work.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_args, get_origin, overload

from .errors import WorkflowValidationError
from .events import Event
from .retry_policy import RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])

_STEP_ATTR = "__flowpoint_step__"


@dataclass
class StepOptions:
    """What ``@step(...)`` was given; the signature is read later, into a ``StepSpec``."""

    num_workers: int = 4
    retry_policy: RetryPolicy | None = None
    # Namespaces in force where the step was defined, for resolving postponed annotations.
    localns: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class StepSpec:
    """A step as the runtime sees it."""

    name: str
    fn: Callable[..., Any]
    accepts: tuple[type[Event], ...]
    returns: tuple[type[Event], ...]
    event_param: str
    ctx_param: str | None
    ctx_first: bool
    state_type: type | None
    num_workers: int
    retry_policy: RetryPolicy | None
    is_method: bool


@overload
def step(fn: F) -> F: ...


@overload
def step(
    *,
    num_workers: int = 4,
    retry_policy: RetryPolicy | None = None,
    workflow: Any = None,
) -> Callable[[F], F]: ...


def step(
    fn: Any = None,
    *,
    num_workers: int = 4,
    retry_policy: RetryPolicy | None = None,
    workflow: Any = None,
) -> Any:
    """Mark a method of a ``Workflow`` subclass (or, with ``workflow=``, a function) as a step.

    >>> class Hello(Workflow):
    ...     @step
    ...     async def greet(self, ev: StartEvent) -> StopEvent:
    ...         return StopEvent(result=f"hello {ev.get('name')}")
    """
    if num_workers < 1:
        raise WorkflowValidationError(f"num_workers must be at least 1, got {num_workers}")
    localns = _defining_namespaces()

    def decorate(func: F) -> F:
        setattr(
            func,
            _STEP_ATTR,
            StepOptions(num_workers=num_workers, retry_policy=retry_policy, localns=localns),
        )
        if workflow is not None:
            workflow._add_free_step(func)
        return func

    if fn is not None:
        return decorate(fn)
    return decorate


def _defining_namespaces() -> dict[str, Any]:
    """Locals of the class body and of the functions around it, where event types may live.

    Frames are kept, not their locals, so that a class defined after the decorator ran (or
    later in the same test function) is still found when the workflow is built.
    """
    frames: list[types.FrameType] = []
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None and len(frames) < 3 and frame.f_code.co_name != "<module>":
        frames.append(frame)
        frame = frame.f_back
    return _FrameLocals(frames)


class _FrameLocals(dict):  # type: ignore[type-arg]
    """A namespace that reads the kept frames' locals when a name is looked up."""

    def __init__(self, frames: list[types.FrameType]) -> None:
        super().__init__()
        self._frames = frames

    def __missing__(self, key: str) -> Any:
        for frame in self._frames:
            scope = frame.f_locals
            if key in scope:
                return scope[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(key in frame.f_locals for frame in self._frames)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default


def step_options(fn: Any) -> StepOptions | None:
    return getattr(fn, _STEP_ATTR, None)


def read_step(name: str, fn: Callable[..., Any], options: StepOptions, is_method: bool) -> StepSpec:
    """Turn a decorated function into a ``StepSpec``, or say exactly what is wrong with it."""
    from .context import Context  # the user model sits beside this module

    try:
        hints = typing.get_type_hints(fn, globalns=fn.__globals__, localns=options.localns)
    except NameError as exc:
        raise WorkflowValidationError(
            f"Step '{name}': cannot resolve an annotation ({exc}). Define the event type at "
            "module level or before the workflow class."
        ) from exc
    params = list(inspect.signature(fn).parameters.values())
    if is_method:
        params = params[1:]
    event_param: str | None = None
    ctx_param: str | None = None
    ctx_first = False
    state_type: type | None = None
    accepts: tuple[type[Event], ...] = ()
    for param in params:
        hint = hints.get(param.name)
        if hint is not None and _is_context(hint, Context):
            ctx_param = param.name
            ctx_first = event_param is None
            args = get_args(hint)
            state_type = args[0] if args else None
            continue
        if hint is None and param.name == "ctx":
            ctx_param = param.name
            ctx_first = event_param is None
            continue
        if event_param is not None:
            raise WorkflowValidationError(
                f"Step '{name}' has more than one event parameter ('{event_param}' and "
                f"'{param.name}'); a step takes one event and optionally ctx: Context."
            )
        if hint is None:
            raise WorkflowValidationError(
                f"Step '{name}': parameter '{param.name}' has no type annotation; annotate it "
                "with the event type(s) the step accepts."
            )
        accepts = _event_types(hint, name, f"parameter '{param.name}'")
        event_param = param.name
    if event_param is None:
        raise WorkflowValidationError(f"Step '{name}' must take an event parameter.")
    if "return" not in hints:
        raise WorkflowValidationError(
            f"Step '{name}' has no return annotation; annotate it with the event type(s) it "
            "returns (or None)."
        )
    returns = _event_types(hints["return"], name, "return annotation", allow_none=True)
    return StepSpec(
        name=name,
        fn=fn,
        accepts=accepts,
        returns=returns,
        event_param=event_param,
        ctx_param=ctx_param,
        ctx_first=ctx_first,
        state_type=state_type,
        num_workers=options.num_workers,
        retry_policy=options.retry_policy,
        is_method=is_method,
    )


def _is_context(hint: Any, context_cls: type) -> bool:
    origin = get_origin(hint) or hint
    return isinstance(origin, type) and issubclass(origin, context_cls)


def _event_types(
    hint: Any, step_name: str, where: str, allow_none: bool = False
) -> tuple[type[Event], ...]:
    members = get_args(hint) if _is_union(hint) else (hint,)
    found: list[type[Event]] = []
    for member in members:
        if member is type(None) or member is None:
            if allow_none:
                continue
            raise WorkflowValidationError(f"Step '{step_name}': {where} cannot accept None.")
        if member is typing.Any:
            raise WorkflowValidationError(
                f"Step '{step_name}': {where} is Any; name the event types instead."
            )
        if not (isinstance(member, type) and issubclass(member, Event)):
            raise WorkflowValidationError(
                f"Step '{step_name}': {where} names {member!r}, which is not an Event subclass."
            )
        found.append(member)
    return tuple(found)


def _is_union(hint: Any) -> bool:
    origin = get_origin(hint)
    return origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType)


__all__ = ["StepOptions", "StepSpec", "read_step", "step", "step_options"]
