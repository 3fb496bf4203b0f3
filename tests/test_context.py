"""The context: state by key or as a whole, and snapshots that are plain JSON."""

from __future__ import annotations

import json

import pytest

from flowpoint import Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.errors import StateKeyError, StateSerializationError


class Note(Event):
    text: str


class Notes(Workflow):
    @step
    async def write(self, ev: StartEvent, ctx: Context) -> Note:
        await ctx.store.set("profile.name", ev.get("name", "ada"))
        async with ctx.store.edit_state() as state:
            state["notes"] = [*state.get("notes", []), "first"]
        return Note(text="hi")

    @step
    async def read(self, ev: Note, ctx: Context) -> StopEvent:
        return StopEvent(
            result={
                "name": await ctx.store.get("profile.name"),
                "notes": await ctx.get("notes"),
                "missing": await ctx.store.get("nope", default="fallback"),
            }
        )


async def test_state_by_dotted_path_and_by_edit_state() -> None:
    result = await Notes().run(name="grace")
    assert result == {"name": "grace", "notes": ["first"], "missing": "fallback"}


async def test_a_missing_key_without_default_raises_state_key_error() -> None:
    ctx = Context(Notes())
    with pytest.raises(StateKeyError, match="no key 'nope'"):
        await ctx.store.get("nope")
    with pytest.raises(ValueError):  # what LlamaIndex users catch today
        await ctx.store.get("nope")


async def test_setting_a_value_json_cannot_hold_names_the_key() -> None:
    ctx = Context(Notes())
    with pytest.raises(StateSerializationError, match="'tags'.*set"):
        await ctx.store.set("tags", {"a", "b"})


async def test_a_context_reused_across_runs_keeps_its_state() -> None:
    workflow = Notes()
    ctx = Context(workflow)
    await workflow.run(ctx=ctx)
    result = await workflow.run(ctx=ctx)
    assert result["notes"] == ["first", "first"]


async def test_to_dict_is_native_json_that_round_trips() -> None:
    handler = Notes().run()
    await handler
    snapshot = handler.ctx.to_dict()
    text = json.dumps(snapshot)
    assert '\\"' not in text  # no JSON strings nested inside the JSON
    assert snapshot["state"]["state_data"]["_data"]["profile"] == {"name": "ada"}
    assert snapshot["state"]["state_type"] == "DictState"
    assert [e["type"] for e in snapshot["broker_log"]] == ["StartEvent", "Note", "StopEvent"]
    restored = Context.from_dict(Notes(), json.loads(text))
    assert await restored.store.get("notes") == ["first"]
