"""The Typer application: global options, and the commands wired from their modules.

Each command lives with its concept (runs.py: listing and showing; state.py: checkpoints
and state; fork.py, resume.py, diff.py, transfer.py, prune.py, graph.py, demo.py); this
module only assembles them, so `flowpoint --help` lists them in the order a user needs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from ._errors import DEBUG_KEY, ErrorReportingGroup
from .demo import demo
from .diff import diff
from .fork import fork
from .graph import graph
from .prune import prune
from .resume import resume
from .runs import runs, show
from .state import checkpoints, state
from .transfer import export, import_

app = typer.Typer(
    cls=ErrorReportingGroup,
    help="flowpoint: durable workflows with time travel. Inspect, resume, fork and diff runs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowpoint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback behind an error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Inspect, resume, fork and diff workflow runs.

    Every command reads --db PATH_OR_DSN, else $FLOWPOINT_DB, else .flowpoint/flowpoint.db.
    """
    ctx.meta[DEBUG_KEY] = debug


app.command()(demo)
app.command()(runs)
app.command()(show)
app.command()(checkpoints)
app.command()(state)
app.command()(resume)
app.command()(fork)
app.command()(diff)
app.command()(export)
app.command("import")(import_)
app.command()(prune)
app.command()(graph)


def main() -> None:
    """The ``flowpoint`` console script."""
    app(prog_name="flowpoint")


__all__ = ["app", "main"]
