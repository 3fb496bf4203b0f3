"""``flowpoint demo``: write the seed notebook's runs, then show how to explore them."""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..demo import EDITED_NUMBER, FIRST_NUMBER, DemoReport, NumberWorkflow, run_demo
from ..history import timeline
from ..stores.base import Store
from ..stores.sqlite import DEFAULT_PATH
from ._options import DbOption, JsonOption
from ._output import emit_json, inline_json, short_id, status_text, stdout
from ._store import database_location, open_store


def demo(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Run the seed notebook's scenarios (a chat, a number run, and a fork of it with the
    number edited from 5 to 20) on the database, and print what they wrote."""
    location = database_location(db)
    with open_store(db, create=True) as store:
        report = asyncio.run(run_demo(store))
        commands = follow_up_commands(store, report, location)
        if json_output:
            emit_json(
                {
                    "database": location,
                    "chat_run_id": report.chat_run_id,
                    "number_run_id": report.number_run_id,
                    "fork_run_id": report.fork_run_id,
                    "fork_seq": report.fork_seq,
                    "results": {
                        "chat": report.chat_result,
                        "number": report.number_result,
                        "fork": report.fork_result,
                    },
                    "commands": commands,
                }
            )
            return
        _print_report(stdout(), store, report, location, commands)


def follow_up_commands(store: Store, report: DemoReport, location: str) -> list[str]:
    """The exact commands that explore what the demo wrote, with its real run ids."""
    db = "" if location == str(DEFAULT_PATH) else f" --db {shlex.quote(location)}"
    chat, number, fork = (short_id(i) for i in report.run_ids)
    chat_last = timeline(store, report.chat_run_id).checkpoints[-1].seq
    edit = shlex.quote('{"number": 42}')
    return [
        f"flowpoint runs{db}",
        f"flowpoint show {number}{db}",
        f"flowpoint checkpoints {number}{db}",
        f"flowpoint state {chat}@{chat_last} --diff{db}",
        f"flowpoint fork {number}@{report.fork_seq} --event {edit} "
        f"--workflow {NumberWorkflow.identity()} --wait{db}",
        f"flowpoint diff {number} {fork}{db}",
    ]


def _print_report(
    console: Console, store: Store, report: DemoReport, location: str, commands: list[str]
) -> None:
    console.print(
        f"flowpoint demo: the seed notebook's runs, written to {location}",
        style="bold",
        markup=False,
    )
    runs = Table(
        title="Runs", title_justify="left", title_style="bold", header_style="bold", box=None
    )
    for column in ("run", "workflow", "status", "steps", "result"):
        runs.add_column(column, no_wrap=column in ("run", "status", "steps"))
    for run_id, result in zip(
        report.run_ids,
        (report.chat_result, report.number_result, report.fork_result),
        strict=True,
    ):
        info = store.get_run(run_id)
        assert info is not None
        name = info.workflow.rpartition(":")[2]
        if info.parent_run_id:
            name += f" (fork of {short_id(info.parent_run_id)}@{info.fork_seq})"
        runs.add_row(
            short_id(run_id),
            name,
            status_text(info.status),
            str(info.steps),
            _summary(result),
        )
    console.print(runs)
    console.print()

    checkpoints = Table(
        title=f"Checkpoints of the number run {short_id(report.number_run_id)}",
        title_justify="left",
        title_style="bold",
        header_style="bold",
        box=None,
    )
    for column in ("checkpoint", "step", "output event"):
        checkpoints.add_column(column)
    for entry in timeline(store, report.number_run_id).checkpoints:
        output = Text()
        if entry.returned is not None:
            output = Text(f"{entry.returned.type} ", style="bold") + inline_json(
                entry.returned.data, 70
            )
        checkpoints.add_row(f"{short_id(entry.run_id)}@{entry.seq}", entry.step, output)
    console.print(checkpoints)
    console.print()

    console.print(
        f"Forked {short_id(report.number_run_id)}@{report.fork_seq} with number "
        f"{FIRST_NUMBER} → {EDITED_NUMBER}: final_result "
        f"{report.number_result['final_result']} → {report.fork_result['final_result']}",
        style="bold green",
        markup=False,
    )
    console.print("\nExplore what it wrote:", style="bold")
    for command in commands:
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)


def _summary(result: Any) -> Text:
    """The one field of a demo result worth reading in a table."""
    for key in ("final_result", "bot_response"):
        if isinstance(result, dict) and key in result:
            return Text(f"{key}: ", style="dim") + inline_json(result[key], 48)
    return inline_json(result, 60)


__all__ = ["demo", "follow_up_commands"]
