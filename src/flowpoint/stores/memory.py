"""Records in a dict: for tests, notebooks and ``durability="none"``."""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from .base import COMPLETED, Record, RunInfo, Store


class MemoryStore(Store):
    """Keeps every run of this process in memory. Nothing survives the process.

    Records are kept as the JSON values the journal built; readers get them as they are and
    must not change them (the journal and checkpoints only ever decode from them).
    """

    durable = False

    def __init__(self) -> None:
        # Mutable rows: appending a step must not rebuild a frozen RunInfo (hot path).
        self._runs: dict[str, dict[str, Any]] = {}
        self._records: dict[str, list[Record]] = {}
        self._snapshots: dict[str, tuple[int, dict[str, Any]]] = {}

    def append(
        self,
        run_id: str,
        records: Sequence[Record],
        *,
        run: RunInfo | None = None,
        status: str | None = None,
        error: str | None = None,
        snapshot: tuple[int, dict[str, Any]] | None = None,
        wait: bool = True,
    ) -> Awaitable[None] | None:
        if run is not None:
            self._runs[run_id] = asdict(run)
            self._records[run_id] = []
        row = self._runs[run_id]
        self._records[run_id].extend(records)
        for seq, rec in records:
            row["last_seq"] = seq
            if rec["kind"] == "step":
                row["steps"] += 1
        if status:
            row["status"] = status
            row["updated_at"] = time.time()
        if error is not None:
            row["error"] = error
        if snapshot is not None:
            self._snapshots[run_id] = snapshot
        if status == COMPLETED:
            self._snapshots.pop(run_id, None)
        return None

    def read(self, run_id: str, from_seq: int = 0, to_seq: int | None = None) -> list[Record]:
        return [
            (seq, rec)
            for seq, rec in self._records.get(run_id, ())
            if seq >= from_seq and (to_seq is None or seq <= to_seq)
        ]

    def get_run(self, run_id: str) -> RunInfo | None:
        row = self._runs.get(run_id)
        return RunInfo(**row) if row is not None else None

    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        since: float | None = None,
        parent_run_id: str | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        runs = sorted(
            (RunInfo(**row) for row in self._runs.values()),
            key=lambda r: r.created_at,
            reverse=True,
        )
        runs = [
            r
            for r in runs
            if (status is None or r.status == status)
            and (workflow is None or r.workflow == workflow)
            and (since is None or r.created_at >= since)
            and (parent_run_id is None or r.parent_run_id == parent_run_id)
        ]
        return runs[:limit] if limit is not None else runs

    def latest_snapshot(self, run_id: str, at_most: int) -> tuple[int, dict[str, Any]] | None:
        snap = self._snapshots.get(run_id)
        if snap is None or snap[0] > at_most:
            return None
        return snap[0], copy.deepcopy(snap[1])

    def set_status(
        self, run_id: str, status: str, *, owner: str | None = None, error: str | None = None
    ) -> None:
        row = self._runs[run_id]
        row["status"] = status
        row["updated_at"] = time.time()
        if owner is not None:
            row["owner"] = owner
        if error is not None:
            row["error"] = error

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        count = 0
        for run_id in run_ids:
            if self._runs.pop(run_id, None) is not None:
                count += 1
            self._records.pop(run_id, None)
            self._snapshots.pop(run_id, None)
        return count


__all__ = ["MemoryStore"]
