"""Events: pydantic models that also read like dicts."""

from __future__ import annotations

from pydantic import PrivateAttr

from flowpoint import Event, StartEvent, StopEvent


class Greeting(Event):
    name: str
    _seen: int = PrivateAttr(default=0)


def test_events_read_as_attributes_and_as_dicts() -> None:
    ev = Greeting(name="Ada")
    assert ev.name == ev["name"] == ev.get("name") == "Ada"
    assert ev.get("missing", "default") == "default"
    assert "name" in ev and "missing" not in ev


def test_private_attributes_are_allowed_and_not_dumped() -> None:
    ev = Greeting(name="Ada")
    ev._seen += 1
    assert ev._seen == 1
    assert ev.to_dict() == {"name": "Ada"}


def test_start_event_takes_any_keyword_data() -> None:
    ev = StartEvent(input_data={"number": 5}, topic="tea")
    assert ev.input_data == {"number": 5}
    assert ev.get("topic") == "tea"
    assert ev.keys() == ["input_data", "topic"]


def test_stop_event_carries_a_result() -> None:
    assert StopEvent(result={"n": 1}).result == {"n": 1}
    assert StopEvent().result is None


def test_str_of_an_event_is_its_fields_as_the_seed_prints_them() -> None:
    assert str(Greeting(name="Ada")) == "name='Ada'"
