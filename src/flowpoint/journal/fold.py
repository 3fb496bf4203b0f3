"""Folding records into the state of a run at any sequence number.

The same fold serves the live journal (to take snapshots), recovery after a crash, the
``ctx_state`` of a checkpoint and ``Context.from_dict``: one code path, exercised on every
step, so the image a resume starts from is the image the run had.

Record kinds (all JSON objects with a ``kind``):

``started``  ``{"workflow", "version", "snapshot"}``: the run's first image.
``forked``   ``{"parent_run_id", "fork_seq", "replace", "state_patch"}``: a fork's first
             record; the image is the parent's at ``fork_seq`` with edits.
``step``     ``{"step", "consumed", "attempt", "started", "ended", "emitted", "returned",
             "delta", "stream", "buffers", "awaiting_input"}``: a finished step.
``wait``     a step parked on ``ctx.wait_for_event`` (replayed when the event comes).
``sent``     events sent into the run from outside a step.
``resumed``  a process took the run over again.
``stopped`` / ``failed`` / ``cancelled``: how the run ended.

An emitted event is ``[id, tag, payload, targets]``; a target is a step name, ``"_done"``
(a StopEvent) or ``"@w:<waiter id>"`` (it answers a waiting step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ContextSerdeError, CorruptRecordError
from .delta import apply_delta, json_copy

SNAPSHOT_FORMAT = 1
DONE = "_done"
WAITER_PREFIX = "@w:"


class RunFold:
    """A run's image (state, pending deliveries, buffers, waiters) folded record by record.

    With ``history=True`` it also keeps every event and the accepted list, for showing a
    checkpoint's full context; without it, events are dropped once nothing refers to them.
    """

    def __init__(self, *, history: bool = False, run_id: str | None = None) -> None:
        self.history = history
        self.run_id = run_id
        self.state: dict[str, Any] = {}
        self.state_type = "DictState"
        self.events: dict[int, tuple[str, Any]] = {}
        self._refs: dict[int, int] = {}
        self.pending: dict[tuple[int, str], None] = {}
        self.buffers: dict[str, list[int]] = {}
        self.waiters: dict[str, dict[str, Any]] = {}
        self.awaiting_input = 0
        self.result_event: int | None = None
        self.next_event_id = 1
        self.last_seq = -1
        self.status = "running"
        self.broker_log: list[int] = []
        self.accepted: list[tuple[str, str]] = []
        self._skip_delta = False

    # ---- references -------------------------------------------------------------------
    def _ref(self, event_id: int) -> None:
        self._refs[event_id] = self._refs.get(event_id, 0) + 1

    def _unref(self, event_id: int) -> None:
        left = self._refs.get(event_id, 0) - 1
        if left > 0:
            self._refs[event_id] = left
            return
        self._refs.pop(event_id, None)
        if not self.history:
            self.events.pop(event_id, None)

    def _add_pending(self, event_id: int, step: str) -> None:
        key = (event_id, step)
        if key not in self.pending:
            self.pending[key] = None
            self._ref(event_id)

    def _remove_pending(self, event_id: int, step: str) -> None:
        if self.pending.pop((event_id, step), _ABSENT) is not _ABSENT:
            self._unref(event_id)

    # ---- applying records ---------------------------------------------------------------
    def apply(self, seq: int, record: Mapping[str, Any], *, delta_applied: bool = False) -> None:
        """Fold one record in. A record of an unknown shape is a ``CorruptRecordError``.

        ``delta_applied``: the record's state delta is already in ``self.state`` (the live
        journal diffs against this fold's state, which updates it).
        """
        try:
            kind = record["kind"]
            handler = _HANDLERS[kind]
        except (KeyError, TypeError):
            raise CorruptRecordError(
                "record has no known 'kind'", run_id=self.run_id, seq=seq
            ) from None
        self._skip_delta = delta_applied
        try:
            handler(self, record)
        except CorruptRecordError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CorruptRecordError(
                f"'{kind}' record is malformed ({type(exc).__name__}: {exc})",
                run_id=self.run_id,
                seq=seq,
            ) from exc
        self.last_seq = seq

    def _apply_started(self, record: Mapping[str, Any]) -> None:
        self.load_snapshot(record["snapshot"])

    def _apply_forked(self, record: Mapping[str, Any]) -> None:
        for event_id, tag, payload, targets in record.get("replace", ()):
            self.replace_event(int(event_id), tag, payload, targets)
        patch = record.get("state_patch")
        if patch:
            apply_delta(self.state, {"set": patch})
        self.status = "running"

    def replace_event(self, event_id: int, tag: str, payload: Any, targets: Iterable[str]) -> None:
        """Put an edited event in place of a pending one (a fork's edit)."""
        old_targets = [step for (eid, step) in self.pending if eid == event_id]
        self._ref(event_id)  # keep the entry alive while deliveries are rewritten
        for step in old_targets:
            self._remove_pending(event_id, step)
        if self.result_event == event_id:
            self.result_event = None
            self._unref(event_id)
        self.events[event_id] = (tag, json_copy(payload, "event"))
        self._route(event_id, targets)
        self._unref(event_id)

    def _apply_step(self, record: Mapping[str, Any]) -> None:
        consumed = int(record["consumed"])
        step = record["step"]
        tag = self.events.get(consumed, ("?",))[0]
        self._ref(consumed)  # the step may have buffered it (collect_events): keep it till then
        self._remove_pending(consumed, step)
        for waiter_id in [w for w, info in self.waiters.items() if _parked(info, consumed, step)]:
            self._drop_waiter(waiter_id)
        if self.history:
            self.accepted.append((step, tag))
        self._apply_effects(record)
        self._unref(consumed)

    def _apply_wait(self, record: Mapping[str, Any]) -> None:
        consumed = int(record["consumed"])
        step = record["step"]
        waiter_id = record["waiter_id"]
        self._apply_effects(record)
        if waiter_id not in self.waiters:
            self.waiters[waiter_id] = {
                "event": consumed,
                "step": step,
                "type": record["event_type"],
                "requirements": record.get("requirements") or {},
                "resolved": None,
            }
            self._ref(consumed)
        self._remove_pending(consumed, step)

    def _apply_sent(self, record: Mapping[str, Any]) -> None:
        self._apply_effects(record)

    def _apply_effects(self, record: Mapping[str, Any]) -> None:
        delta = record.get("delta")
        if delta and not self._skip_delta:
            apply_delta(self.state, delta)
        emitted = record.get("emitted", ())
        for entry in emitted:
            event_id, tag, payload, targets = entry
            event_id = int(event_id)
            self.events[event_id] = (tag, payload)
            if self.history and targets:
                self.broker_log.append(event_id)
            if event_id >= self.next_event_id:
                self.next_event_id = event_id + 1
            if targets:
                self._route(event_id, targets)
        buffers = record.get("buffers")
        if buffers is not None:
            self._replace_buffers(buffers)
        if "awaiting_input" in record:
            self.awaiting_input = int(record["awaiting_input"])
        if not self.history:
            for entry in emitted:
                if entry[0] not in self._refs:
                    self.events.pop(entry[0], None)

    def _route(self, event_id: int, targets: Iterable[str]) -> None:
        for target in targets:
            if target == DONE:
                if self.result_event is None:
                    self.result_event = event_id
                    self._ref(event_id)
            elif target.startswith(WAITER_PREFIX):
                waiter = self.waiters.get(target[len(WAITER_PREFIX) :])
                if waiter is not None and waiter["resolved"] is None:
                    waiter["resolved"] = event_id
                    self._ref(event_id)
                    self._add_pending(waiter["event"], waiter["step"])
            else:
                self._add_pending(event_id, target)

    def _replace_buffers(self, buffers: Mapping[str, Iterable[Any]]) -> None:
        """``collect_events`` buffers, by buffer key, as event ids (which they keep alive)."""
        for ids in self.buffers.values():
            for event_id in ids:
                self._unref(event_id)
        self.buffers = {key: [int(i) for i in ids] for key, ids in buffers.items()}
        for ids in self.buffers.values():
            for event_id in ids:
                self._ref(event_id)

    def _add_waiters(self, waiters: Mapping[str, Mapping[str, Any]]) -> None:
        for waiter_id, info in waiters.items():
            self.waiters[waiter_id] = dict(info)
            self._ref(int(info["event"]))
            if info.get("resolved") is not None:
                self._ref(int(info["resolved"]))

    def _drop_waiter(self, waiter_id: str) -> None:
        info = self.waiters.pop(waiter_id)
        self._unref(info["event"])
        if info["resolved"] is not None:
            self._unref(info["resolved"])

    def _apply_status(self, record: Mapping[str, Any]) -> None:
        self.status = _STATUS_OF[record["kind"]]

    def _apply_resumed(self, record: Mapping[str, Any]) -> None:
        self.status = "running"

    # ---- snapshots ----------------------------------------------------------------------
    def to_snapshot(self) -> dict[str, Any]:
        """The image as JSON: enough to resume without reading earlier records."""
        snapshot: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "seq": self.last_seq,
            "state": json_copy(self.state, "state"),
            "state_type": self.state_type,
            "events": [[eid, tag, payload] for eid, (tag, payload) in self.events.items()],
            "pending": [[eid, step] for (eid, step) in self.pending],
            "buffers": {key: list(ids) for key, ids in self.buffers.items()},
            "waiters": {wid: dict(info) for wid, info in self.waiters.items()},
            "awaiting_input": self.awaiting_input,
            "result_event": self.result_event,
            "next_event_id": self.next_event_id,
            "status": self.status,
        }
        if self.history:
            snapshot["broker_log"] = list(self.broker_log)
            snapshot["accepted"] = [list(pair) for pair in self.accepted]
        return snapshot

    def load_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot format {snapshot.get('format')!r} is not supported")
        self.state = json_copy(snapshot["state"], "state")
        self.state_type = str(snapshot.get("state_type", "DictState"))
        self.events = {int(eid): (tag, payload) for eid, tag, payload in snapshot["events"]}
        self._refs = {}
        self.pending = {}
        for eid, step in snapshot["pending"]:
            self._add_pending(int(eid), step)
        self.buffers = {}
        self._replace_buffers(snapshot.get("buffers", {}))
        self.waiters = {}
        self._add_waiters(snapshot.get("waiters", {}))
        self.awaiting_input = int(snapshot.get("awaiting_input", 0))
        self.result_event = snapshot.get("result_event")
        if self.result_event is not None:
            self._ref(self.result_event)
        self.next_event_id = int(snapshot.get("next_event_id", 1))
        self.status = snapshot.get("status", "running")
        if self.history:
            self.broker_log = [int(i) for i in snapshot.get("broker_log", self.events)]
            self.accepted = [(s, t) for s, t in snapshot.get("accepted", ())]
        else:
            for event_id in list(self.events):
                if event_id not in self._refs:
                    del self.events[event_id]

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[int, Mapping[str, Any]]],
        *,
        history: bool = False,
        run_id: str | None = None,
    ) -> RunFold:
        fold = cls(history=history, run_id=run_id)
        for seq, record in records:
            fold.apply(seq, record)
        return fold


def _parked(info: Mapping[str, Any], event_id: int, step: str) -> bool:
    return int(info["event"]) == event_id and info["step"] == step


class _Absent:
    __slots__ = ()


_ABSENT: Any = _Absent()

_STATUS_OF = {"stopped": "completed", "failed": "failed", "cancelled": "cancelled"}

_HANDLERS = {
    "started": RunFold._apply_started,
    "forked": RunFold._apply_forked,
    "step": RunFold._apply_step,
    "wait": RunFold._apply_wait,
    "sent": RunFold._apply_sent,
    "resumed": RunFold._apply_resumed,
    "stopped": RunFold._apply_status,
    "failed": RunFold._apply_status,
    "cancelled": RunFold._apply_status,
}


# ---- the context dict (``ctx.to_dict()``) -------------------------------------------------
def render_context_dict(
    fold: RunFold,
    step_names: Iterable[str],
    *,
    in_progress: Iterable[tuple[int, str]] = (),
    state_data: Any = None,
    is_running: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The snapshot shape users know from LlamaIndex (``state``, ``queues``, ``broker_log``...),
    every value native JSON."""

    def enc(event_id: int) -> dict[str, Any]:
        tag, payload = fold.events[event_id]
        return {"id": event_id, "type": tag, "data": payload}

    queues: dict[str, list[dict[str, Any]]] = {DONE: []}
    for name in sorted(step_names):
        queues[name] = []
    running = set(in_progress)
    for event_id, step in fold.pending:
        if (event_id, step) not in running:
            queues.setdefault(step, []).append(enc(event_id))
    if fold.result_event is not None:
        queues[DONE].append(enc(fold.result_event))
    progress: dict[str, list[dict[str, Any]]] = {}
    for event_id, step in in_progress:
        progress.setdefault(step, []).append(enc(event_id))
    data = state_data if state_data is not None else {"_data": json_copy(fold.state, "state")}
    return {
        "flowpoint": SNAPSHOT_FORMAT,
        "run_id": run_id,
        "state": {
            "state_data": data,
            "state_type": fold.state_type,
            "state_module": "flowpoint.context",
        },
        "streaming_queue": [],
        "queues": queues,
        "stepwise": False,
        "event_buffers": {key: [enc(i) for i in ids] for key, ids in fold.buffers.items()},
        "in_progress": progress,
        "accepted_events": list(fold.accepted),
        "broker_log": [enc(i) for i in fold.broker_log if i in fold.events],
        "is_running": is_running,
        "waiters": {wid: dict(info) for wid, info in fold.waiters.items()},
        "awaiting_input": fold.awaiting_input,
        "next_event_id": fold.next_event_id,
    }


def parse_context_dict(data: Any) -> RunFold:
    """Read ``ctx.to_dict()`` output back into an image; a bad shape is a ContextSerdeError."""
    if not isinstance(data, Mapping):
        raise ContextSerdeError(f"context snapshot must be a dict, got {type(data).__name__}")
    try:
        fold = RunFold(history=True)
        state = data["state"]
        fold.state_type = str(state.get("state_type", "DictState"))
        state_data = state["state_data"]
        fold.state = json_copy(
            state_data["_data"] if fold.state_type == "DictState" else state_data, "state"
        )

        def take(item: Mapping[str, Any]) -> int:
            event_id = int(item["id"])
            fold.events[event_id] = (str(item["type"]), item["data"])
            return event_id

        for item in data.get("broker_log", ()):
            fold.broker_log.append(take(item))
        for step, items in data.get("in_progress", {}).items():
            for item in items:
                fold._add_pending(take(item), step)
        for step, items in data["queues"].items():
            for item in items:
                event_id = take(item)
                if step == DONE:
                    fold.result_event = event_id
                    fold._ref(event_id)
                else:
                    fold._add_pending(event_id, step)
        fold._replace_buffers(
            {
                key: [take(item) for item in items]
                for key, items in data.get("event_buffers", {}).items()
            }
        )
        fold._add_waiters(data.get("waiters", {}))
        fold.accepted = [(str(s), str(t)) for s, t in data.get("accepted_events", ())]
        fold.awaiting_input = int(data.get("awaiting_input", 0))
        fold.next_event_id = max([int(data.get("next_event_id", 1)), *(i + 1 for i in fold.events)])
    except ContextSerdeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ContextSerdeError(
            f"context snapshot is not of the shape ctx.to_dict() writes: {type(exc).__name__}: "
            f"{exc}"
        ) from exc
    return fold


__all__ = ["DONE", "WAITER_PREFIX", "RunFold", "parse_context_dict", "render_context_dict"]
