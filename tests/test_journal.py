"""The journal: state deltas, folding records, and the context snapshot format."""

from __future__ import annotations

import json

import pytest

from flowpoint.errors import ContextSerdeError, CorruptRecordError, StateSerializationError
from flowpoint.journal import (
    RunFold,
    apply_delta,
    diff_state,
    json_copy,
    parse_context_dict,
    render_context_dict,
)


def test_delta_names_only_changed_keys() -> None:
    committed = {"a": 1, "b": "x"}
    live = {"a": 2, "b": "x"}
    assert diff_state(live, committed, ["a", "b"]) == {"set": {"a": 2}}
    assert committed == live


def test_a_list_that_only_grew_stores_just_its_new_items() -> None:
    committed = {"history": ["one"]}
    live = {"history": ["one", "two", "three"]}
    assert diff_state(live, committed, ["history"]) == {"ext": {"history": ["two", "three"]}}


def test_in_place_mutation_after_a_diff_is_still_seen() -> None:
    history: list[dict[str, int]] = [{"n": 1}]
    committed: dict[str, object] = {}
    live = {"history": history}
    diff_state(live, committed, ["history"])
    history[0]["n"] = 99
    assert diff_state(live, committed, ["history"]) == {"set": {"history": [{"n": 99}]}}


def test_deleted_keys_are_recorded() -> None:
    committed = {"gone": 1}
    assert diff_state({}, committed, ["gone"]) == {"del": ["gone"]}


def test_unchanged_state_gives_no_delta() -> None:
    committed = {"a": [1, 2]}
    assert diff_state({"a": [1, 2]}, committed, ["a"]) is None


def test_applying_deltas_rebuilds_the_state() -> None:
    state: dict[str, object] = {"h": [1]}
    apply_delta(state, {"ext": {"h": [2, 3]}, "set": {"x": {"y": 1}}, "del": ["nope"]})
    assert state == {"h": [1, 2, 3], "x": {"y": 1}}


def test_json_copy_refuses_what_json_cannot_hold_naming_the_key() -> None:
    with pytest.raises(StateSerializationError, match="'when'.*set"):
        json_copy({1, 2}, "when")
    with pytest.raises(StateSerializationError, match="string"):
        json_copy({1: "int key"}, "k")


def _started(state: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "kind": "started",
        "workflow": "m:W",
        "version": "v",
        "snapshot": {
            "format": 1,
            "state": state or {},
            "events": [[1, "StartEvent", {}]],
            "pending": [[1, "first"]],
            "next_event_id": 2,
        },
    }


def _step(consumed: int, step: str, emitted: list[list[object]], delta=None) -> dict[str, object]:
    record: dict[str, object] = {
        "kind": "step",
        "step": step,
        "consumed": consumed,
        "emitted": emitted,
        "returned": 0,
    }
    if delta:
        record["delta"] = delta
    return record


def test_fold_tracks_pending_deliveries_and_state() -> None:
    records = [
        (0, _started()),
        (1, _step(1, "first", [[2, "Num", {"n": 5}, ["second"]]], {"set": {"seen": [1]}})),
    ]
    fold = RunFold.from_records(records)
    assert list(fold.pending) == [(2, "second")]
    assert fold.events == {2: ("Num", {"n": 5})}
    assert fold.state == {"seen": [1]}
    done = RunFold.from_records(
        [*records, (2, _step(2, "second", [[3, "StopEvent", {"result": 15}, ["_done"]]]))]
    )
    assert not done.pending
    assert done.result_event == 3


def test_fork_record_replaces_the_pending_event() -> None:
    records = [(0, _started()), (1, _step(1, "first", [[2, "Num", {"n": 5}, ["second"]]]))]
    fold = RunFold.from_records(records)
    fold.apply(
        2,
        {
            "kind": "forked",
            "parent_run_id": "p",
            "fork_seq": 1,
            "replace": [[2, "Num", {"n": 20}, ["second"]]],
            "state_patch": {"edited": True},
        },
    )
    assert fold.events[2] == ("Num", {"n": 20})
    assert list(fold.pending) == [(2, "second")]
    assert fold.state == {"edited": True}


def test_snapshot_round_trip_gives_the_same_image() -> None:
    records = [(0, _started({"a": [1]})), (1, _step(1, "first", [[2, "Num", {}, ["second"]]]))]
    fold = RunFold.from_records(records)
    copy = RunFold()
    copy.load_snapshot(json.loads(json.dumps(fold.to_snapshot())))
    assert copy.state == fold.state
    assert copy.pending == fold.pending
    assert copy.events == fold.events


def test_a_record_of_unknown_shape_names_run_and_seq() -> None:
    fold = RunFold(run_id="r1")
    with pytest.raises(CorruptRecordError, match="run r1 seq 7"):
        fold.apply(7, {"kind": "mystery"})
    fold.apply(0, _started())
    with pytest.raises(CorruptRecordError, match="seq 1: 'step' record is malformed"):
        fold.apply(1, {"kind": "step", "step": "first"})


def test_context_dict_is_native_json_and_parses_back() -> None:
    records = [(0, _started({"h": ["x"]})), (1, _step(1, "first", [[2, "Num", {}, ["second"]]]))]
    fold = RunFold.from_records(records, history=True)
    data = render_context_dict(fold, ["first", "second"])
    assert data["state"]["state_data"]["_data"] == {"h": ["x"]}
    assert data["accepted_events"] == [("first", "StartEvent")]
    again = parse_context_dict(json.loads(json.dumps(data)))
    assert list(again.pending) == [(2, "second")]
    assert again.state == {"h": ["x"]}


def test_parse_context_dict_rejects_a_truncated_snapshot() -> None:
    with pytest.raises(ContextSerdeError, match="shape"):
        parse_context_dict({"state": {"state_data": {}}})
