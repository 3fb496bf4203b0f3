"""User errors print one red line and exit 2; ``--debug`` adds the traceback.

A user who typed a wrong run id needs to know what was wrong and what to do, not where in
flowpoint it was noticed. Errors flowpoint raises on purpose (``FlowpointError``) and the
CLI's own (``CliError``) are user errors; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import FlowpointError
from ._output import stderr

USER_ERROR_EXIT = 2
DEBUG_KEY = "flowpoint.debug"


class CliError(Exception):
    """A mistake in what the user asked for: the message says what, the hint what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message + (f"; {hint}" if hint else ""))


class ErrorReportingGroup(TyperGroup):
    """The root command group: turns user errors raised by any command into one line."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (FlowpointError, CliError) as exc:
            report(exc, debug=bool(ctx.meta.get(DEBUG_KEY)))
            raise typer.Exit(USER_ERROR_EXIT) from None


def report(exc: BaseException, *, debug: bool = False) -> None:
    """Print the error on stderr: its traceback first when debugging, then one red line."""
    console = stderr()
    if debug:
        console.print(
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            markup=False,
            highlight=False,
            style="dim",
        )
    message = " ".join(str(exc).split()) or type(exc).__name__
    console.print(
        f"error: {message}", style="bold red", markup=False, highlight=False, soft_wrap=True
    )


__all__ = ["DEBUG_KEY", "USER_ERROR_EXIT", "CliError", "ErrorReportingGroup", "report"]
