"""The handle ``workflow.run()`` returns: await it for the result, stream its events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .errors import WorkflowCancelledByUser
from .events import Event

if TYPE_CHECKING:
    from .context import Context
    from .runtime.engine import RunEngine


class WorkflowHandler(asyncio.Future):  # type: ignore[type-arg]
    """A future of the run's result, with the run's context and event stream.

    >>> handler = workflow.run(topic="tea")          # doctest: +SKIP
    >>> async for ev in handler.stream_events():     # doctest: +SKIP
    ...     print(ev)
    >>> result = await handler                       # doctest: +SKIP
    """

    def __init__(self, ctx: Context[Any], run_id: str, *, loop: asyncio.AbstractEventLoop):
        super().__init__(loop=loop)
        self.ctx = ctx
        self.run_id = run_id
        self._engine: RunEngine | None = None

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<WorkflowHandler run_id={self.run_id!r} {state}>"

    async def stream_events(self) -> AsyncIterator[Event]:
        """Events written with ``ctx.write_event_to_stream`` (and the final StopEvent).

        Raises the run's exception, if it failed, once the stream is drained.
        """
        engine = self._engine
        if engine is None:
            return
        async for event in engine.stream():
            yield event
        if self.done() and not self.cancelled() and self.exception() is not None:
            raise self.exception()  # type: ignore[misc]

    async def cancel_run(self) -> None:
        """Stop the run: awaiting the handler then raises ``WorkflowCancelledByUser``."""
        if self._engine is not None and not self.done():
            await self._engine.cancel(WorkflowCancelledByUser(f"run {self.run_id} was cancelled"))

    def is_done(self) -> bool:
        return self.done()


__all__ = ["WorkflowHandler"]
