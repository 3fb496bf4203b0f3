"""``flowpoint fork RUN@SEQ``: a new run from a checkpoint, with an edited event or state.

Everything the user typed is checked before anything runs: the JSON, the checkpoint, the
workflow code against the recorded step set, and the edited event against its type (a
misspelt field is refused too, though events accept extra data). The parent run is never
changed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from ..checkpointer import Checkpoint, Checkpointer
from ..errors import CheckpointNotFoundError
from ..history import lineage, record_range, resolve_run, split_checkpoint_ref
from ..stores.base import RunInfo, Store
from ._errors import CliError
from ._options import DbOption, JsonOption, WorkflowCodeOption, parse_json_object, read_text
from ._output import emit_json, short_id, stdout
from ._running import Outcome, finish, print_outcome, steps_print_to_stderr
from ._store import open_store
from ._workflows import check_recorded_by, instantiate, workflow_class_for


def fork(
    ref: Annotated[
        str, typer.Argument(metavar="RUN@SEQ", help="The checkpoint to fork from, e.g. 3f2a@1.")
    ],
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            metavar="JSON",
            help="Fields to change in the checkpoint's output event, e.g. '{\"number\": 20}'.",
        ),
    ] = None,
    event_file: Annotated[
        str | None,
        typer.Option(
            "--event-file", metavar="FILE", help="The same, read from a file (- for stdin)."
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", metavar="JSON", help="State keys to set, e.g. '{\"retries\": 0}'."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Also print the new run's result when it ends.")
    ] = False,
    workflow: WorkflowCodeOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fork a new run from a checkpoint and run it to its end here, printing its id first.

    The new run continues after the checkpoint with the checkpoint's output event (edited
    with --event) and state (patched with --state); the original run is left as it was.
    """
    run_ref, seq = split_checkpoint_ref(ref)
    if seq is None:
        raise CliError(
            f"fork needs a checkpoint, not just a run: write {run_ref}@SEQ",
            f"list checkpoints with `flowpoint checkpoints {run_ref}`",
        )
    changes = _event_changes(event, event_file)
    patch = parse_json_object(state, "--state") if state is not None else None
    with open_store(db) as store:
        run = resolve_run(store, run_ref)
        owner = _checkpoint_owner(store, run, seq)
        workflow_class = workflow_class_for(run, workflow)
        if owner.run_id != run.run_id:
            check_recorded_by(owner, workflow_class)
        checkpointer = Checkpointer(instantiate(workflow_class), store=store)
        console = stdout()

        async def go() -> Outcome:
            checkpoint = checkpointer.checkpoint(owner.run_id, seq)
            if changes:
                _check_fields(checkpoint, changes)
            handler = checkpointer.run_from(checkpoint, event=changes, state=patch)
            if not json_output:
                console.print(
                    f"Forked {short_id(run.run_id)}@{seq} → new run {handler.run_id}",
                    style="bold",
                    markup=False,
                )
            with steps_print_to_stderr(json_output):
                return await finish(handler)

        outcome = asyncio.run(go())
    if json_output:
        emit_json({**outcome.to_json(), "parent_run_id": owner.run_id, "fork_seq": seq})
    else:
        print_outcome(console, outcome, show_result=wait)
        if outcome.status == "completed":
            console.print(
                f"compare with `flowpoint diff {short_id(run.run_id)} {short_id(outcome.run_id)}`",
                style="dim",
                markup=False,
            )
    if outcome.status != "completed":
        raise typer.Exit(1)


def _event_changes(event: str | None, event_file: str | None) -> dict[str, Any] | None:
    if event is not None and event_file is not None:
        raise CliError("give --event or --event-file, not both")
    if event_file is not None:
        return parse_json_object(
            read_text(event_file, "--event-file"), f"--event-file {event_file}"
        )
    return parse_json_object(event, "--event") if event is not None else None


def _checkpoint_owner(store: Store, run: RunInfo, seq: int) -> RunInfo:
    """The run whose journal holds record ``seq`` of ``run``'s history: the run itself, or
    the ancestor a fork inherited it from. Only a finished step is a checkpoint."""
    records = lineage(store, run.run_id)
    found = [(record, owner) for number, record, owner in records if number == seq]
    checkpoints = [str(n) for n, record, _ in records if record.get("kind") == "step"]
    hint = f"its checkpoints are {', '.join(checkpoints) or 'none'}"
    if not found:
        raise CheckpointNotFoundError(
            f"seq {seq} is out of range: {record_range(records, short_id(run.run_id))}; {hint}"
        )
    record, owner = found[0]
    if record.get("kind") != "step":
        raise CheckpointNotFoundError(
            f"{short_id(run.run_id)}@{seq} is a '{record.get('kind')}' record, not a finished "
            f"step; {hint}"
        )
    info = store.get_run(owner)
    assert info is not None  # lineage read its records
    return info


def _check_fields(checkpoint: Checkpoint, changes: dict[str, Any]) -> None:
    """Events take extra data, so a misspelt field would be kept silently; refuse it."""
    original = checkpoint.output_event
    if original is None:
        raise CliError(
            f"checkpoint {short_id(checkpoint.run_id)}@{checkpoint.seq} "
            f"({checkpoint.last_completed_step}) returned no event, so there is none to edit",
            "fork without --event, or pick another checkpoint",
        )
    known = set(type(original).model_fields) | set(original.__pydantic_extra__ or {})
    unknown = sorted(set(changes) - known)
    if unknown:
        raise CliError(
            f"{type(original).__name__} has no field {unknown[0]!r}",
            f"its fields are: {', '.join(sorted(known)) or 'none'}",
        )


__all__ = ["fork"]
