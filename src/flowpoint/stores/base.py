"""What every store offers: append records, read them back, list and claim runs.

A store sees run ids, sequence numbers and JSON records; it knows nothing of steps or
events. Run metadata (status, parent, fork point) lives beside the records so that listing
runs never reads a journal.
"""

from __future__ import annotations

import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import RunNotFoundError

#: A run in this state is never resumed, so its restore snapshot can go.
COMPLETED = "completed"
STATUSES = ("running", "waiting", "completed", "failed", "cancelled", "interrupted")

Record = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class RunInfo:
    """One run as the store lists it."""

    run_id: str
    workflow: str
    version: str
    status: str
    parent_run_id: str | None = None
    fork_seq: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    last_seq: int = -1
    steps: int = 0
    owner: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_status(self, status: str) -> RunInfo:
        return replace(self, status=status)


def this_owner() -> str:
    """Who runs a run here: host and process id, so a dead owner can be told from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """False when the owner is a process of this host that no longer exists.

    An owner on another host cannot be checked from here; it is taken as alive (the
    PostgreSQL store uses leases for that case).
    """
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def effective_status(info: RunInfo) -> str:
    """A run stored as running whose process is gone was interrupted (a crash, a kill -9)."""
    if info.status == "running" and not owner_alive(info.owner):
        return "interrupted"
    return info.status


class Store(ABC):
    """The storage interface the journal writes through."""

    #: Whether records outlive the process.
    durable: bool = False

    @abstractmethod
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
        """Append records (and create the run when ``run`` is given) in one transaction.

        Returns an awaitable that completes when the records are committed, or ``None``
        when they already are (or when ``wait`` is false and the caller accepts a later
        group commit).
        """

    @abstractmethod
    def read(self, run_id: str, from_seq: int = 0, to_seq: int | None = None) -> list[Record]:
        """Records of one run (its own, not its parent's), in sequence order."""

    @abstractmethod
    def get_run(self, run_id: str) -> RunInfo | None: ...

    @abstractmethod
    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        since: float | None = None,
        parent_run_id: str | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first."""

    @abstractmethod
    def latest_snapshot(self, run_id: str, at_most: int) -> tuple[int, dict[str, Any]] | None: ...

    @abstractmethod
    def set_status(
        self, run_id: str, status: str, *, owner: str | None = None, error: str | None = None
    ) -> Awaitable[None] | None: ...

    @abstractmethod
    def delete_runs(self, run_ids: Iterable[str]) -> int: ...

    async def flush(self) -> None:
        """Wait until everything appended so far is committed."""

    def close(self) -> None:
        """Release files and threads; appends after this raise."""

    def resolve_run_id(self, prefix: str) -> str | None:
        """The full run id for a unique prefix (what the CLI shows), None when no run has it;
        a prefix shared by several runs raises ``RunNotFoundError`` naming them."""
        if self.get_run(prefix) is not None:
            return prefix
        return _one_match(
            prefix, [r.run_id for r in self.list_runs() if r.run_id.startswith(prefix)]
        )


def _one_match(prefix: str, matches: list[str]) -> str | None:
    if not matches:
        return None
    if len(matches) > 1:
        shown = ", ".join(m[:12] for m in matches[:4])
        raise RunNotFoundError(
            f"run id prefix {prefix!r} matches several runs ({shown}...); give more characters"
        )
    return matches[0]


__all__ = [
    "COMPLETED",
    "STATUSES",
    "Record",
    "RunInfo",
    "Store",
    "effective_status",
    "owner_alive",
    "this_owner",
]
