"""The seed's checkpointer, over a store: run, list checkpoints, resume, fork.

A checkpoint is a finished step's journal record, named ``RUN@SEQ``. Its fields
(``input_event``, ``output_event``, ``ctx_state``) are decoded from the journal only when
read. ``run_from`` starts a new run whose history is the parent's prefix (referenced, not
copied) with the checkpoint's output event as it is now, edits included.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .context import Context
from .errors import (
    CheckpointNotFoundError,
    EventValidationError,
    RunNotFoundError,
    WorkflowMismatchError,
)
from .events import Event, HumanResponseEvent, StopEvent, event_tag
from .handler import WorkflowHandler
from .journal import Durability, Journal, RunFold, encode_event, json_copy, render_context_dict
from .journal.fold import DONE
from .stores.base import RunInfo, Store, effective_status, this_owner
from .stores.memory import MemoryStore
from .workflow import Workflow

DEFAULT_SNAPSHOT_EVERY = 100


def default_store() -> Store:
    """The store a checkpointer uses when given none: ``$FLOWPOINT_DB`` or
    ``.flowpoint/flowpoint.db`` under the working directory."""
    from .stores.sqlite import DEFAULT_PATH, SQLiteStore

    return SQLiteStore(os.environ.get("FLOWPOINT_DB") or DEFAULT_PATH)


class Checkpoint:
    """One finished step of one run, and everything needed to go back to it."""

    def __init__(
        self,
        checkpointer: Checkpointer,
        run_id: str,
        seq: int,
        record: Mapping[str, Any],
        *,
        parent_run_id: str | None = None,
        fork_seq: int | None = None,
    ) -> None:
        self._checkpointer = checkpointer
        self.run_id = run_id
        self.seq = seq
        self._record = record
        self.parent_run_id = parent_run_id
        self.fork_seq = fork_seq
        self._input_event: Event | None = None
        self._output_event: Event | None = None
        self._output_decoded = False

    @property
    def id_(self) -> str:
        return f"{self.run_id}@{self.seq}"

    @property
    def last_completed_step(self) -> str:
        return str(self._record["step"])

    @property
    def attempt(self) -> int:
        return int(self._record.get("attempt", 1))

    @property
    def started_at(self) -> float:
        return float(self._record.get("started", 0.0))

    @property
    def ended_at(self) -> float:
        return float(self._record.get("ended", 0.0))

    @property
    def record(self) -> Mapping[str, Any]:
        """The journal record itself (JSON; do not change it)."""
        return self._record

    @property
    def input_event(self) -> Event:
        """The event the step consumed."""
        if self._input_event is None:
            fold = self._checkpointer._history(self.run_id, self.seq - 1)
            consumed = int(self._record["consumed"])
            tag, payload = fold.events[consumed]
            self._input_event = self._checkpointer._decode(tag, payload, self.run_id, self.seq)
        return self._input_event

    @property
    def output_event(self) -> Event | None:
        """The event the step returned. Edit it, then ``run_from`` this checkpoint, and the
        new run continues with the edited event."""
        if not self._output_decoded:
            returned = int(self._record.get("returned", -1))
            if returned >= 0:
                _, tag, payload, _ = self._record["emitted"][returned]
                self._output_event = self._checkpointer._decode(tag, payload, self.run_id, self.seq)
            self._output_decoded = True
        return self._output_event

    @property
    def ctx_state(self) -> dict[str, Any]:
        """The run's context snapshot right after this step (the shape of ``ctx.to_dict()``)."""
        fold = self._checkpointer._history(self.run_id, self.seq)
        return render_context_dict(
            fold,
            self._checkpointer.workflow._spec().steps,
            is_running=fold.status == "running",
            run_id=self.run_id,
        )

    @property
    def state(self) -> dict[str, Any]:
        """Just the state after this step."""
        return self._checkpointer._history(self.run_id, self.seq).state

    def __repr__(self) -> str:
        return (
            f"id_={self.id_!r} last_completed_step={self.last_completed_step!r} "
            f"input_event={self.input_event!r} output_event={self.output_event!r} "
            f"ctx_state={self.ctx_state!r}"
        )


class Checkpointer:
    """Runs a workflow with a checkpoint after every step, kept in a store.

    >>> checkpointer = Checkpointer(MyWorkflow())          # .flowpoint/flowpoint.db
    >>> result = await checkpointer.run(number=5)         # doctest: +SKIP
    >>> first = next(iter(checkpointer.checkpoints.values()))[0]
    >>> first.output_event.number = 20                    # doctest: +SKIP
    >>> await checkpointer.run_from(checkpoint=first)     # doctest: +SKIP

    ``durability``: ``"sync"`` (default for durable stores) commits each step before its
    events move on; ``"batch"`` lets records of many steps and runs share a commit (a crash
    may lose the last few steps, which then run again); ``"none"`` keeps checkpoints in
    memory only.
    """

    def __init__(
        self,
        workflow: Workflow,
        store: Store | None = None,
        *,
        durability: Durability | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> None:
        if durability == "none":
            if store is not None and store.durable:
                raise ValueError(
                    "durability='none' keeps checkpoints in memory; pass no durable store"
                )
            store = store or MemoryStore()
        if store is None:
            store = default_store()
        if durability is None:
            durability = "sync" if store.durable else "none"
        if durability not in ("sync", "batch", "none"):
            raise ValueError(f"durability must be 'sync', 'batch' or 'none', not {durability!r}")
        self.workflow = workflow
        self.store = store
        self.durability: Durability = durability
        self.snapshot_every = snapshot_every
        #: Runs this checkpointer started, resumed or forked, with their checkpoints
        #: (the seed's view). ``list_runs`` and ``load_checkpoints`` read the whole store.
        self.checkpoints: dict[str, list[Checkpoint]] = {}
        self._histories: dict[tuple[str, int], RunFold] = {}

    # ---- starting runs ------------------------------------------------------------------------
    def run(
        self, ctx: Context[Any] | None = None, start_event: Any = None, **kwargs: Any
    ) -> WorkflowHandler:
        """Start a journaled run; same arguments as ``Workflow.run``."""
        spec = self.workflow._spec()
        info = RunInfo(
            run_id=uuid.uuid4().hex,
            workflow=spec.identity,
            version=spec.version,
            status="running",
            created_at=time.time(),
            owner=this_owner(),
        )
        return self.workflow._launch(
            ctx=ctx,
            start_event=start_event,
            kwargs=kwargs,
            run_id=info.run_id,
            journal_factory=self._journal_factory(info, next_seq=0, fold=None),
        )

    def run_from(
        self,
        checkpoint: Checkpoint,
        *,
        event: Event | Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> WorkflowHandler:
        """Fork a new run that continues after ``checkpoint``.

        The checkpoint's ``output_event`` is used as it is now; ``event`` replaces it (an
        Event, or a dict of fields to change, validated against its type); ``state`` sets
        state keys. The parent run is never changed.
        """
        parent = self._run_info(checkpoint.run_id)
        self._check_workflow(parent)
        spec = self.workflow._spec()
        fold = self._image(checkpoint.run_id, checkpoint.seq)
        replace = []
        returned = int(checkpoint.record.get("returned", -1))
        new_event = self._edited_event(checkpoint, event)
        if new_event is not None:
            if returned < 0:
                raise CheckpointNotFoundError(
                    f"checkpoint {checkpoint.id_} returned no event, so there is none to replace"
                )
            event_id = int(checkpoint.record["emitted"][returned][0])
            targets = list(spec.routes.get(type(new_event)) or spec.route(type(new_event)))
            if isinstance(new_event, StopEvent):
                targets.append(DONE)
            replace.append([event_id, event_tag(type(new_event)), encode_event(new_event), targets])
        state_patch = json_copy(dict(state), "state") if state else None
        state_type = spec.state_type
        if state_patch and state_type is not None and issubclass(state_type, BaseModel):
            try:
                state_type.model_validate({**fold.state, **state_patch})
            except ValidationError as exc:
                raise EventValidationError(
                    f"state patch does not fit the state type: {exc}"
                ) from exc
        info = RunInfo(
            run_id=uuid.uuid4().hex,
            workflow=spec.identity,
            version=spec.version,
            status="running",
            parent_run_id=checkpoint.run_id,
            fork_seq=checkpoint.seq,
            created_at=time.time(),
            owner=this_owner(),
        )
        boot = {
            "kind": "forked",
            "parent_run_id": checkpoint.run_id,
            "fork_seq": checkpoint.seq,
            "replace": replace,
            "state_patch": state_patch,
        }
        return self.workflow._launch(
            run_id=info.run_id,
            boot=boot,
            journal_factory=self._journal_factory(info, next_seq=checkpoint.seq + 1, fold=fold),
        )

    def resume(self, run_id: str, *, event: Event | None = None) -> WorkflowHandler:
        """Continue a run that did not finish (a crash, a failure, a wait for input) from
        the end of its journal: steps in flight run again, finished ones never do.
        ``event`` is sent in once it runs (the answer a waiting run needs)."""
        info = self._run_info(run_id)
        self._check_workflow(info)
        if info.status == "completed":
            raise WorkflowMismatchError(
                f"run {run_id} already completed; fork it from a checkpoint to run it again"
            )
        fold = self._image(run_id, info.last_seq, history=False)
        self.store.set_status(run_id, "running", owner=this_owner())
        boot = {"kind": "resumed", "from_status": effective_status(info), "owner": this_owner()}
        handler = self.workflow._launch(
            run_id=run_id,
            boot=boot,
            journal_factory=self._journal_factory(
                None, next_seq=fold.last_seq + 1, fold=fold, lineage=info
            ),
        )
        if event is not None:
            handler.ctx.send_event(event)
        return handler

    def awaited_event_types(self, run_id: str) -> list[type[Event]]:
        """The event types a waiting run waits for: its ``wait_for_event`` calls, or a
        ``HumanResponseEvent`` for an unanswered ``InputRequiredEvent``."""
        info = self._run_info(run_id)
        fold = self._image(info.run_id, info.last_seq)
        registry = self.workflow._spec().registry
        types: list[type[Event]] = []
        for waiter in fold.waiters.values():
            event_type = registry.get(waiter["type"])
            if event_type is not None and waiter["resolved"] is None and event_type not in types:
                types.append(event_type)
        if fold.awaiting_input and HumanResponseEvent not in types:
            types.append(HumanResponseEvent)
        return types

    def resume_interrupted(self) -> list[WorkflowHandler]:
        """Resume every run of this workflow that a crash left unfinished."""
        identity = self.workflow._spec().identity
        handlers = []
        for info in self.store.list_runs(workflow=identity, status="running"):
            if effective_status(info) == "interrupted":
                handlers.append(self.resume(info.run_id))
        return handlers

    # ---- reading the store ----------------------------------------------------------------------
    def list_runs(self, **filters: Any) -> list[RunInfo]:
        """Runs in the store, newest first, with crashed runs shown as ``interrupted``."""
        wanted = filters.pop("status", None)
        runs = [r.with_status(effective_status(r)) for r in self.store.list_runs(**filters)]
        return [r for r in runs if wanted is None or r.status == wanted]

    def get_run(self, run_id: str) -> RunInfo:
        info = self._run_info(run_id)
        return info.with_status(effective_status(info))

    def load_checkpoints(self, run_id: str) -> list[Checkpoint]:
        """Every checkpoint of a run from the store (its own steps, not its parent's)."""
        info = self._run_info(run_id)
        return [
            Checkpoint(
                self,
                info.run_id,
                seq,
                record,
                parent_run_id=info.parent_run_id,
                fork_seq=info.fork_seq,
            )
            for seq, record in self.store.read(info.run_id)
            if record.get("kind") == "step"
        ]

    def checkpoint(self, run_id: str, seq: int) -> Checkpoint:
        """The checkpoint at ``seq`` of a run; for a fork, seqs up to its fork point are its
        ancestors' checkpoints."""
        info = self._run_info(run_id)
        if info.parent_run_id is not None and info.fork_seq is not None and seq <= info.fork_seq:
            return self.checkpoint(info.parent_run_id, seq)
        run_id = info.run_id
        records = self.store.read(run_id, seq, seq)
        if not records or records[0][1].get("kind") != "step":
            raise CheckpointNotFoundError(
                f"run {run_id} has no checkpoint at seq {seq}; list them with "
                f"`flowpoint checkpoints {run_id}`"
            )
        return Checkpoint(
            self,
            run_id,
            seq,
            records[0][1],
            parent_run_id=info.parent_run_id,
            fork_seq=info.fork_seq,
        )

    def close(self) -> None:
        self.store.close()

    # ---- internals ------------------------------------------------------------------------------
    def _journal_factory(
        self,
        info: RunInfo | None,
        *,
        next_seq: int,
        fold: RunFold | None,
        lineage: RunInfo | None = None,
    ) -> Any:
        """``info`` creates the run with its first record; ``lineage`` (or ``info``) gives
        the parent and fork point that its live checkpoints carry."""
        origin = lineage or info
        parent = (origin.parent_run_id, origin.fork_seq) if origin is not None else (None, None)

        def on_record(run_id: str, seq: int, record: dict[str, Any]) -> None:
            if record["kind"] == "step":
                checkpoint = Checkpoint(
                    self, run_id, seq, record, parent_run_id=parent[0], fork_seq=parent[1]
                )
                self.checkpoints.setdefault(run_id, []).append(checkpoint)

        def make(run_id: str, boot: dict[str, Any]) -> Journal:
            self.checkpoints.setdefault(run_id, [])
            return Journal(
                self.store,
                run_id,
                durability=self.durability,
                snapshot_every=self.snapshot_every,
                next_seq=next_seq,
                fold=fold if fold is not None else RunFold(run_id=run_id),
                run_info=info,
                listener=on_record,
            )

        return make

    def _run_info(self, run_id: str) -> RunInfo:
        info = self.store.get_run(run_id)
        if info is None:
            full = self.store.resolve_run_id(run_id)
            info = self.store.get_run(full) if full else None
        if info is None:
            raise RunNotFoundError(
                f"no run {run_id!r} in {self.store!r}; list runs with `flowpoint runs`"
            )
        return info

    def _check_workflow(self, info: RunInfo) -> None:
        spec = self.workflow._spec()
        if info.workflow != spec.identity:
            raise WorkflowMismatchError(
                f"run {info.run_id} belongs to workflow {info.workflow}, not {spec.identity}"
            )
        if info.version != spec.version:
            raise WorkflowMismatchError(
                f"run {info.run_id} was recorded with another step set of {spec.identity} "
                f"(version {info.version}, now {spec.version}): steps or their event types "
                "changed since. Resume it with the workflow code it was recorded with."
            )

    def _lineage(self, run_id: str, upto: int) -> list[tuple[int, dict[str, Any]]]:
        """Records that make up a run up to ``upto``: its ancestors' prefixes, then its own."""
        info = self._run_info(run_id)
        prefix: list[tuple[int, dict[str, Any]]] = []
        if info.parent_run_id is not None and info.fork_seq is not None:
            prefix = self._lineage(info.parent_run_id, min(upto, info.fork_seq))
            if upto <= info.fork_seq:
                return prefix
        return prefix + self.store.read(run_id, 0, upto)

    def _image(self, run_id: str, upto: int, history: bool = False) -> RunFold:
        """The run's image after record ``upto``, starting from a snapshot when one helps."""
        if upto < 0:
            raise CheckpointNotFoundError(f"run {run_id} has no records")
        fold = RunFold(history=history, run_id=run_id)
        snapshot = None if history else self.store.latest_snapshot(run_id, upto)
        if snapshot is not None:
            fold.load_snapshot(snapshot[1])
            fold.last_seq = snapshot[0]
            records = self.store.read(run_id, snapshot[0] + 1, upto)
        else:
            records = self._lineage(run_id, upto)
        for seq, record in records:
            fold.run_id = run_id
            fold.apply(seq, record)
        if fold.last_seq != upto:
            raise CheckpointNotFoundError(
                f"run {run_id} has no record {upto} (it ends at {fold.last_seq})"
            )
        return fold

    def _history(self, run_id: str, upto: int) -> RunFold:
        key = (run_id, upto)
        fold = self._histories.get(key)
        if fold is None:
            fold = self._image(run_id, upto, history=True)
            if len(self._histories) > 64:
                self._histories.clear()
            self._histories[key] = fold
        return fold

    def _decode(self, tag: str, payload: Any, run_id: str, seq: int) -> Event:
        return self.workflow._spec().registry.decode(tag, payload, run_id=run_id, seq=seq)

    def _edited_event(
        self, checkpoint: Checkpoint, event: Event | Mapping[str, Any] | None
    ) -> Event | None:
        """The event that should replace the checkpoint's output, or None to keep it."""
        original = checkpoint.output_event
        if event is None:
            if original is None or not checkpoint._output_decoded:
                return None
            returned = int(checkpoint.record["returned"])
            stored = checkpoint.record["emitted"][returned][2]
            current = encode_event(original)
            return original if current != stored else None
        if isinstance(event, Event):
            return event
        if original is None:
            raise CheckpointNotFoundError(f"checkpoint {checkpoint.id_} returned no event to edit")
        event_type = type(original)
        try:
            return event_type.model_validate({**encode_event(original), **dict(event)})
        except ValidationError as exc:
            raise EventValidationError(
                f"edited {event_type.__name__} does not validate: {exc.errors()[0]['msg']} "
                f"at {'.'.join(map(str, exc.errors()[0]['loc']))}",
                run_id=checkpoint.run_id,
                seq=checkpoint.seq,
            ) from exc


# The seed's name for it.
WorkflowCheckpointer = Checkpointer

__all__ = ["Checkpoint", "Checkpointer", "WorkflowCheckpointer", "default_store"]
