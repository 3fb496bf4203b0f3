"""The export format: versioned, round-trips exactly, and importing never runs anything."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from flowpoint import Checkpointer
from flowpoint.demo import NumberWorkflow
from flowpoint.export import (
    FORMAT,
    VERSION,
    ExportFormatError,
    dumps,
    export_runs,
    import_document,
    loads,
)
from flowpoint.history import timeline
from flowpoint.stores import MemoryStore, SQLiteStore


async def number_run_and_fork(store) -> tuple[str, str]:
    checkpointer = Checkpointer(NumberWorkflow(), store=store)
    handler = checkpointer.run(input_data={"number": 5})
    await handler
    first = checkpointer.load_checkpoints(handler.run_id)[0]
    fork = checkpointer.run_from(first, event={"number": 20})
    await fork
    return handler.run_id, fork.run_id


@pytest.fixture
async def exported(tmp_path: Path) -> dict[str, Any]:
    store = SQLiteStore(tmp_path / "source.db")
    _, fork = await number_run_and_fork(store)
    await store.flush()
    document = export_runs(store, [fork])
    store.close()
    return document


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What must survive a round trip: all but when it was exported and last written."""
    document = copy.deepcopy(document)
    document.pop("exported_at")
    for run in document["runs"]:
        run["run"].pop("updated_at")
    return document


def test_export_holds_the_fork_after_its_parent_with_every_record(exported: dict) -> None:
    assert (exported["format"], exported["version"]) == (FORMAT, VERSION)
    parent, fork = exported["runs"]
    assert fork["run"]["parent_run_id"] == parent["run"]["run_id"]
    assert [seq for seq, _ in parent["records"]] == [0, 1, 2, 3]
    assert [r["kind"] for _, r in fork["records"]] == ["forked", "step", "stopped"]


def test_export_import_export_round_trips_exactly(exported: dict, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "target.db")
    imported = import_document(store, loads(dumps(exported)))
    assert [r.run_id for r in imported] == [r["run"]["run_id"] for r in exported["runs"]]
    again = export_runs(store, [imported[-1].run_id])
    assert comparable(again) == comparable(exported)
    assert timeline(store, imported[-1].run_id).result["final_result"] == 30
    store.close()


def test_import_refuses_existing_ids_and_writes_nothing(exported: dict) -> None:
    store = MemoryStore()
    import_document(store, exported)
    with pytest.raises(ExportFormatError, match=r"already in .* Pass --rename"):
        import_document(store, exported)
    assert len(store.list_runs()) == 2


def test_import_with_rename_gives_new_ids_and_keeps_forks_pointing_at_parents(
    exported: dict,
) -> None:
    store = MemoryStore()
    import_document(store, exported)
    renamed = import_document(store, exported, rename=True)
    parent, fork = (store.get_run(r.run_id) for r in renamed)
    assert parent is not None and fork is not None
    assert fork.parent_run_id == parent.run_id
    forked = store.read(fork.run_id)[0][1]
    assert forked["parent_run_id"] == parent.run_id
    assert timeline(store, fork.run_id).result["final_result"] == 30


def test_a_running_run_is_imported_as_interrupted(exported: dict) -> None:
    store = MemoryStore()
    exported["runs"][1]["run"]["status"] = "running"
    exported["runs"][1]["records"] = exported["runs"][1]["records"][:2]
    import_document(store, exported)
    fork_id = exported["runs"][1]["run"]["run_id"]
    assert timeline(store, fork_id).run.status == "interrupted"


def test_a_fork_whose_parent_is_missing_is_refused(exported: dict) -> None:
    del exported["runs"][0]
    with pytest.raises(ExportFormatError, match="neither in the file nor in"):
        import_document(MemoryStore(), exported)


@pytest.mark.parametrize(
    ("damage", "complaint"),
    [
        (lambda d: d.update(format="other"), "is not a flowpoint export"),
        (lambda d: d.update(version=VERSION + 1), "written by a newer flowpoint"),
        (lambda d: d.update(version="1"), "invalid format version"),
        (lambda d: d["runs"][0]["run"].update(status="exploded"), "status 'exploded'"),
        (lambda d: d["runs"][0]["records"].pop(1), "must be numbered without gaps"),
        (lambda d: d["runs"][0]["records"][1].__setitem__(1, {"kind": "step"}), "malformed"),
        (lambda d: d["runs"][0]["records"].__setitem__(0, [0, "started"]), "every record must"),
        (lambda d: d["runs"].append(d["runs"][0]), "more than once"),
    ],
)
def test_a_damaged_file_is_refused_and_nothing_is_imported(
    exported: dict, damage: Any, complaint: str
) -> None:
    store = MemoryStore()
    damage(exported)
    with pytest.raises(ExportFormatError, match=complaint):
        import_document(store, exported)
    assert store.list_runs() == []


def test_text_that_is_not_json_is_refused_naming_the_file() -> None:
    with pytest.raises(ExportFormatError, match=r"runs\.json is not JSON"):
        loads("{", source="runs.json")
