"""``flowpoint diff RUN_A RUN_B``: where a run and its fork (or any two runs) part ways."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..history import Entry, EventView, RunDiff, Timeline, diff_runs, resolve_run
from ._options import DbOption, JsonOption
from ._output import emit_json, inline_json, short_id, status_text, stdout
from ._store import open_store


def diff(
    run_a: Annotated[str, typer.Argument(help="The first run (id or unique prefix).")],
    run_b: Annotated[str, typer.Argument(help="The second run, e.g. a fork of the first.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare two runs side by side: the first step where they differ (its events and
    state keys), then their final states and results."""
    with open_store(db) as store:
        result = diff_runs(
            store, resolve_run(store, run_a).run_id, resolve_run(store, run_b).run_id
        )
    if json_output:
        emit_json(result.to_json())
        return
    render_diff(stdout(), result)


def render_diff(console: Console, result: RunDiff) -> None:
    a, b = result.a.run, result.b.run
    title = f"A = {short_id(a.run_id)}   B = {short_id(b.run_id)}"
    console.print(title, style="bold", markup=False)
    if result.relation:
        console.print(result.relation, style="dim", markup=False)
    for label, view in (("A", result.a), ("B", result.b)):
        for line in _fork_edits(view):
            console.print(Text(f"{label} forked with ", style="dim") + line)
    overview = _side_by_side(a.run_id, b.run_id)
    overview.add_row("workflow", a.workflow, b.workflow)
    overview.add_row("status", status_text(a.status), status_text(b.status))
    overview.add_row("steps", str(len(result.a.checkpoints)), str(len(result.b.checkpoints)))
    overview.add_row("result", *_results(result.a.result, result.b.result))
    console.print(overview)
    if result.identical:
        console.print("The runs took the same steps with the same events, state and result.")
        return
    if result.first is None:
        console.print(f"Same {result.same_steps} steps, with the same events.", style="dim")
    else:
        left, right = result.first
        where = _where(left, right, result.same_steps)
        console.print(Text(where, style="bold yellow"))
        console.print(_first_difference(left, right, a.run_id, b.run_id))
    _render_state(console, result)


def _results(left: Any, right: Any) -> tuple[Text, Text]:
    """Two results; when both are objects, only the keys where they differ."""
    if isinstance(left, dict) and isinstance(right, dict) and left != right:
        keys = [k for k in {**left, **right} if left.get(k, _ABSENT) != right.get(k, _ABSENT)]
        same = (
            Text(" (other keys equal)", style="dim")
            if len(keys) < len({**left, **right})
            else Text()
        )
        return (
            inline_json({k: left[k] for k in keys if k in left}, 200) + same,
            inline_json({k: right[k] for k in keys if k in right}, 200) + same,
        )
    return inline_json(left, 200), inline_json(right, 200)


_ABSENT = object()


def _fork_edits(view: Timeline) -> list[Text]:
    """The edits a fork was made with: replaced events (before -> after), state patch."""
    lines = []
    for entry in view.entries:
        if entry.kind != "forked" or entry.inherited:
            continue
        before = {item["id"]: item["before"] for item in entry.detail.get("replaced", ())}
        for event in entry.emitted:
            line = Text(f"{event.type} #{event.id} ", style="bold")
            line += (
                inline_json(before.get(event.id), 80) + Text(" → ") + inline_json(event.data, 80)
            )
            lines.append(line)
        patch = entry.detail.get("state_patch")
        if patch:
            lines.append(Text("state patch ", style="bold") + inline_json(patch, 120))
    return lines


def _where(left: Entry | None, right: Entry | None, same: int) -> str:
    ordinal = same + 1
    shown = left or right
    seqs = f"A@{left.seq if left else '-'} vs B@{right.seq if right else '-'}"
    name = shown.step if shown is not None else "?"
    return f"First difference: step #{ordinal} ({name}, {seqs}) after {same} identical"


def _first_difference(left: Entry | None, right: Entry | None, run_a: str, run_b: str) -> Table:
    table = _side_by_side(run_a, run_b)
    table.add_row("step", _step(left), _step(right))
    table.add_row(
        "input", _event(left.input if left else None), _event(right.input if right else None)
    )
    table.add_row("emitted", _events(left), _events(right))
    table.add_row("state keys", _changed(left), _changed(right))
    return table


def _render_state(console: Console, result: RunDiff) -> None:
    changes = result.state
    if not changes:
        console.print("Final states are equal.", style="dim")
        return
    table = _side_by_side(result.a.run.run_id, result.b.run.run_id, first="state key")
    missing = Text("(absent)", style="dim")
    for key in changes.keys:
        if key in changes.added:
            table.add_row(key, missing, inline_json(changes.added[key], 60))
        elif key in changes.removed:
            table.add_row(key, inline_json(changes.removed[key], 60), missing)
        else:
            before, after = changes.changed[key]
            table.add_row(key, inline_json(before, 60), inline_json(after, 60))
    console.print(Text("Final state differs:", style="bold"))
    console.print(table)


def _side_by_side(run_a: str, run_b: str, first: str = "") -> Table:
    table = Table(header_style="bold", show_lines=False, pad_edge=False)
    table.add_column(first, style="bold", no_wrap=True)
    table.add_column(f"A {short_id(run_a)}", ratio=1)
    table.add_column(f"B {short_id(run_b)}", ratio=1)
    return table


def _step(entry: Entry | None) -> Text:
    if entry is None:
        return Text("(no such step)", style="dim")
    return Text(f"{entry.step} (seq {entry.seq}, attempt {entry.attempt})")


def _event(event: EventView | None) -> Text:
    if event is None:
        return Text("-", style="dim")
    return Text(f"{event.type} ", style="bold") + inline_json(event.data, 200)


def _events(entry: Entry | None) -> Text:
    if entry is None or not entry.emitted:
        return Text("-", style="dim")
    return Text("\n").join(_event(event) for event in entry.emitted)


def _changed(entry: Entry | None) -> Text:
    if entry is None or not entry.changed:
        return Text("-", style="dim")
    return Text(", ".join(f"{k} ({how})" for k, how in entry.changed.items()))


__all__ = ["diff", "render_diff"]
