"""``flowpoint runs`` and ``flowpoint show RUN``: finding a run and reading what it did."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..history import Entry, EventView, Timeline, resolve_run, run_duration, run_json, timeline
from ..stores.base import STATUSES, RunInfo, Store, effective_status
from ._errors import CliError
from ._options import DbOption, JsonOption, parse_since
from ._output import (
    emit_json,
    format_duration,
    format_time,
    inline_json,
    json_block,
    plural,
    short_id,
    status_text,
    stdout,
)
from ._store import open_store


def runs(
    status: Annotated[
        str | None, typer.Option(help=f"Only runs with this status: {', '.join(STATUSES)}.")
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option(help="Only runs of this workflow: module:Class, or just the class name."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs started since: 2h, 3d, or a date (2025-09-12).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """List runs, newest first, with their status, steps, duration and fork point."""
    if status is not None and status not in STATUSES:
        raise CliError(f"--status {status!r} is not a status", f"use one of {', '.join(STATUSES)}")
    started_after = parse_since(since) if since else None
    with open_store(db) as store:
        found = list_runs(store, status=status, workflow=workflow, since=started_after, limit=limit)
    if json_output:
        emit_json([run_json(run) for run in found])
        return
    console = stdout()
    if not found:
        console.print("No runs match." if (status or workflow or since) else "No runs yet.")
        return
    console.print(runs_table(found))


def list_runs(
    store: Store,
    *,
    status: str | None = None,
    workflow: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[RunInfo]:
    """Runs with their effective status (a crashed run is ``interrupted``), filtered.

    ``interrupted`` and ``running`` are both stored as running, so those filters (and a
    bare class name for ``workflow``) are applied here, after the store's query.
    """
    stored_status = "running" if status in ("running", "interrupted") else status
    by_identity = workflow if workflow and ":" in workflow else None
    exact = stored_status == status and (workflow is None or by_identity is not None)
    rows = store.list_runs(
        status=stored_status, workflow=by_identity, since=since, limit=limit if exact else None
    )
    found = []
    for row in rows:
        info = row.with_status(effective_status(row))
        if status is not None and info.status != status:
            continue
        if workflow and by_identity is None and info.workflow.rpartition(":")[2] != workflow:
            continue
        found.append(info)
    return found[:limit] if limit is not None else found


def runs_table(found: list[RunInfo]) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("workflow", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("forked from", no_wrap=True)
    for run in found:
        table.add_row(
            short_id(run.run_id),
            run.workflow,
            status_text(run.status),
            format_time(run.created_at, short=True),
            str(run.steps),
            format_duration(run_duration(run)),
            f"{short_id(run.parent_run_id)}@{run.fork_seq}" if run.parent_run_id else "",
        )
    return table


# ---- show ---------------------------------------------------------------------------------
def show(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    full: Annotated[bool, typer.Option("--full", help="Do not shorten event payloads.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a run as a timeline: each step with its input and emitted events, duration,
    attempt and the state keys it changed; a failure with its error, the event the step
    was given, the state and the traceback; and the runs forked from it."""
    with open_store(db) as store:
        view = timeline(store, resolve_run(store, run).run_id)
    if json_output:
        emit_json(view.to_json())
        return
    render_timeline(stdout(), view, limit=None if full else 100)


def render_timeline(console: Console, view: Timeline, *, limit: int | None = 100) -> None:
    console.print(_header(view.run))
    table = Table(header_style="bold", box=None, pad_edge=False, expand=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("attempt", justify="right", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("events and state")
    for entry in view.entries:
        style = "dim" if entry.inherited else ""
        table.add_row(
            str(entry.seq),
            _what(entry),
            str(entry.attempt) if entry.attempt is not None else "",
            format_duration(entry.duration) if entry.duration is not None else "",
            _details(entry, limit),
            style=style,
        )
    console.print(table)
    failure = view.failure
    if failure is not None:
        console.print(_failure_panel(failure))
        console.print(_retry_hint(view), markup=False, style="dim", soft_wrap=True)
    if view.forks:
        console.print(Text("Forks of this run:", style="bold"))
        for fork in view.forks:
            line = Text(f"  {short_id(fork.run_id)}  @{fork.fork_seq}  ")
            line.append_text(status_text(fork.status))
            line.append(f"  {format_time(fork.created_at)}", style="dim")
            console.print(line)


def _header(run: RunInfo) -> Text:
    text = Text()
    text.append(f"Run {run.run_id}", style="bold")
    text.append("  ")
    text.append_text(status_text(run.status))
    text.append(f"\n  workflow {run.workflow} (version {run.version})")
    text.append(
        f"\n  started {format_time(run.created_at)} · took {format_duration(run_duration(run))}"
        f" · {plural(run.steps, 'step')}"
    )
    if run.parent_run_id:
        text.append(
            f"\n  forked from {run.parent_run_id}@{run.fork_seq} "
            "(dim rows are the parent's history up to the fork)"
        )
    if run.error:
        text.append(f"\n  error {run.error}", style="red")
    return text


def _what(entry: Entry) -> Text:
    if entry.kind == "step":
        return Text(entry.step or "?", style="bold")
    if entry.kind == "failed":
        return Text(f"failed in {entry.step}" if entry.step else "failed", style="bold red")
    if entry.kind == "wait":
        return Text(f"{entry.step} (waiting)", style="yellow")
    style = {"stopped": "green", "cancelled": "dim", "forked": "cyan"}.get(entry.kind, "")
    return Text(entry.kind, style=style)


def _details(entry: Entry, limit: int | None) -> Text:
    lines: list[Text] = []
    if entry.kind == "started" and entry.input is not None:
        lines.append(_event_line("start", entry.input, limit))
    if entry.kind == "forked":
        lines.append(
            Text(f"from {short_id(entry.detail.get('parent_run_id'))}@{entry.detail['fork_seq']}")
        )
        for event in entry.emitted:
            lines.append(_event_line("edited", event, limit))
    if entry.kind in ("step", "wait") and entry.input is not None:
        lines.append(_event_line("in", entry.input, limit))
    if entry.kind in ("step", "sent"):
        for event in entry.emitted:
            lines.append(_event_line("out" if entry.kind == "step" else "sent", event, limit))
    if entry.kind == "wait":
        lines.append(Text(f"waits for {entry.detail.get('waiting_for')}"))
    if entry.changed:
        changes = ", ".join(f"{key} ({how})" for key, how in entry.changed.items())
        lines.append(Text("state ", style="dim") + Text(changes))
    if entry.kind == "stopped":
        lines.append(Text("result ", style="dim") + inline_json(entry.result, limit))
    if entry.kind == "failed":
        lines.append(Text(f"{entry.error}: {entry.message}", style="red"))
    if entry.kind == "resumed":
        lines.append(Text(f"was {entry.detail.get('from_status')}", style="dim"))
    return Text("\n").join(lines)


def _event_line(label: str, event: EventView, limit: int | None) -> Text:
    line = Text(f"{label:<4} ", style="dim")
    line.append(f"#{event.id} {event.type} ", style="bold")
    line.append_text(inline_json(event.data, limit))
    targets = [t for t in event.targets if not t.startswith("@")]
    if targets:
        line.append(" → " + ", ".join("end" if t == "_done" else t for t in targets), style="dim")
    return line


def _retry_hint(view: Timeline) -> str:
    """What to type next: inspect the last good checkpoint, fork from it with fixed data."""
    run = short_id(view.run.run_id)
    before = [e.seq for e in view.checkpoints]
    if not before:
        return f"Nothing finished before the failure; fix the code and `flowpoint resume {run}`."
    seq = before[-1]
    return (
        f"To retry from the last checkpoint: `flowpoint state {run}@{seq}`, then "
        f"`flowpoint fork {run}@{seq} --event '{{...}}' --workflow {view.run.workflow} --wait` "
        f"(or fix the code and `flowpoint resume {run}`)."
    )


def _failure_panel(failure: Entry) -> Panel:
    parts: list[RenderableType] = [Text(f"{failure.error}: {failure.message}", style="bold red")]
    if failure.step:
        parts.append(Text(f"in step {failure.step} (seq {failure.seq})"))
    if failure.input is not None:
        parts.append(Text("\nthe event it was given:", style="bold"))
        parts.append(Text(f"#{failure.input.id} {failure.input.type}"))
        parts.append(json_block(failure.input.data))
    parts.append(Text("\nstate when it failed:", style="bold"))
    parts.append(json_block(failure.state or {}))
    if failure.traceback:
        parts.append(Text("\ntraceback:", style="bold"))
        parts.append(Syntax(failure.traceback.rstrip(), "pytb", word_wrap=True))
    return Panel(Group(*parts), title="failure", border_style="red", expand=False)


__all__ = ["list_runs", "render_timeline", "runs", "runs_table", "show"]
