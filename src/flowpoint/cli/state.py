"""``flowpoint checkpoints RUN`` and ``flowpoint state RUN[@SEQ]``: the state at any point."""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..history import (
    StateDiff,
    diff_states,
    previous_checkpoint,
    resolve_run,
    split_checkpoint_ref,
    state_at,
    timeline,
)
from ._errors import CliError
from ._options import DbOption, JsonOption
from ._output import emit_json, format_time, inline_json, json_block, short_id, stdout
from ._store import open_store


def checkpoints(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the checkpoints of a run (one per finished step), the points you can inspect
    with `state` and fork from with `fork`. A fork lists its parent's up to the fork point."""
    with open_store(db) as store:
        view = timeline(store, resolve_run(store, run).run_id)
    found = view.checkpoints
    if json_output:
        emit_json([entry.to_json() for entry in found])
        return
    console = stdout()
    if not found:
        console.print(f"Run {short_id(view.run.run_id)} has no finished steps yet.")
        return
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("checkpoint", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("attempt", justify="right", no_wrap=True)
    table.add_column("output event")
    table.add_column("state changed")
    table.add_column("finished", no_wrap=True)
    for entry in found:
        output = Text()
        if entry.returned is not None:
            output.append(f"{entry.returned.type} ", style="bold")
            output.append_text(inline_json(entry.returned.data, 60))
        table.add_row(
            f"{short_id(entry.run_id)}@{entry.seq}",
            entry.step,
            str(entry.attempt),
            output,
            ", ".join(entry.changed) or "-",
            format_time(entry.ended_at),
            style="dim" if entry.inherited else "",
        )
    console.print(table)
    if any(entry.inherited for entry in found):
        console.print("dim rows are inherited from the parent run", style="dim")
    console.print(
        f"Inspect one with `flowpoint state {short_id(view.run.run_id)}@SEQ`, "
        "compare with the one before with `--diff`.",
        style="dim",
        markup=False,
    )


def state(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="RUN[@SEQ]",
            help="A run, and the sequence number of a checkpoint (default: last).",
        ),
    ],
    key: Annotated[str | None, typer.Option("--key", "-k", help="Only this state key.")] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what changed since the previous checkpoint.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the state at a checkpoint as JSON, or with --diff what changed there."""
    run_ref, seq = split_checkpoint_ref(ref)
    with open_store(db) as store:
        run_id = resolve_run(store, run_ref).run_id
        after = state_at(store, run_id, seq)
        before = (
            state_at(store, run_id, previous_checkpoint(store, run_id, after.seq)) if diff else None
        )
    if key is not None:
        _check_key(key, after.state, before.state if before else None, after.seq)
    if before is not None:
        changes = diff_states(_only(before.state, key), _only(after.state, key))
        if json_output:
            emit_json(
                {"run_id": run_id, "from_seq": before.seq, "seq": after.seq, **changes.to_json()}
            )
            return
        console = stdout()
        console.print(
            f"Changes in {short_id(run_id)} from @{before.seq} to @{after.seq}"
            + (f" ({after.step})" if after.step else f" ({after.kind})"),
            style="bold",
            markup=False,
        )
        render_state_diff(console, changes)
        return
    value: Any = after.state if key is None else after.state[key]
    if json_output:
        emit_json(value)
        return
    console = stdout()
    if seq is None:
        where = "latest"
    else:
        where = f"after {after.step}" if after.step else f"after the {after.kind} record"
    title = f"State of {short_id(run_id)}@{after.seq} ({where})"
    console.print(title + (f", key {key!r}" if key else ""), style="bold", markup=False)
    console.print(json_block(value))


def _check_key(key: str, state: dict[str, Any], before: dict[str, Any] | None, seq: int) -> None:
    if key in state or (before is not None and key in before):
        return
    known = ", ".join(sorted(state)) or "none"
    raise CliError(f"state has no key {key!r} at seq {seq}", f"its keys are: {known}")


def _only(state: dict[str, Any], key: str | None) -> dict[str, Any]:
    if key is None:
        return state
    return {key: state[key]} if key in state else {}


def render_state_diff(console: Console, changes: StateDiff) -> None:
    """Added keys in green, removed in red, changed ones as a line diff of their JSON."""
    if not changes:
        console.print("No state changes.", style="dim")
        return
    for sign, style, values in (("+", "green", changes.added), ("-", "red", changes.removed)):
        for key, value in values.items():
            console.print(Text(f"{sign} {key}:", style=f"{style} bold"))
            for line in json.dumps(value, indent=2, ensure_ascii=False, default=str).splitlines():
                console.print(Text(f"    {sign} {line}", style=style))
    for key, (old, new) in changes.changed.items():
        console.print(Text(f"~ {key}:", style="yellow bold"))
        for line in _json_diff(old, new):
            style = {"+": "green", "-": "red"}.get(line[:1], "dim")
            console.print(Text("    " + line, style=style))


def _json_diff(old: Any, new: Any) -> list[str]:
    """A unified diff of two values' indented JSON, without the file headers."""
    before = json.dumps(old, indent=2, ensure_ascii=False, default=str).splitlines()
    after = json.dumps(new, indent=2, ensure_ascii=False, default=str).splitlines()
    lines = difflib.unified_diff(before, after, lineterm="", n=2)
    return [line for line in lines if not line.startswith(("---", "+++"))]


__all__ = ["checkpoints", "render_state_diff", "state"]
