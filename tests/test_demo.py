"""The demo: the seed notebook's scenarios as importable workflows, run on a store."""

from __future__ import annotations

from pathlib import Path

from flowpoint.cli._workflows import import_workflow
from flowpoint.demo import NumberWorkflow, SimpleChatWorkflow, run_demo
from flowpoint.history import state_at, timeline
from flowpoint.stores import SQLiteStore


async def test_demo_runs_a_chat_a_number_run_and_a_fork_with_the_number_edited(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "demo.db")
    report = await run_demo(store)
    assert report.chat_result["bot_response"].startswith("Hello! This is our first conversation")
    assert report.number_result["final_result"] == 15
    assert report.fork_result["final_result"] == 30
    fork = store.get_run(report.fork_run_id)
    assert fork is not None
    assert (fork.parent_run_id, fork.fork_seq) == (report.number_run_id, 1)
    history = state_at(store, report.chat_run_id).state["conversation_history"]
    assert [m["message_number"] for m in history] == [1]
    assert [c.step for c in timeline(store, report.number_run_id).checkpoints] == [
        "first_step",
        "second_step",
    ]
    store.close()


def test_demo_workflows_are_importable_by_the_name_their_runs_record() -> None:
    assert NumberWorkflow.identity() == "flowpoint.demo:NumberWorkflow"
    assert import_workflow(SimpleChatWorkflow.identity()) is SimpleChatWorkflow
    assert import_workflow(NumberWorkflow.identity()) is NumberWorkflow
