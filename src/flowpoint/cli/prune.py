"""``flowpoint prune``: retention. Shows what it would delete and asks first."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from ..stores.base import STATUSES, RunInfo, Store
from ._errors import CliError
from ._options import DbOption, JsonOption, parse_duration
from ._output import emit_json, plural, short_id, stdout
from ._store import open_store
from .runs import list_runs, runs_table

#: Runs that may be going on are never pruned, whatever their age.
_LIVE = ("running", "waiting")


def prune(
    older_than: Annotated[
        str,
        typer.Option("--older-than", metavar="AGE", help="Delete runs started before, e.g. 30d."),
    ],
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status, e.g. completed.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete old runs and their journals. Running and waiting runs are kept, and so is a
    run whose forks are kept (they read their history from it)."""
    if status is not None and status not in STATUSES:
        raise CliError(f"--status {status!r} is not a status", f"use one of {', '.join(STATUSES)}")
    if status in _LIVE:
        raise CliError(f"runs that are {status} are never pruned", "pick another --status")
    cutoff = time.time() - parse_duration(older_than, "--older-than")
    console = stdout()
    with open_store(db) as store:
        doomed, kept = select_prunable(store, cutoff, status)
        if not json_output:
            _describe(console, doomed, kept, older_than)
        if not doomed:
            if json_output:
                emit_json({"deleted": 0, "run_ids": [], "kept_for_forks": kept})
            return
        question = f"Delete {plural(len(doomed), 'run')}?"
        if not yes and not typer.confirm(question, default=False, err=True):
            console.print("Nothing deleted.")
            raise typer.Exit(1)
        deleted = store.delete_runs(run.run_id for run in doomed)
    if json_output:
        emit_json(
            {"deleted": deleted, "run_ids": [r.run_id for r in doomed], "kept_for_forks": kept}
        )
    else:
        console.print(f"Deleted {plural(deleted, 'run')}.", style="bold")


def select_prunable(
    store: Store, cutoff: float, status: str | None
) -> tuple[list[RunInfo], list[str]]:
    """Runs started before ``cutoff`` that can go, and the ids of those kept for forks."""
    candidates = [
        run
        for run in list_runs(store, status=status)
        if run.created_at < cutoff and run.status not in _LIVE
    ]
    doomed_ids = {run.run_id for run in candidates}
    changed = True
    while changed:  # a kept fork keeps its parent, which may keep its own parent
        changed = False
        for run in store.list_runs():
            parent = run.parent_run_id
            if parent in doomed_ids and run.run_id not in doomed_ids:
                doomed_ids.discard(parent)
                changed = True
    kept = sorted(run.run_id for run in candidates if run.run_id not in doomed_ids)
    return [run for run in candidates if run.run_id in doomed_ids], kept


def _describe(console: Console, doomed: list[RunInfo], kept: list[str], age: str) -> None:
    if kept:
        console.print(
            f"Keeping {plural(len(kept), 'run')} that newer forks read their history from: "
            + ", ".join(short_id(k) for k in kept),
            style="dim",
            markup=False,
        )
    if not doomed:
        console.print(f"No runs older than {age} to delete.")
        return
    console.print(f"{plural(len(doomed), 'run')} older than {age} will be deleted:", markup=False)
    console.print(runs_table(doomed[:20]))
    if len(doomed) > 20:
        console.print(f"... and {len(doomed) - 20} more", style="dim")


__all__ = ["prune", "select_prunable"]
