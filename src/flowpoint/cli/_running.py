"""Running a resumed or forked run to its end in this process, and saying how it ended.

The CLI process is the run's executor: it stays until the run finishes (or fails), so
the run is never left half-done behind a command that returned.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from ..handler import WorkflowHandler
from ._output import inline_json, short_id, status_text


@dataclass
class Outcome:
    """How a run this command drove ended."""

    run_id: str
    status: str
    result: Any = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run_id": self.run_id, "status": self.status}
        if self.status == "completed":
            data["result"] = self.result
        if self.error is not None:
            data["error"] = self.error
        return data


async def finish(handler: WorkflowHandler) -> Outcome:
    """Await the run; a step's exception becomes a failed outcome, not a crash of the CLI."""
    try:
        result = await handler
    except Exception as exc:
        return Outcome(handler.run_id, "failed", error=f"{type(exc).__name__}: {exc}")
    return Outcome(handler.run_id, "completed", result=result)


@contextlib.contextmanager
def steps_print_to_stderr(enabled: bool) -> Iterator[None]:
    """With ``--json``, whatever steps print goes to stderr so stdout stays parseable."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def print_outcome(console: Console, outcome: Outcome, *, show_result: bool = True) -> None:
    line = status_text(outcome.status)
    line.append(f"  run {short_id(outcome.run_id)}", style="bold")
    console.print(line)
    if outcome.status == "completed" and show_result:
        console.print("result ", end="")
        console.print(inline_json(outcome.result, limit=None))
    if outcome.error:
        console.print(outcome.error, style="red", markup=False)
        console.print(
            f"see the failure with `flowpoint show {short_id(outcome.run_id)}`",
            markup=False,
            style="dim",
        )


__all__ = ["Outcome", "finish", "print_outcome", "steps_print_to_stderr"]
