"""What a run did, read from the store alone: timelines, states at a checkpoint, diffs.

Everything here works with only the database: a user inspecting a run at 3 a.m. may not
have the workflow's code importable, so events stay JSON with their type tag and nothing
is decoded into classes. The CLI renders these views; a web server can serve them as JSON
(every view has ``to_json()``).

>>> store = SQLiteStore(".flowpoint/flowpoint.db")            # doctest: +SKIP
>>> run = resolve_run(store, "3f2a")                          # a unique prefix, like git
>>> for entry in timeline(store, run.run_id).entries:         # doctest: +SKIP
...     print(entry.seq, entry.kind, entry.step)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import CheckpointNotFoundError, CorruptRecordError, RunNotFoundError
from .journal import RunFold
from .stores.base import RunInfo, Store, effective_status

#: Records of a run's history with the run that wrote each one: ``(seq, record, run_id)``.
LineageRecord = tuple[int, dict[str, Any], str]


# ---- finding runs -------------------------------------------------------------------------
def resolve_run(store: Store, ref: str) -> RunInfo:
    """The run a user means by ``ref`` (a full id or a unique prefix), with its effective
    status (a crashed run shows as ``interrupted``)."""
    ref = ref.strip()
    if not ref:
        raise RunNotFoundError("no run id given; list runs with `flowpoint runs`")
    full = store.resolve_run_id(ref)  # raises when the prefix is ambiguous
    info = store.get_run(full) if full else None
    if info is None:
        raise RunNotFoundError(f"no run {ref!r} in {store!r}; list runs with `flowpoint runs`")
    return info.with_status(effective_status(info))


def split_checkpoint_ref(ref: str) -> tuple[str, int | None]:
    """``"RUN@SEQ"`` -> ``("RUN", SEQ)``; ``"RUN"`` -> ``("RUN", None)``."""
    run, sep, seq = ref.partition("@")
    if not sep:
        return run, None
    try:
        number = int(seq)
    except ValueError:
        raise CheckpointNotFoundError(
            f"{ref!r}: the part after '@' must be a sequence number, like {run}@1"
        ) from None
    if number < 0:
        raise CheckpointNotFoundError(f"{ref!r}: sequence numbers start at 0")
    return run, number


def forks_of(store: Store, run_id: str) -> list[RunInfo]:
    """Runs forked from this one, oldest first, with their effective status."""
    children = store.list_runs(parent_run_id=run_id)
    return [c.with_status(effective_status(c)) for c in reversed(children)]


# ---- a run's records, its parents' included ------------------------------------------------
def lineage(store: Store, run_id: str, upto: int | None = None) -> list[LineageRecord]:
    """The records that make up a run: for a fork, its parent's up to the fork point (and
    theirs, recursively), then its own. A fork references its parent's prefix, so this is
    the only way to see its whole history."""
    info = store.get_run(run_id)
    if info is None:
        raise RunNotFoundError(f"no run {run_id!r} in {store!r}; list runs with `flowpoint runs`")
    prefix: list[LineageRecord] = []
    if info.parent_run_id is not None and info.fork_seq is not None:
        limit = info.fork_seq if upto is None else min(upto, info.fork_seq)
        prefix = lineage(store, info.parent_run_id, limit)
        if upto is not None and upto <= info.fork_seq:
            return prefix
    own = store.read(run_id, info.fork_seq + 1 if info.fork_seq is not None else 0, upto)
    return prefix + [(seq, record, run_id) for seq, record in own]


def record_range(records: list[LineageRecord], run_id: str) -> str:
    """``"0..3"``: the sequence numbers a user may ask for, for error messages."""
    if not records:
        return f"run {run_id} has no records"
    return f"run {run_id} has records {records[0][0]}..{records[-1][0]}"


# ---- views ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventView:
    """An event as stored: id, type tag, JSON payload, and where it went."""

    id: int
    type: str
    data: Any
    targets: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "data": self.data, "targets": list(self.targets)}


@dataclass
class Entry:
    """One record of a run's history, with what it means.

    ``kind`` is the record kind (started, forked, step, wait, sent, resumed, stopped,
    failed, cancelled); the other fields are filled when they apply to it.
    """

    seq: int
    kind: str
    run_id: str
    inherited: bool = False
    step: str | None = None
    attempt: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    input: EventView | None = None
    emitted: list[EventView] = field(default_factory=list)
    returned: EventView | None = None
    changed: dict[str, str] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    message: str | None = None
    traceback: str | None = None
    state: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    @property
    def id_(self) -> str:
        return f"{self.run_id}@{self.seq}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "run_id": self.run_id}
        if self.inherited:
            data["inherited"] = True
        for name in ("step", "attempt", "started_at", "ended_at", "duration"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.input is not None:
            data["input"] = self.input.to_json()
        if self.emitted:
            data["emitted"] = [e.to_json() for e in self.emitted]
        if self.returned is not None:
            data["returned"] = self.returned.to_json()
        if self.changed:
            data["changed"] = dict(self.changed)
        if self.kind == "stopped":
            data["result"] = self.result
        for name in ("error", "message", "traceback", "state"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        data.update(self.detail)
        return data


def run_json(info: RunInfo) -> dict[str, Any]:
    """A run's listing fields as JSON, with a duration a script need not compute."""
    data = asdict(info)
    data["duration"] = run_duration(info)
    return data


def run_duration(info: RunInfo) -> float | None:
    """Seconds from start to the last write; a live run's so far."""
    if not info.created_at:
        return None
    end = time.time() if info.status in ("running", "waiting") else info.updated_at
    return max(0.0, (end or info.created_at) - info.created_at)


@dataclass
class Timeline:
    """A run's history, oldest first, with its forks."""

    run: RunInfo
    entries: list[Entry]
    forks: list[RunInfo]

    @property
    def checkpoints(self) -> list[Entry]:
        """The finished steps: the points a run can be inspected at and forked from."""
        return [e for e in self.entries if e.kind == "step"]

    @property
    def result(self) -> Any:
        stopped = [e for e in self.entries if e.kind == "stopped" and not e.inherited]
        return stopped[-1].result if stopped else None

    @property
    def failure(self) -> Entry | None:
        failed = [e for e in self.entries if e.kind == "failed" and not e.inherited]
        return failed[-1] if failed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "run": run_json(self.run),
            "entries": [e.to_json() for e in self.entries],
            "result": self.result,
            "forks": [run_json(f) for f in self.forks],
        }


def timeline(store: Store, run_id: str) -> Timeline:
    """The run as a list of entries: each step with its input event, the events it emitted,
    its duration and attempt, the state keys it changed; failures with the event the
    failed step was given and the state at that moment."""
    info = store.get_run(run_id)
    if info is None:
        raise RunNotFoundError(f"no run {run_id!r} in {store!r}; list runs with `flowpoint runs`")
    entries = list(_entries(lineage(store, run_id), run_id))
    return Timeline(
        run=info.with_status(effective_status(info)),
        entries=entries,
        forks=forks_of(store, run_id),
    )


def _entries(records: list[LineageRecord], run_id: str) -> Iterator[Entry]:
    fold = RunFold(history=True, run_id=run_id)
    for seq, record, owner in records:
        entry = _describe(fold, seq, record, owner)
        entry.inherited = owner != run_id
        fold.apply(seq, record)
        if entry.kind == "failed":
            entry.state = copy.deepcopy(fold.state)
        yield entry


def _describe(fold: RunFold, seq: int, record: Mapping[str, Any], owner: str) -> Entry:
    """An entry for ``record``, read against the fold as it was just before it."""
    kind = str(record.get("kind"))
    entry = Entry(seq=seq, kind=kind, run_id=owner)
    fill = _FILLERS.get(kind)
    if fill is not None:
        try:
            fill(entry, fold, record)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CorruptRecordError(
                f"'{kind}' record is malformed ({type(exc).__name__}: {exc})",
                run_id=owner,
                seq=seq,
            ) from exc
    return entry


def _fill_started(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    snapshot = record["snapshot"]
    events = snapshot.get("events", [])
    if events:
        event_id, tag, payload = events[0]
        entry.input = EventView(int(event_id), tag, payload)
    entry.state = copy.deepcopy(snapshot.get("state", {}))
    entry.detail = {"workflow": record.get("workflow"), "version": record.get("version")}


def _fill_forked(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    replaced = record.get("replace") or ()
    entry.emitted = [_event_view(item) for item in replaced]
    patch = record.get("state_patch") or {}
    entry.changed = dict.fromkeys(patch, "set")
    entry.detail = {
        "parent_run_id": record.get("parent_run_id"),
        "fork_seq": record.get("fork_seq"),
        "state_patch": patch,
        "replaced": [{"id": e.id, "before": _payload(fold, e.id)} for e in entry.emitted],
    }


def _fill_step(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    """A finished step (or one parked on ``wait_for_event``)."""
    entry.step = record["step"]
    entry.attempt = int(record.get("attempt", 1)) if entry.kind == "step" else None
    entry.started_at = record.get("started")
    entry.ended_at = record.get("ended")
    entry.input = _consumed(fold, record)
    entry.emitted = [_event_view(item) for item in record.get("emitted") or ()]
    returned = int(record.get("returned", -1))
    if 0 <= returned < len(entry.emitted):
        entry.returned = entry.emitted[returned]
    entry.changed = delta_keys(record.get("delta"))
    if entry.kind == "wait":
        entry.detail = {"waiting_for": record.get("event_type")}


def _fill_sent(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    entry.emitted = [_event_view(item) for item in record.get("emitted") or ()]
    entry.changed = delta_keys(record.get("delta"))


def _fill_stopped(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    entry.result = record.get("result")


def _fill_failed(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    entry.step = record.get("step")
    entry.error = record.get("error")
    entry.message = record.get("message")
    entry.traceback = record.get("traceback")
    # The failure record does not repeat the failed step's input: it is the delivery to
    # that step which no step record consumed.
    given = [event_id for event_id, step in fold.pending if step == entry.step]
    if given:
        tag, payload = fold.events[given[0]]
        entry.input = EventView(given[0], tag, payload)


def _fill_resumed(entry: Entry, fold: RunFold, record: Mapping[str, Any]) -> None:
    entry.detail = {"from_status": record.get("from_status"), "owner": record.get("owner")}


_FILLERS = {
    "started": _fill_started,
    "forked": _fill_forked,
    "step": _fill_step,
    "wait": _fill_step,
    "sent": _fill_sent,
    "stopped": _fill_stopped,
    "failed": _fill_failed,
    "resumed": _fill_resumed,
}


def _consumed(fold: RunFold, record: Mapping[str, Any]) -> EventView | None:
    consumed = record.get("consumed")
    if consumed is None or int(consumed) not in fold.events:
        return None
    tag, payload = fold.events[int(consumed)]
    return EventView(int(consumed), tag, payload)


def _event_view(item: Any) -> EventView:
    event_id, tag, payload, targets = item
    return EventView(int(event_id), str(tag), payload, tuple(targets or ()))


def _payload(fold: RunFold, event_id: int) -> Any:
    found = fold.events.get(event_id)
    return found[1] if found is not None else None


def delta_keys(delta: Mapping[str, Any] | None) -> dict[str, str]:
    """What a state delta did to each key: ``set``, ``extended by N``, ``deleted``."""
    if not delta:
        return {}
    changed = dict.fromkeys(delta.get("set", {}), "set")
    for key, items in delta.get("ext", {}).items():
        changed[key] = f"extended by {len(items)}"
    for key in delta.get("del", ()):
        changed[key] = "deleted"
    return changed


# ---- state at a checkpoint -----------------------------------------------------------------
@dataclass
class StateAt:
    """The state right after record ``seq`` (a checkpoint, usually)."""

    run_id: str
    seq: int
    kind: str
    step: str | None
    state: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "step": self.step,
            "state": self.state,
        }


def state_at(store: Store, run_id: str, seq: int | None = None) -> StateAt:
    """The state after record ``seq`` (after the last record when ``seq`` is None)."""
    records = lineage(store, run_id)
    if not records:
        raise CheckpointNotFoundError(f"run {run_id} has no records yet")
    last = records[-1][0]
    target = last if seq is None else seq
    if not records[0][0] <= target <= last:
        raise CheckpointNotFoundError(
            f"seq {target} is out of range: {record_range(records, run_id)}; "
            f"list checkpoints with `flowpoint checkpoints {run_id[:12]}`"
        )
    fold = RunFold(history=False, run_id=run_id)
    for number, record, _ in records:
        if number > target:
            break
        fold.apply(number, record)
        found = record
    return StateAt(run_id, target, str(found.get("kind")), found.get("step"), fold.state)


def previous_checkpoint(store: Store, run_id: str, seq: int) -> int:
    """The checkpoint before ``seq`` to diff against: the previous step, or the start."""
    records = lineage(store, run_id, seq)
    earlier = [n for n, record, _ in records if n < seq and record.get("kind") == "step"]
    if earlier:
        return earlier[-1]
    return records[0][0] if records and records[0][0] < seq else seq


@dataclass
class StateDiff:
    """Keys added, removed or changed between two states; lists that only grew are
    reported with their new items, like the journal stores them."""

    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def keys(self) -> list[str]:
        return sorted({*self.added, *self.removed, *self.changed})

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"before": b, "after": a} for k, (b, a) in self.changed.items()},
        }


def diff_states(before: Mapping[str, Any], after: Mapping[str, Any]) -> StateDiff:
    """Key by key, ``before`` -> ``after``."""
    diff = StateDiff()
    for key in sorted({*before, *after}):
        if key not in before:
            diff.added[key] = after[key]
        elif key not in after:
            diff.removed[key] = before[key]
        elif before[key] != after[key]:
            diff.changed[key] = (before[key], after[key])
    return diff


# ---- two runs side by side -----------------------------------------------------------------
@dataclass
class RunDiff:
    """Where two runs (a run and its fork, or two runs of one workflow) part ways."""

    a: Timeline
    b: Timeline
    same_steps: int
    first: tuple[Entry | None, Entry | None] | None
    differs_in: list[str]
    state: StateDiff
    relation: str | None

    @property
    def identical(self) -> bool:
        return self.first is None and not self.state and self.a.result == self.b.result

    def to_json(self) -> dict[str, Any]:
        first = None
        if self.first is not None:
            first = {
                "a": self.first[0].to_json() if self.first[0] else None,
                "b": self.first[1].to_json() if self.first[1] else None,
                "differs_in": self.differs_in,
            }
        return {
            "a": run_json(self.a.run),
            "b": run_json(self.b.run),
            "relation": self.relation,
            "same_steps": self.same_steps,
            "first_difference": first,
            "state": self.state.to_json(),
            "result": {"a": self.a.result, "b": self.b.result},
            "identical": self.identical,
        }


def diff_runs(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Compare two runs step by step (in the order they ran), then their final states and
    results. Forks share their parent's steps up to the fork point, so the first step that
    differs is where the edit took effect."""
    a, b = timeline(store, run_a), timeline(store, run_b)
    steps_a, steps_b = a.checkpoints, b.checkpoints
    same = 0
    first: tuple[Entry | None, Entry | None] | None = None
    differs_in: list[str] = []
    for index in range(max(len(steps_a), len(steps_b))):
        left = steps_a[index] if index < len(steps_a) else None
        right = steps_b[index] if index < len(steps_b) else None
        differs_in = _step_differences(left, right)
        if differs_in:
            first = (left, right)
            break
        same += 1
    return RunDiff(
        a=a,
        b=b,
        same_steps=same,
        first=first,
        differs_in=differs_in,
        state=diff_states(_final_state(store, a), _final_state(store, b)),
        relation=_relation(a.run, b.run),
    )


def _step_differences(left: Entry | None, right: Entry | None) -> list[str]:
    if left is None or right is None:
        return [] if left is right else ["missing"]
    found = []
    if left.step != right.step:
        found.append("step")
    if _event_key(left.input) != _event_key(right.input):
        found.append("input")
    if [_event_key(e) for e in left.emitted] != [_event_key(e) for e in right.emitted]:
        found.append("emitted")
    if left.changed != right.changed:
        found.append("state keys")
    return found


def _event_key(event: EventView | None) -> Any:
    return None if event is None else (event.type, event.data)


def _final_state(store: Store, view: Timeline) -> dict[str, Any]:
    if not view.entries:
        return {}
    return state_at(store, view.run.run_id).state


def _relation(a: RunInfo, b: RunInfo) -> str | None:
    if b.parent_run_id == a.run_id:
        return f"{b.run_id[:12]} is a fork of {a.run_id[:12]} at seq {b.fork_seq}"
    if a.parent_run_id == b.run_id:
        return f"{a.run_id[:12]} is a fork of {b.run_id[:12]} at seq {a.fork_seq}"
    if a.parent_run_id is not None and a.parent_run_id == b.parent_run_id:
        return f"both are forks of {a.parent_run_id[:12]}"
    return None


__all__ = [
    "Entry",
    "EventView",
    "LineageRecord",
    "RunDiff",
    "StateAt",
    "StateDiff",
    "Timeline",
    "delta_keys",
    "diff_runs",
    "diff_states",
    "forks_of",
    "lineage",
    "previous_checkpoint",
    "record_range",
    "resolve_run",
    "run_duration",
    "run_json",
    "split_checkpoint_ref",
    "state_at",
    "timeline",
]
