"""One hierarchy of errors, so callers can catch ``FlowpointError`` and know it came from us.

Errors about stored data carry the run id and sequence number so that a user can find the
record with ``flowpoint show RUN`` instead of guessing.
"""

from __future__ import annotations


class FlowpointError(Exception):
    """Base class of every error flowpoint raises on purpose."""


class WorkflowValidationError(FlowpointError):
    """The workflow's steps cannot form a run (checked before the first step)."""


class WorkflowTimeoutError(FlowpointError, TimeoutError):
    """The run did not finish within the workflow's ``timeout``."""


class WorkflowRuntimeError(FlowpointError, RuntimeError):
    """The run cannot go on: a step returned something that is not an event, or it stalled."""


class WorkflowCancelledByUser(FlowpointError):
    """The run was cancelled through its handler."""


class ContextSerdeError(FlowpointError, ValueError):
    """A context snapshot cannot be read back (wrong shape, unknown event type, bad payload)."""


class StateKeyError(FlowpointError, KeyError, ValueError):
    """``ctx.store.get`` was asked for a key that is not set and given no default."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StateSerializationError(FlowpointError, TypeError):
    """A state value that JSON cannot hold, refused at ``ctx.store.set`` rather than at resume."""


class StoreError(FlowpointError):
    """The store cannot be opened or used."""


class SchemaVersionError(StoreError):
    """The store was written by a newer flowpoint; it is left untouched."""


class RunNotFoundError(FlowpointError, LookupError):
    """No run with that id in the store."""


class CheckpointNotFoundError(FlowpointError, LookupError):
    """No checkpoint at that sequence number for the run."""


class WorkflowMismatchError(FlowpointError):
    """A stored run belongs to another workflow, or to another version of its step set."""


class JournalError(FlowpointError):
    """A stored record cannot be trusted. Names the run and the sequence number."""

    def __init__(self, message: str, *, run_id: str | None = None, seq: int | None = None):
        where = ""
        if run_id is not None:
            where = f"run {run_id}" + (f" seq {seq}" if seq is not None else "") + ": "
        super().__init__(where + message)
        self.run_id = run_id
        self.seq = seq


class CorruptRecordError(JournalError):
    """A record is truncated, hand-edited or not of the shape flowpoint writes."""


class UnknownEventTypeError(JournalError):
    """A record names an event type the workflow does not declare; nothing is imported."""


class EventValidationError(JournalError):
    """A stored or edited event payload does not validate against its event type."""


__all__ = [
    "CheckpointNotFoundError",
    "ContextSerdeError",
    "CorruptRecordError",
    "EventValidationError",
    "FlowpointError",
    "JournalError",
    "RunNotFoundError",
    "SchemaVersionError",
    "StateKeyError",
    "StateSerializationError",
    "StoreError",
    "UnknownEventTypeError",
    "WorkflowCancelledByUser",
    "WorkflowMismatchError",
    "WorkflowRuntimeError",
    "WorkflowTimeoutError",
    "WorkflowValidationError",
]
