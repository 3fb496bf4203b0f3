"""The one narrow interface between the runtime and a store.

The runtime hands the journal a record per finished step; the journal numbers it, folds
it into the run's image (so snapshots are exact), and passes it to the store. With
``sync`` durability the runtime awaits the returned commit before it dispatches the
step's events: after a crash, every step whose events moved on is in the journal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ..stores.base import RunInfo, Store
from .delta import approx_json_size
from .fold import RunFold

Durability = Literal["sync", "batch", "none"]

_STATUS_OF_KIND = {
    "started": "running",
    "forked": "running",
    "resumed": "running",
    "stopped": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}

# Reading a record costs about this much beyond its state delta (framing, events, times).
_RECORD_COST = 200

RecordListener = Callable[[str, int, dict[str, Any]], None]


class Journal:
    """Appends one run's records to a store, in order, with the chosen durability."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        durability: Durability = "sync",
        snapshot_every: int = 100,
        next_seq: int = 0,
        fold: RunFold | None = None,
        run_info: RunInfo | None = None,
        listener: RecordListener | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.durability = durability
        self.snapshot_every = snapshot_every
        self.next_seq = next_seq
        self.fold = fold if fold is not None else RunFold(run_id=run_id)
        self._run_info = run_info
        self._listener = listener
        self._wait = durability == "sync"
        # What the tail after the last snapshot costs to read, against what the snapshot
        # itself costs: see _snapshot_due.
        # A run's first record (started, forked) holds its whole image already.
        self._last_snapshot_seq = max(next_seq - 1, 0)
        self._tail_bytes = 0
        self._snapshot_bytes = 0

    @property
    def committed_state(self) -> dict[str, Any]:
        """The state as of the last record. The runtime diffs live state against it (which
        updates it), so a record's ``delta`` is already in it when the record is appended."""
        return self.fold.state

    def append(self, record: dict[str, Any], *, error: str | None = None) -> Awaitable[None] | None:
        """Number, fold and store one record. Returns the commit to await, if any."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self.fold.apply(seq, record, delta_applied=True)
        snapshot = None
        delta = record.get("delta")
        self._tail_bytes += _RECORD_COST + (approx_json_size(delta) if delta else 0)
        if record["kind"] != "stopped" and self._snapshot_due(seq):
            snapshot = (seq, self.fold.to_snapshot())
            self._last_snapshot_seq = seq
            self._tail_bytes = 0
            self._snapshot_bytes = approx_json_size(snapshot[1]["state"])
        run_info, self._run_info = self._run_info, None
        commit = self.store.append(
            self.run_id,
            ((seq, record),),
            run=run_info,
            status=_STATUS_OF_KIND.get(record["kind"]),
            error=error,
            snapshot=snapshot,
            wait=self._wait,
        )
        if self._listener is not None:
            self._listener(self.run_id, seq, record)
        return commit

    def _snapshot_due(self, seq: int) -> bool:
        """Every ``snapshot_every`` records, if the records since the last snapshot cost at
        least half of what the snapshot does to read.

        A fixed interval alone would, for a state that keeps growing (a conversation),
        write a full copy of it every K steps: quadratic bytes written. Weighing the tail
        against the snapshot spaces snapshots out as the state grows, so bytes written stay
        linear, while a resume still reads at most ``snapshot_every`` records or half a
        snapshot's worth of tail, whichever is more.
        """
        every = self.snapshot_every
        if not every or seq - self._last_snapshot_seq < every:
            return False
        return self._tail_bytes * 2 >= self._snapshot_bytes

    def set_status(self, status: str) -> Awaitable[None] | None:
        return self.store.set_status(self.run_id, status)

    async def flush(self) -> None:
        await self.store.flush()


__all__ = ["Durability", "Journal"]
