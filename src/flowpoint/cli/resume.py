"""``flowpoint resume RUN`` and ``flowpoint resume --interrupted``: finish what a crash left.

Finished steps never run again; steps that were in flight when the process died do.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..checkpointer import Checkpointer
from ..errors import FlowpointError
from ..events import Event
from ..history import resolve_run
from ..stores.base import RunInfo, Store
from ..workflow import Workflow
from ._errors import CliError
from ._options import DbOption, JsonOption, WorkflowCodeOption, parse_json_object
from ._output import emit_json, inline_json, short_id, status_text, stderr, stdout
from ._running import Outcome, finish, print_outcome, steps_print_to_stderr
from ._store import open_store
from ._workflows import instantiate, workflow_class_for
from .runs import list_runs


def resume(
    run: Annotated[
        str | None, typer.Argument(help="The run to continue (id or unique prefix).")
    ] = None,
    interrupted: Annotated[
        bool, typer.Option("--interrupted", help="Resume every interrupted run, with progress.")
    ] = False,
    answer: Annotated[
        str | None,
        typer.Option(
            "--answer",
            metavar="JSON",
            help='For a run waiting for input: the answer\'s fields, e.g. \'{"response": "yes"}\'.',
        ),
    ] = None,
    workflow: WorkflowCodeOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Continue a run that did not finish (a crash, a failure) from the end of its journal,
    here, until it ends."""
    if (run is None) == (not interrupted):
        raise CliError("give a RUN to resume, or --interrupted for every interrupted run")
    if answer is not None and run is None:
        raise CliError("--answer goes with one RUN that is waiting for input")
    fields = parse_json_object(answer, "--answer") if answer is not None else None
    skipped: list[tuple[RunInfo, str]] = []
    with open_store(db) as store:
        if run is not None:
            outcome = _resume_one(store, resolve_run(store, run), workflow, json_output, fields)
            outcomes = [outcome]
        else:
            outcomes, skipped = _resume_interrupted(store, workflow, json_output)
    if json_output:
        if run is not None:
            emit_json(outcomes[0].to_json())
        else:
            emit_json(
                {
                    "resumed": [o.to_json() for o in outcomes],
                    "skipped": [{"run_id": r.run_id, "reason": why} for r, why in skipped],
                }
            )
    if any(o.status != "completed" for o in outcomes) or skipped:
        raise typer.Exit(1)


def _resume_one(
    store: Store,
    run: RunInfo,
    workflow: str | None,
    json_output: bool,
    answer: dict[str, Any] | None = None,
) -> Outcome:
    if run.status == "completed":
        raise CliError(
            f"run {short_id(run.run_id)} already completed",
            f"fork it from a checkpoint to run it again: `flowpoint checkpoints "
            f"{short_id(run.run_id)}`",
        )
    if run.status == "running":
        raise CliError(
            f"run {short_id(run.run_id)} is still running in process {run.owner}",
            "resuming it here too would run its steps twice; wait for it, or stop that process",
        )
    if run.status == "waiting" and answer is None:
        raise CliError(
            f"run {short_id(run.run_id)} is waiting for input, not interrupted",
            "answer it with --answer JSON (the fields of the event it waits for)",
        )
    if answer is not None and run.status != "waiting":
        raise CliError(f"run {short_id(run.run_id)} is {run.status}, not waiting for input")
    checkpointer = Checkpointer(instantiate(workflow_class_for(run, workflow)), store=store)
    event = _answer_event(checkpointer, run, answer) if answer is not None else None
    console = stdout()
    if not json_output:
        console.print(
            f"Resuming {short_id(run.run_id)} ({run.status}) after seq {run.last_seq}",
            style="bold",
            markup=False,
        )

    async def go() -> Outcome:
        with steps_print_to_stderr(json_output):
            return await finish(checkpointer.resume(run.run_id, event=event))

    outcome = asyncio.run(go())
    if not json_output:
        print_outcome(console, outcome)
    return outcome


def _answer_event(checkpointer: Checkpointer, run: RunInfo, fields: dict[str, Any]) -> Event:
    """The answer as the event type the run waits for, validated before anything runs."""
    awaited = checkpointer.awaited_event_types(run.run_id)
    if not awaited:
        raise CliError(f"run {short_id(run.run_id)} is not waiting for any event")
    event_type = awaited[0]
    try:
        return event_type.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(event)"
        raise CliError(
            f"the answer is not a valid {event_type.__name__}: {where}: {first['msg']}"
        ) from None


def _resume_interrupted(
    store: Store, workflow: str | None, json_output: bool
) -> tuple[list[Outcome], list[tuple[RunInfo, str]]]:
    runs = list(reversed(list_runs(store, status="interrupted")))
    console = stderr() if json_output else stdout()
    if not runs:
        if not json_output:
            console.print("No interrupted runs.")
        return [], []
    classes: dict[str, type[Workflow]] = {}
    ready: list[RunInfo] = []
    skipped: list[tuple[RunInfo, str]] = []
    for run in runs:
        try:
            classes.setdefault(run.workflow, workflow_class_for(run, workflow))
            ready.append(run)
        except (CliError, FlowpointError) as exc:
            skipped.append((run, str(exc)))
    outcomes = asyncio.run(_resume_all(store, ready, classes, console, json_output))
    if not json_output:
        _print_summary(console, outcomes, skipped)
    return outcomes, skipped


async def _resume_all(
    store: Store,
    runs: list[RunInfo],
    classes: dict[str, type[Workflow]],
    console: Console,
    json_output: bool,
) -> list[Outcome]:
    """Resume every run at once and count them off as each ends."""
    if not runs:
        return []
    checkpointers = {
        identity: Checkpointer(instantiate(cls), store=store) for identity, cls in classes.items()
    }
    outcomes: list[Outcome] = []
    columns = (
        TextColumn("resuming interrupted runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress, steps_print_to_stderr(json_output):
        task = progress.add_task("resume", total=len(runs))
        handlers = [checkpointers[run.workflow].resume(run.run_id) for run in runs]
        for next_done in asyncio.as_completed([finish(h) for h in handlers]):
            outcomes.append(await next_done)
            progress.advance(task)
    return outcomes


def _print_summary(
    console: Console, outcomes: list[Outcome], skipped: list[tuple[RunInfo, str]]
) -> None:
    if outcomes:
        table = Table(header_style="bold", box=None, pad_edge=False)
        table.add_column("run", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("result or error")
        for outcome in outcomes:
            detail = (
                inline_json(outcome.result, 80)
                if outcome.status == "completed"
                else Text(outcome.error or "", style="red")
            )
            table.add_row(short_id(outcome.run_id), status_text(outcome.status), detail)
        console.print(table)
    for run, why in skipped:
        console.print(
            f"skipped {short_id(run.run_id)} ({run.workflow}): {why}", style="yellow", markup=False
        )


__all__ = ["resume"]
