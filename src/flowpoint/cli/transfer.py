"""``flowpoint export`` and ``flowpoint import``: runs as a versioned JSON file.

The format is documented in ``flowpoint.export``. Importing only parses and appends: it
never imports a module or runs a step, whatever the file says.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..export import dumps, export_runs, import_document, loads
from ..history import resolve_run
from ._errors import CliError
from ._options import DbOption, JsonOption, read_text
from ._output import emit_json, plural, short_id, status_text, stderr, stdout
from ._store import open_store


def export(
    runs: Annotated[
        list[str] | None, typer.Argument(metavar="RUN...", help="Runs to export (ids or prefixes).")
    ] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Export every run.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    ancestors: Annotated[
        bool,
        typer.Option(
            "--ancestors/--no-ancestors",
            help="Include the runs a fork was forked from, so the file reads on its own.",
        ),
    ] = True,
    db: DbOption = None,
) -> None:
    """Write runs (their metadata and every journal record) as JSON: `flowpoint export RUN >
    run.json`. `flowpoint import` reads it back exactly."""
    if not runs and not all_runs:
        raise CliError("name the runs to export, or pass --all")
    with open_store(db) as store:
        if all_runs:
            ids = [info.run_id for info in reversed(store.list_runs())]
        else:
            ids = [resolve_run(store, ref).run_id for ref in runs or ()]
        document = export_runs(store, ids, ancestors=ancestors)
    text = dumps(document)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    stderr().print(
        f"Wrote {plural(len(document['runs']), 'run')} to {output}", markup=False, style="dim"
    )


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help="An export file (- for stdin).")],
    rename: Annotated[
        bool,
        typer.Option("--rename", help="Give the imported runs new ids (when they exist here)."),
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add the runs of an export file to the database. Nothing in the file is executed; a
    run id that is already here is refused unless --rename."""
    source = "stdin" if file == "-" else file
    document = loads(read_text(file, "FILE"), source=source)
    with open_store(db, create=True) as store:
        imported = import_document(store, document, rename=rename, source=source)
    if json_output:
        emit_json(
            [
                {
                    "original_id": r.original_id,
                    "run_id": r.run_id,
                    "workflow": r.workflow,
                    "status": r.status,
                    "records": r.records,
                }
                for r in imported
            ]
        )
        return
    console = stdout()
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("run", no_wrap=True)
    table.add_column("workflow")
    table.add_column("status", no_wrap=True)
    table.add_column("records", justify="right")
    for run in imported:
        name = short_id(run.run_id)
        if run.original_id != run.run_id:
            name += f" (was {short_id(run.original_id)})"
        table.add_row(name, run.workflow, status_text(run.status), str(run.records))
    console.print(
        f"Imported {plural(len(imported), 'run')} from {source}", style="bold", markup=False
    )
    console.print(table)


__all__ = ["export", "import_"]
