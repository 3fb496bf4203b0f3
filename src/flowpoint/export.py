"""Runs as a JSON document: ``flowpoint export`` writes it, ``flowpoint import`` reads it.

The format (version 1) is the journal itself, so a run comes back exactly as it was::

    {
      "format": "flowpoint-export",
      "version": 1,
      "exported_at": "2025-09-12T09:15:35+00:00",     # informational
      "flowpoint_version": "0.1.0",                    # informational
      "runs": [                                        # parents before their forks
        {
          "run": {
            "run_id": "6ae2d2e0...", "workflow": "module:Class", "version": "b5e8999c894f",
            "status": "completed", "parent_run_id": null, "fork_seq": null,
            "created_at": 1757668535.25, "updated_at": 1757668535.26,
            "error": null, "extra": {}
          },
          "records": [[0, {"kind": "started", ...}], [1, {"kind": "step", ...}], ...]
        }
      ]
    }

``records`` are the run's own journal records, unchanged (their kinds and fields are
documented in ``flowpoint.journal.fold``). A fork's records start after its parent's
``fork_seq``; its parent travels in the same file (``export`` adds ancestors) or must
already be in the database it is imported into. ``status`` is the stored one; a run that
was still running is imported without an owner, so it shows as ``interrupted`` and can be
resumed where it was imported. ``updated_at`` is informational: stores stamp it when they
write.

Importing only ever parses JSON and appends records: it never imports a module or runs a
step, whatever the file names. A reader refuses a newer ``version`` instead of guessing.

>>> document = export_runs(store, ["6ae2d2e0"])                # doctest: +SKIP
>>> imported = import_document(other_store, loads(dumps(document)))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from .errors import FlowpointError, JournalError
from .journal import RunFold
from .stores.base import Record, RunInfo, Store

FORMAT = "flowpoint-export"
VERSION = 1
_STORED_STATUSES = ("running", "waiting", "completed", "failed", "cancelled")


class ExportFormatError(FlowpointError):
    """A file is not a flowpoint export this version can read; nothing was imported."""


@dataclass(frozen=True)
class ImportedRun:
    """A run written by an import: its id in the file and its id in the database."""

    original_id: str
    run_id: str
    workflow: str
    status: str
    records: int


# ---- writing --------------------------------------------------------------------------------
def export_runs(store: Store, run_ids: Iterable[str], *, ancestors: bool = True) -> dict[str, Any]:
    """A document holding ``run_ids`` (full ids), preceded by the runs they were forked
    from, so that the file can be read on its own."""
    from . import __version__

    ordered: list[RunInfo] = []
    seen: set[str] = set()

    def add(run_id: str) -> None:
        if run_id in seen:
            return
        info = store.get_run(run_id)
        if info is None:
            raise ExportFormatError(f"no run {run_id!r} to export")
        if ancestors and info.parent_run_id is not None:
            add(info.parent_run_id)
        seen.add(run_id)
        ordered.append(info)

    for run_id in run_ids:
        add(run_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "flowpoint_version": __version__,
        "runs": [
            {"run": _run_fields(info), "records": [[s, r] for s, r in store.read(info.run_id)]}
            for info in ordered
        ],
    }


def _run_fields(info: RunInfo) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "workflow": info.workflow,
        "version": info.version,
        "status": info.status,
        "parent_run_id": info.parent_run_id,
        "fork_seq": info.fork_seq,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "error": info.error,
        "extra": dict(info.extra),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The document as text: indented, UTF-8 kept as is, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# ---- reading --------------------------------------------------------------------------------
def loads(text: str, *, source: str = "the file") -> dict[str, Any]:
    """Parse and check a document; any problem is an ``ExportFormatError`` naming where."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ExportFormatError(f"{source} is not JSON: {exc}") from None
    check_document(document, source=source)
    return document


@dataclass(frozen=True)
class _Run:
    info: RunInfo
    records: list[Record]


def check_document(document: Any, *, source: str = "the file") -> None:
    """Raise ``ExportFormatError`` unless ``document`` is a well-formed export."""
    _parse(document, source)


def _parse(document: Any, source: str) -> list[_Run]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ExportFormatError(
            f'{source} is not a flowpoint export (no "format": "{FORMAT}"); '
            "make one with `flowpoint export RUN > file.json`"
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportFormatError(f"{source} has an invalid format version {version!r}")
    if version > VERSION:
        raise ExportFormatError(
            f"{source} was written by a newer flowpoint (export format {version}; this one "
            f"reads up to {VERSION}). Upgrade flowpoint to import it."
        )
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise ExportFormatError(f'{source}: "runs" must be a list')
    parsed = [_parse_run(item, index, source) for index, item in enumerate(runs)]
    ids = [run.info.run_id for run in parsed]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ExportFormatError(f"{source} holds run {duplicates[0]} more than once")
    return parsed


def _parse_run(item: Any, index: int, source: str) -> _Run:
    where = f"{source}: runs[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("run"), dict):
        raise ExportFormatError(f'{where} must be an object with "run" and "records"')
    fields = item["run"]
    for name in ("run_id", "workflow", "version", "status"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise ExportFormatError(f"{where}.run.{name} must be a non-empty string")
    run_id = fields["run_id"]
    where = f"{source}: run {run_id}"
    if fields["status"] not in _STORED_STATUSES:
        raise ExportFormatError(
            f"{where}: status {fields['status']!r} is not one of {', '.join(_STORED_STATUSES)}"
        )
    parent, fork_seq = fields.get("parent_run_id"), fields.get("fork_seq")
    if (parent is None) != (fork_seq is None) or (
        parent is not None and (not isinstance(parent, str) or not _is_seq(fork_seq))
    ):
        raise ExportFormatError(f"{where}: parent_run_id and fork_seq go together")
    for name in ("created_at", "updated_at"):
        if not isinstance(fields.get(name, 0.0), (int, float)):
            raise ExportFormatError(f"{where}.{name} must be a number (seconds since 1970)")
    if fields.get("error") is not None and not isinstance(fields["error"], str):
        raise ExportFormatError(f"{where}.error must be a string or null")
    if not isinstance(fields.get("extra", {}), dict):
        raise ExportFormatError(f"{where}.extra must be an object")
    records = _parse_records(item.get("records"), where)
    first = fork_seq + 1 if fork_seq is not None else 0
    if records and records[0][0] != first:
        raise ExportFormatError(f"{where}: its first record must be seq {first}")
    info = RunInfo(
        run_id=run_id,
        workflow=fields["workflow"],
        version=fields["version"],
        status=fields["status"],
        parent_run_id=parent,
        fork_seq=fork_seq,
        created_at=float(fields.get("created_at", 0.0)),
        updated_at=float(fields.get("updated_at", 0.0)),
        last_seq=records[-1][0] if records else -1,
        steps=sum(1 for _, r in records if r["kind"] == "step"),
        error=fields.get("error"),
        extra=dict(fields.get("extra", {})),
    )
    return _Run(info, records)


def _parse_records(raw: Any, where: str) -> list[Record]:
    if not isinstance(raw, list):
        raise ExportFormatError(f'{where}: "records" must be a list of [seq, record]')
    records: list[Record] = []
    for entry in raw:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not _is_seq(entry[0])
            or not isinstance(entry[1], dict)
            or not isinstance(entry[1].get("kind"), str)
        ):
            raise ExportFormatError(
                f'{where}: every record must be [seq, {{"kind": ...}}], found {entry!r:.80}'
            )
        if records and entry[0] != records[-1][0] + 1:
            raise ExportFormatError(
                f"{where}: record seq {entry[0]} follows {records[-1][0]}; records must be "
                "numbered without gaps"
            )
        records.append((entry[0], entry[1]))
    return records


def _is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ---- importing ------------------------------------------------------------------------------
def import_document(
    store: Store, document: Any, *, rename: bool = False, source: str = "the file"
) -> list[ImportedRun]:
    """Write the document's runs into ``store``, parents first; all checks pass before the
    first write. A run id already in the store is refused unless ``rename`` gives every
    imported run a new id (forks in the file follow their renamed parents)."""
    runs = _parse(document, source)
    ids = {run.info.run_id: run.info.run_id for run in runs}
    clashes = [i for i in ids if store.get_run(i) is not None]
    if clashes and not rename:
        raise ExportFormatError(
            f"run {clashes[0]} is already in {store!r}; nothing was imported. Pass --rename "
            "to import the file's runs under new ids."
        )
    if rename:
        ids = {old: uuid.uuid4().hex for old in ids}
    runs = [_renamed(run, ids) for run in _parents_first(runs)]
    _check_replay(store, runs, source)
    original_of = {new: old for old, new in ids.items()}
    imported = []
    for run in runs:
        info = run.info
        # Whoever ran it is not here: a run that was still going shows as interrupted.
        row = RunInfo(
            run_id=info.run_id,
            workflow=info.workflow,
            version=info.version,
            status=info.status,
            parent_run_id=info.parent_run_id,
            fork_seq=info.fork_seq,
            created_at=info.created_at,
            updated_at=info.updated_at,
            error=info.error,
            extra=info.extra,
        )
        store.append(info.run_id, run.records, run=row, status=info.status, error=info.error)
        imported.append(
            ImportedRun(
                original_of[info.run_id], info.run_id, info.workflow, info.status, len(run.records)
            )
        )
    return imported


def _parents_first(runs: list[_Run]) -> list[_Run]:
    by_id = {run.info.run_id: run for run in runs}
    ordered: list[_Run] = []
    placed: set[str] = set()

    def place(run: _Run, trail: tuple[str, ...]) -> None:
        run_id = run.info.run_id
        if run_id in placed:
            return
        if run_id in trail:
            raise ExportFormatError(f"run {run_id} is its own ancestor")
        parent = by_id.get(run.info.parent_run_id or "")
        if parent is not None:
            place(parent, (*trail, run_id))
        placed.add(run_id)
        ordered.append(run)

    for run in runs:
        place(run, ())
    return ordered


def _renamed(run: _Run, ids: Mapping[str, str]) -> _Run:
    info = run.info
    if all(ids.get(i, i) == i for i in (info.run_id, info.parent_run_id) if i):
        return run
    parent = ids.get(info.parent_run_id, info.parent_run_id) if info.parent_run_id else None
    records = [
        (seq, {**record, "parent_run_id": parent} if record["kind"] == "forked" else record)
        for seq, record in run.records
    ]
    return _Run(replace(info, run_id=ids[info.run_id], parent_run_id=parent), records)


def _check_replay(store: Store, runs: list[_Run], source: str) -> None:
    """Fold every run's history as a reader will, so a malformed record is refused here
    rather than found later by `flowpoint show`."""
    in_file = {run.info.run_id: run for run in runs}

    def history(run_id: str, upto: int | None) -> list[Record]:
        run = in_file.get(run_id)
        info = run.info if run is not None else store.get_run(run_id)
        if info is None:
            raise ExportFormatError(
                f"{source}: a fork's parent run {run_id} is neither in the file nor in "
                f"{store!r}; export the fork with its ancestors (the default)"
            )
        prefix: list[Record] = []
        if info.parent_run_id is not None and info.fork_seq is not None:
            limit = info.fork_seq if upto is None else min(upto, info.fork_seq)
            prefix = history(info.parent_run_id, limit)
        own = run.records if run is not None else store.read(run_id)
        return prefix + [(s, r) for s, r in own if upto is None or s <= upto]

    for run in runs:
        records = history(run.info.run_id, None)
        if [seq for seq, _ in records] != list(range(len(records))):
            raise ExportFormatError(
                f"{source}: run {run.info.run_id}'s history has gaps (is its fork_seq past "
                "the end of its parent?); nothing was imported"
            )
        fold = RunFold(history=True, run_id=run.info.run_id)
        try:
            for seq, record in records:
                fold.apply(seq, record)
        except JournalError as exc:
            raise ExportFormatError(f"{source}: {exc}; nothing was imported") from exc


__all__ = [
    "FORMAT",
    "VERSION",
    "ExportFormatError",
    "ImportedRun",
    "check_document",
    "dumps",
    "export_runs",
    "import_document",
    "loads",
]
