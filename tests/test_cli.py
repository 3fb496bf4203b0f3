"""The ``flowpoint`` command, driven through Typer's test runner against real SQLite files.

Each test reads as what a user types and what they see: the 3 a.m. story is find the
failed run, see its step, event and state, fork it with fixed data and watch it finish.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowpoint import Checkpointer, Context, Event, StartEvent, StopEvent, Workflow, step
from flowpoint.cli import app
from flowpoint.export import export_runs, import_document
from flowpoint.stores import SQLiteStore

runner = CliRunner()


class OrderParsed(Event):
    sku: str
    quantity: int


class OrderWorkflow(Workflow):
    """Fails on a quantity of 0, the bad data a user fixes by forking."""

    @step
    async def parse(self, ev: StartEvent, ctx: Context) -> OrderParsed:
        await ctx.store.set("customer", ev.get("customer"))
        return OrderParsed(sku=ev.get("sku"), quantity=ev.get("quantity"))

    @step
    async def price(self, ev: OrderParsed, ctx: Context) -> StopEvent:
        unit = 100 // ev.quantity
        await ctx.store.set("unit_price", unit)
        return StopEvent(result={"sku": ev.sku, "total": unit * ev.quantity})


ORDERS = f"{__name__}:OrderWorkflow"
NUMBERS = "flowpoint.demo:NumberWorkflow"


def fp(db: Path, *args: str, input: str | None = None) -> Any:
    """Run ``flowpoint ARGS --db DB`` and return the result."""
    return runner.invoke(app, [*args, "--db", str(db)], input=input)


def fp_json(db: Path, *args: str) -> Any:
    result = fp(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_count(db: Path) -> int:
    return len(fp_json(db, "runs"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "flowpoint.db"


@pytest.fixture
def demo(db: Path) -> dict[str, Any]:
    return fp_json(db, "demo")


@pytest.fixture
def failed_run(db: Path) -> str:
    """An order run that failed in its second step on a quantity of 0."""

    async def place() -> str:
        store = SQLiteStore(db)
        handler = Checkpointer(OrderWorkflow(), store=store).run(
            customer="ada", sku="tea", quantity=0
        )
        with pytest.raises(ZeroDivisionError):
            await handler
        store.close()
        return handler.run_id

    return asyncio.run(place())


def interrupted_copy(db: Path, run_id: str, keep: int) -> str:
    """A copy of ``run_id`` cut after record ``keep``, left running by a process that is gone
    (what a crash leaves), under a new id."""
    store = SQLiteStore(db)
    document = export_runs(store, [run_id], ancestors=False)
    run = document["runs"][-1]
    run["run"].update(run_id="c" * 32, status="running")
    run["records"] = run["records"][: keep + 1]
    import_document(store, document)
    store.close()
    return "c" * 32


# ---- demo ------------------------------------------------------------------------------------
def test_demo_writes_three_runs_and_ends_with_commands_to_explore_them(db: Path) -> None:
    result = fp(db, "demo")
    assert result.exit_code == 0, result.output
    runs = fp_json(db, "runs")
    assert len(runs) == 3
    fork = next(r for r in runs if r["parent_run_id"])
    number = next(r for r in runs if r["run_id"] == fork["parent_run_id"])
    assert "final_result: 15" in result.stdout and "final_result: 30" in result.stdout
    assert f"flowpoint diff {number['run_id'][:12]} {fork['run_id'][:12]}" in result.stdout
    assert f"--workflow {NUMBERS}" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("  flowpoint diff")


def test_demo_commands_work_as_printed(db: Path, demo: dict[str, Any]) -> None:
    for command in demo["commands"]:
        result = runner.invoke(app, shlex.split(command)[1:])  # with the printed --db

        assert result.exit_code == 0, (command, result.output)


# ---- runs ------------------------------------------------------------------------------------
def test_runs_lists_newest_first_with_status_and_fork_point(db: Path, demo: dict) -> None:
    result = fp(db, "runs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "workflow", "status"]
    assert demo["fork_run_id"][:12] in lines[1]
    assert f"{demo['number_run_id'][:12]}@1" in lines[1]
    assert demo["chat_run_id"][:12] in lines[3]


def test_runs_filters_by_status_workflow_since_and_limit(
    db: Path, demo: dict, failed_run: str
) -> None:
    assert [r["run_id"] for r in fp_json(db, "runs", "--status", "failed")] == [failed_run]
    assert len(fp_json(db, "runs", "--workflow", "NumberWorkflow")) == 2
    assert len(fp_json(db, "runs", "--workflow", NUMBERS)) == 2
    assert len(fp_json(db, "runs", "--since", "1h")) == 4
    assert fp_json(db, "runs", "--since", "2999-01-01") == []
    assert len(fp_json(db, "runs", "--limit", "2")) == 2


def test_runs_with_a_bad_since_exits_2_with_one_line(db: Path, demo: dict) -> None:
    result = fp(db, "runs", "--since", "yesterday")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--since 'yesterday'" in result.stderr


def test_reading_a_missing_database_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    result = fp(tmp_path / "nope.db", "runs")
    assert result.exit_code == 2
    assert "no flowpoint database" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "nope.db").exists()


def test_an_unusable_database_exits_2(tmp_path: Path) -> None:
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("these are my notes, not a database")
    result = fp(not_a_store, "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert fp(tmp_path, "runs").exit_code == 2  # a directory


def test_db_defaults_to_flowpoint_db_env_var(db: Path, demo: dict, monkeypatch) -> None:
    monkeypatch.setenv("FLOWPOINT_DB", str(db))
    result = runner.invoke(app, ["runs", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 3


# ---- show --------------------------------------------------------------------------------------
def test_show_prints_each_step_with_its_input_and_emitted_events(db: Path, demo: dict) -> None:
    result = fp(db, "show", demo["number_run_id"][:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "first_step" in out and "second_step" in out
    assert '#2 NumberEvent {"number": 5, "step_name": "first_step"} → second_step' in out
    assert "Forks of this run:" in out and demo["fork_run_id"][:12] in out


def test_show_of_a_failed_run_shows_the_error_the_event_the_state_and_traceback(
    db: Path, failed_run: str
) -> None:
    out = fp(db, "show", failed_run).stdout
    assert "failed in price" in out
    assert "ZeroDivisionError: integer division or modulo by zero" in out
    assert '"quantity": 0' in out  # the event the failed step was given
    assert '"customer": "ada"' in out  # the state when it failed
    assert "unit = 100 // ev.quantity" in out  # the traceback
    assert f"flowpoint fork {failed_run[:12]}@1" in out


def test_show_json_has_the_timeline_and_failure(db: Path, failed_run: str) -> None:
    data = fp_json(db, "show", failed_run)
    kinds = [e["kind"] for e in data["entries"]]
    assert kinds == ["started", "step", "failed"]
    failure = data["entries"][-1]
    assert failure["step"] == "price" and failure["input"]["data"]["quantity"] == 0
    assert failure["state"] == {"customer": "ada"}
    assert data["entries"][1]["changed"] == {"customer": "set"}


def test_show_of_a_fork_marks_the_parents_steps_as_inherited(db: Path, demo: dict) -> None:
    data = fp_json(db, "show", demo["fork_run_id"])
    inherited = [e["seq"] for e in data["entries"] if e.get("inherited")]
    assert inherited == [0, 1]
    forked = next(e for e in data["entries"] if e["kind"] == "forked")
    assert forked["emitted"][0]["data"]["number"] == 20
    assert forked["replaced"][0]["before"]["number"] == 5


def test_show_with_an_unknown_run_exits_2_with_one_line(db: Path, demo: dict) -> None:
    result = fp(db, "show", "feedface")
    assert result.exit_code == 2
    assert result.stderr == result.output
    assert result.stderr.startswith("error: no run 'feedface'") and result.stderr.count("\n") == 1


def test_debug_shows_the_traceback_behind_an_error(db: Path, demo: dict) -> None:
    result = runner.invoke(app, ["--debug", "show", "feedface", "--db", str(db)])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "RunNotFoundError" in result.stderr


# ---- checkpoints and state ---------------------------------------------------------------------
def test_checkpoints_lists_one_per_finished_step(db: Path, demo: dict) -> None:
    data = fp_json(db, "checkpoints", demo["number_run_id"])
    assert [(c["seq"], c["step"]) for c in data] == [(1, "first_step"), (2, "second_step")]
    assert data[0]["returned"]["data"] == {"number": 5, "step_name": "first_step"}
    out = fp(db, "checkpoints", demo["number_run_id"]).stdout
    assert f"{demo['number_run_id'][:12]}@1" in out and "NumberEvent" in out


def test_state_prints_the_state_at_a_checkpoint(db: Path, demo: dict) -> None:
    chat = demo["chat_run_id"]
    assert fp_json(db, "state", f"{chat}@1") == {}
    history = fp_json(db, "state", f"{chat}@2", "--key", "conversation_history")
    assert history[0]["user_message"] == "Hello! Can you help me with Python?"
    out = fp(db, "state", f"{chat}@2").stdout
    assert f"State of {chat[:12]}@2 (after generate_bot_response)" in out
    assert '"message_number": 1' in out


def test_state_diff_shows_what_changed_since_the_previous_checkpoint(db: Path, demo: dict) -> None:
    chat = demo["chat_run_id"]
    data = fp_json(db, "state", f"{chat}@2", "--diff")
    assert data["from_seq"] == 1 and data["seq"] == 2
    assert list(data["added"]) == ["conversation_history"] and not data["changed"]
    out = fp(db, "state", f"{chat}@2", "--diff").stdout
    assert "+ conversation_history:" in out


def test_state_with_a_sequence_number_out_of_range_exits_2(db: Path, demo: dict) -> None:
    result = fp(db, "state", f"{demo['chat_run_id']}@99")
    assert result.exit_code == 2
    assert "seq 99 is out of range" in result.stderr and "records 0..3" in result.stderr


def test_state_with_an_unknown_key_names_the_keys_there_are(db: Path, demo: dict) -> None:
    result = fp(db, "state", f"{demo['chat_run_id']}@2", "--key", "history")
    assert result.exit_code == 2
    assert "its keys are: conversation_history" in result.stderr


# ---- fork ------------------------------------------------------------------------------------
def test_fork_with_an_edited_event_prints_the_new_run_and_with_wait_its_result(
    db: Path, demo: dict
) -> None:
    number = demo["number_run_id"]
    result = fp(db, "fork", f"{number[:8]}@1", "--event", '{"number": 7}', "-w", NUMBERS, "--wait")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Forked {number[:12]}@1 → new run ")
    assert '"final_result": 17' in result.stdout
    fork = fp_json(db, "runs", "--limit", "1")[0]
    assert fork["parent_run_id"] == number and fork["fork_seq"] == 1
    assert fork["status"] == "completed"


def test_fork_json_reports_the_new_run_and_its_result(db: Path, demo: dict) -> None:
    data = fp_json(
        db, "fork", f"{demo['number_run_id']}@1", "--event", '{"number": 1}', "-w", NUMBERS
    )
    assert data["status"] == "completed" and data["result"]["final_result"] == 11
    assert data["parent_run_id"] == demo["number_run_id"]


def test_fork_fixes_a_failed_run_with_an_event_file(
    db: Path, failed_run: str, tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed.json"
    fixed.write_text('{"quantity": 4}')
    result = fp(db, "fork", f"{failed_run}@1", "--event-file", str(fixed), "-w", ORDERS, "--wait")
    assert result.exit_code == 0, result.output
    assert '"total": 100' in result.stdout
    assert fp_json(db, "show", failed_run)["run"]["status"] == "failed"  # parent unchanged


def test_fork_with_a_state_patch_sets_those_keys(db: Path, failed_run: str) -> None:
    data = fp_json(
        db,
        "fork",
        f"{failed_run}@1",
        "--event",
        '{"quantity": 2}',
        "--state",
        '{"customer": "grace"}',
        "-w",
        ORDERS,
    )
    assert fp_json(db, "state", data["run_id"]) == {"customer": "grace", "unit_price": 50}


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ('{"number": "many"}', "does not validate"),
        ('{"nubmer": 20}', "NumberEvent has no field 'nubmer'; its fields are: number, step_name"),
        ('{"number": 20', "--event is not valid JSON"),
        ("[20]", "--event must be a JSON object"),
    ],
)
def test_fork_with_an_invalid_event_exits_2_and_runs_nothing(
    db: Path, demo: dict, event: str, complaint: str
) -> None:
    result = fp(db, "fork", f"{demo['number_run_id']}@1", "--event", event, "-w", NUMBERS)
    assert result.exit_code == 2
    assert complaint in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert run_count(db) == 3


def test_fork_from_a_record_that_is_not_a_checkpoint_lists_the_checkpoints(
    db: Path, demo: dict
) -> None:
    result = fp(db, "fork", f"{demo['number_run_id']}@3", "-w", NUMBERS)
    assert result.exit_code == 2
    assert "is a 'stopped' record, not a finished step; its checkpoints are 1, 2" in result.stderr
    result = fp(db, "fork", f"{demo['number_run_id']}@12", "-w", NUMBERS)
    assert result.exit_code == 2 and "out of range" in result.stderr


def test_fork_of_a_forks_inherited_checkpoint_forks_from_the_ancestor(db: Path, demo: dict) -> None:
    data = fp_json(
        db, "fork", f"{demo['fork_run_id']}@1", "--event", '{"number": 2}', "-w", NUMBERS
    )
    assert data["result"]["final_result"] == 12
    assert data["parent_run_id"] == demo["number_run_id"]


def test_fork_without_workflow_code_says_how_to_name_it(db: Path, demo: dict) -> None:
    result = fp(db, "fork", f"{demo['number_run_id']}@1")
    assert result.exit_code == 2
    assert f"pass --workflow {NUMBERS}" in result.stderr
    assert run_count(db) == 3


def test_fork_finds_the_workflow_listed_in_pyproject(
    db: Path, demo: dict, tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[tool.flowpoint]\nworkflows = ["{NUMBERS}"]\n')
    monkeypatch.chdir(tmp_path)
    data = fp_json(db, "fork", f"{demo['number_run_id']}@1", "--event", '{"number": 0}')
    assert data["result"]["final_result"] == 10


def test_fork_with_another_workflow_class_is_refused(db: Path, demo: dict) -> None:
    result = fp(db, "fork", f"{demo['number_run_id']}@1", "-w", ORDERS)
    assert result.exit_code == 2
    assert f"was recorded by {NUMBERS}, not {ORDERS}" in result.stderr


def test_fork_after_the_step_set_changed_is_refused(db: Path, demo: dict) -> None:
    store = SQLiteStore(db)
    document = export_runs(store, [demo["number_run_id"]])
    document["runs"][0]["run"]["version"] = "0123456789ab"
    imported = import_document(store, document, rename=True)[0].run_id
    store.close()
    result = fp(db, "fork", f"{imported}@1", "-w", NUMBERS)
    assert result.exit_code == 2
    assert f"the steps of {NUMBERS} changed since run" in result.stderr
    assert run_count(db) == 4


def test_fork_with_a_module_that_does_not_exist_exits_2(db: Path, demo: dict) -> None:
    result = fp(db, "fork", f"{demo['number_run_id']}@1", "-w", "no_such_module:Flow")
    assert result.exit_code == 2
    assert "cannot import no_such_module: no such module" in result.stderr


# ---- resume ------------------------------------------------------------------------------------
def test_resume_finishes_an_interrupted_run_without_rerunning_finished_steps(
    db: Path, failed_run: str
) -> None:
    # A crash after `parse`: resuming runs only `price`, and with good data it completes.
    good = fp_json(db, "fork", f"{failed_run}@1", "--event", '{"quantity": 5}', "-w", ORDERS)
    crashed = interrupted_copy(db, good["run_id"], keep=3)  # up to the fork's own record
    assert fp_json(db, "runs", "--status", "interrupted")[0]["run_id"] == crashed
    data = fp_json(db, "resume", crashed[:10], "-w", ORDERS)
    assert data == {"run_id": crashed, "status": "completed", "result": good["result"]}
    steps = [e["step"] for e in fp_json(db, "show", crashed)["entries"] if e["kind"] == "step"]
    assert steps == ["parse", "price"]  # parse inherited, price run once


def test_resume_interrupted_resumes_every_unfinished_run(db: Path, demo: dict) -> None:
    crashed = interrupted_copy(db, demo["number_run_id"], keep=1)
    result = fp(db, "resume", "--interrupted", "-w", NUMBERS)
    assert result.exit_code == 0, result.output
    assert "resuming interrupted runs" in result.stdout and "1/1" in result.stdout
    assert fp_json(db, "show", crashed)["result"]["final_result"] == 15
    assert fp(db, "resume", "--interrupted", "-w", NUMBERS).stdout == "No interrupted runs.\n"


def test_resume_of_a_completed_run_exits_2_and_says_to_fork(db: Path, demo: dict) -> None:
    result = fp(db, "resume", demo["number_run_id"], "-w", NUMBERS)
    assert result.exit_code == 2
    assert "already completed" in result.stderr and "fork it" in result.stderr


def test_resume_of_a_failed_run_that_fails_again_exits_1(db: Path, failed_run: str) -> None:
    result = fp(db, "resume", failed_run, "-w", ORDERS)
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stdout


# ---- diff ----------------------------------------------------------------------------------------
def test_diff_shows_where_a_run_and_its_fork_diverge(db: Path, demo: dict) -> None:
    number, fork = demo["number_run_id"], demo["fork_run_id"]
    data = fp_json(db, "diff", number, fork)
    assert data["same_steps"] == 1
    first = data["first_difference"]
    assert first["a"]["step"] == first["b"]["step"] == "second_step"
    assert first["a"]["input"]["data"]["number"] == 5
    assert first["b"]["input"]["data"]["number"] == 20
    assert "input" in first["differs_in"]
    assert data["result"]["a"]["final_result"] == 15
    assert data["result"]["b"]["final_result"] == 30
    out = fp(db, "diff", number[:8], fork[:8]).stdout
    assert f"{fork[:12]} is a fork of {number[:12]} at seq 1" in out
    assert "First difference: step #2 (second_step" in out


def test_diff_of_a_run_with_itself_says_they_are_identical(db: Path, demo: dict) -> None:
    run = demo["number_run_id"]
    assert fp_json(db, "diff", run, run)["identical"] is True
    assert "same steps with the same events" in fp(db, "diff", run, run).stdout


# ---- export, import, prune, graph --------------------------------------------------------------
def test_export_then_import_into_another_database_round_trips(
    db: Path, demo: dict, tmp_path: Path
) -> None:
    exported = fp(db, "export", demo["fork_run_id"])
    assert exported.exit_code == 0
    document = json.loads(exported.stdout)
    assert [r["run"]["run_id"] for r in document["runs"]] == [
        demo["number_run_id"],
        demo["fork_run_id"],
    ]
    file = tmp_path / "runs.json"
    file.write_text(exported.stdout)
    other = tmp_path / "other.db"
    assert fp(other, "import", str(file)).exit_code == 0
    again = json.loads(fp(other, "export", demo["fork_run_id"]).stdout)
    for before, after in zip(document["runs"], again["runs"], strict=True):
        assert after["records"] == before["records"]
        assert {**after["run"], "updated_at": 0} == {**before["run"], "updated_at": 0}
    assert fp_json(other, "show", demo["fork_run_id"])["result"]["final_result"] == 30


def test_import_refuses_run_ids_already_there_unless_renamed(
    db: Path, demo: dict, tmp_path: Path
) -> None:
    file = tmp_path / "runs.json"
    file.write_text(fp(db, "export", "--all").stdout)
    refused = fp(db, "import", str(file))
    assert refused.exit_code == 2 and "is already in" in refused.stderr
    assert run_count(db) == 3
    renamed = fp_json(db, "import", str(file), "--rename")
    assert len(renamed) == 3 and all(r["run_id"] != r["original_id"] for r in renamed)
    fork = next(r for r in renamed if r["original_id"] == demo["fork_run_id"])
    parent = next(r for r in renamed if r["original_id"] == demo["number_run_id"])
    assert fp_json(db, "show", fork["run_id"])["run"]["parent_run_id"] == parent["run_id"]


def test_import_of_a_file_from_a_newer_flowpoint_exits_2(tmp_path: Path) -> None:
    file = tmp_path / "future.json"
    file.write_text(json.dumps({"format": "flowpoint-export", "version": 99, "runs": []}))
    result = fp(tmp_path / "x.db", "import", str(file))
    assert result.exit_code == 2 and "written by a newer flowpoint" in result.stderr


def test_import_never_imports_the_modules_a_file_names(db: Path, demo: dict, tmp_path) -> None:
    store = SQLiteStore(db)
    document = export_runs(store, [demo["number_run_id"]])
    store.close()
    document["runs"][0]["run"]["workflow"] = "flowpoint_evil_module:Payload"
    file = tmp_path / "runs.json"
    file.write_text(json.dumps(document))
    assert fp(tmp_path / "other.db", "import", str(file)).exit_code == 0
    assert "flowpoint_evil_module" not in sys.modules


def test_prune_shows_the_count_and_asks_before_deleting(db: Path, demo: dict) -> None:
    declined = fp(db, "prune", "--older-than", "0s", input="n\n")
    assert declined.exit_code == 1
    assert "3 runs older than 0s will be deleted" in declined.stdout
    assert run_count(db) == 3
    accepted = fp(db, "prune", "--older-than", "0s", input="y\n")
    assert accepted.exit_code == 0 and "Deleted 3 runs." in accepted.stdout
    assert run_count(db) == 0


def test_prune_keeps_a_parent_that_a_newer_fork_reads_its_history_from(
    db: Path, demo: dict
) -> None:
    store = SQLiteStore(db)
    document = export_runs(store, [demo["fork_run_id"]])
    parent = document["runs"][0]["run"]
    parent["created_at"] -= 40 * 86400  # the parent is old, its fork is not
    imported = {r.original_id: r.run_id for r in import_document(store, document, rename=True)}
    store.close()
    data = fp_json(db, "prune", "--older-than", "30d", "--yes")
    assert data["deleted"] == 0
    assert data["kept_for_forks"] == [imported[demo["number_run_id"]]]


def test_prune_with_status_deletes_only_runs_with_that_status(
    db: Path, demo: dict, failed_run: str
) -> None:
    data = fp_json(db, "prune", "--older-than", "0s", "--status", "failed", "--yes")
    assert data == {"deleted": 1, "run_ids": [failed_run], "kept_for_forks": []}
    assert run_count(db) == 3


def test_graph_prints_steps_and_events_as_mermaid_dot_or_json() -> None:
    mermaid = runner.invoke(app, ["graph", NUMBERS])
    assert mermaid.exit_code == 0
    assert mermaid.stdout.startswith("flowchart TD")
    assert "e_NumberEvent --> s_second_step" in mermaid.stdout
    dot = runner.invoke(app, ["graph", NUMBERS, "--format", "dot"]).stdout
    assert dot.startswith('digraph "flowpoint.demo:NumberWorkflow"') and "-> end_;" in dot
    html = runner.invoke(app, ["graph", NUMBERS, "--format", "html"]).stdout
    assert '<pre class="mermaid">' in html
    data = json.loads(runner.invoke(app, ["graph", NUMBERS, "--json"]).stdout)
    assert data["steps"][0] == {
        "name": "first_step",
        "accepts": ["StartEvent"],
        "returns": ["NumberEvent"],
    }


def test_a_record_edited_outside_flowpoint_exits_2_naming_the_run_and_seq(
    db: Path, demo: dict
) -> None:
    with sqlite3.connect(db) as conn:
        (run_no,) = conn.execute(
            "SELECT run_no FROM runs WHERE run_id = ?", (demo["number_run_id"],)
        ).fetchone()
        conn.execute(
            'UPDATE records SET data = \'{"kind": "step"}\' WHERE key = ?', ((run_no << 32) + 1,)
        )
    result = fp(db, "show", demo["number_run_id"])
    assert result.exit_code == 2
    assert f"run {demo['number_run_id']} seq 1" in result.stderr
    assert "checksum" in result.stderr and "Traceback" not in result.output


# ---- answering a run that waits for input ---------------------------------------------------
APPROVAL = "tests.test_checkpointer:Approval"


async def _waiting_run(db: Path) -> str:
    from tests.test_checkpointer import Approval

    store = SQLiteStore(db)
    handler = Checkpointer(Approval(timeout=None), store=store).run()
    async for _prompt in handler.stream_events():
        break  # the run is stored as waiting once its prompt is out
    store.close()
    return handler.run_id


def test_resume_with_answer_finishes_a_waiting_run(db: Path) -> None:
    run_id = asyncio.run(_waiting_run(db))
    refused = fp(db, "resume", run_id, "--workflow", APPROVAL)
    assert refused.exit_code == 2 and "--answer" in refused.stderr
    answer = json.dumps({"response": "yes", "kind": "approval"})
    result = fp(db, "resume", run_id, "--answer", answer, "--workflow", APPROVAL)
    assert result.exit_code == 0, result.output
    assert "v1:yes" in result.stdout
    assert fp_json(db, "runs")[0]["status"] == "completed"


def test_answer_for_a_run_that_is_not_waiting_exits_2(db: Path, demo: dict) -> None:
    result = fp(db, "resume", demo["number_run_id"], "--answer", "{}")
    assert result.exit_code == 2
    assert "already completed" in result.stderr
