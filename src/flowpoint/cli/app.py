"""The Typer application; each command group lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(help="flowpoint: durable workflows with time travel.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Inspect, resume, fork and diff workflow runs."""


def main() -> None:
    app()
