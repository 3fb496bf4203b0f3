"""The ``flowpoint`` command as a user runs it: a real process, a real SQLite file.

The 3 a.m. story end to end: the demo writes runs; a user lists them, reads one, looks at
the state that changed, forks with an edited event and compares; a process that died in
the middle of a run is finished by ``resume --interrupted`` without redoing finished steps.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

FLOWPOINT = [sys.executable, "-m", "flowpoint.cli"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWPOINT_DB", "COLUMNS")}
    env.update(extra)
    return env


def flowpoint(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWPOINT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment(**env),
        timeout=120,
    )


def flowpoint_json(cwd: Path, *args: str) -> Any:
    done = flowpoint(cwd, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, Any]:
    done = flowpoint(tmp_path, "demo")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".flowpoint" / "flowpoint.db").exists()
    commands = [line.strip() for line in done.stdout.splitlines() if line.startswith("  flowpoint")]
    runs = flowpoint_json(tmp_path, "runs")
    fork = next(r for r in runs if r["parent_run_id"])
    chat = next(r for r in runs if r["workflow"].endswith("SimpleChatWorkflow"))
    return {
        "output": done.stdout,
        "commands": commands,
        "number": fork["parent_run_id"],
        "fork": fork["run_id"],
        "chat": chat["run_id"],
    }


def test_demo_then_the_commands_it_prints_explore_what_it_wrote(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    assert "final_result 15 → 30" in demo["output"]
    assert len(demo["commands"]) == 6
    for command in demo["commands"]:
        done = flowpoint(tmp_path, *shlex.split(command)[1:])
        assert done.returncode == 0, (command, done.stderr)
        assert done.stderr == ""


def test_show_state_fork_and_diff_tell_the_story_of_a_run(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    number, chat = demo["number"][:8], demo["chat"][:8]
    shown = flowpoint(tmp_path, "show", number)
    assert "first_step" in shown.stdout and '"number": 5' in shown.stdout

    changed = flowpoint(tmp_path, "state", f"{chat}@2", "--diff")
    assert "+ conversation_history:" in changed.stdout

    forked = flowpoint(
        tmp_path,
        "fork",
        f"{number}@1",
        "--event",
        '{"number": 100}',
        "--workflow",
        "flowpoint.demo:NumberWorkflow",
        "--wait",
    )
    assert forked.returncode == 0, forked.stderr
    assert '"final_result": 110' in forked.stdout
    new_run = forked.stdout.split("new run ")[1].split()[0]

    compared = flowpoint_json(tmp_path, "diff", number, new_run)
    assert compared["first_difference"]["b"]["input"]["data"]["number"] == 100
    assert compared["result"]["b"]["final_result"] == 110


@pytest.mark.parametrize(
    "args",
    [
        ("show", "feedface"),
        ("state", "feedface@1"),
        ("fork", "feedface@1", "--event", "{oops"),
        ("runs", "--db", "/nonexistent/dir/flowpoint.db"),
        ("graph", "not_a_module_anywhere:Flow"),
    ],
)
def test_user_errors_exit_2_with_one_red_line_and_no_traceback(
    tmp_path: Path, demo: dict[str, Any], args: tuple[str, ...]
) -> None:
    done = flowpoint(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_fork_with_an_invalid_event_runs_nothing(tmp_path: Path, demo: dict[str, Any]) -> None:
    done = flowpoint(
        tmp_path,
        "fork",
        f"{demo['number']}@1",
        "--event",
        '{"number": "twenty"}',
        "--workflow",
        "flowpoint.demo:NumberWorkflow",
    )
    assert done.returncode == 2 and "does not validate" in done.stderr
    assert len(flowpoint_json(tmp_path, "runs")) == 3


def test_debug_shows_the_traceback(tmp_path: Path, demo: dict[str, Any]) -> None:
    done = flowpoint(tmp_path, "--debug", "show", "feedface")
    assert done.returncode == 2
    assert "Traceback" in done.stderr and done.stderr.rstrip().splitlines()[-1].startswith("error")


CRASHY = textwrap.dedent(
    '''
    """A workflow whose second step kills its process while CRASH is set."""
    import os
    from pathlib import Path

    from flowpoint import Context, Event, StartEvent, StopEvent, Workflow, step


    class Fetched(Event):
        rows: int


    class Nightly(Workflow):
        @step
        async def fetch(self, ev: StartEvent, ctx: Context) -> Fetched:
            with Path("fetch.log").open("a") as log:
                log.write("fetched\\n")
            await ctx.store.set("fetched", ev.get("rows"))
            return Fetched(rows=ev.get("rows"))

        @step
        async def load(self, ev: Fetched, ctx: Context) -> StopEvent:
            if os.environ.get("CRASH"):
                os._exit(9)  # the process dies at 3 a.m., mid-step
            return StopEvent(result={"loaded": ev.rows})
    '''
)

START = textwrap.dedent(
    """
    import asyncio
    from flowpoint import Checkpointer
    from crashy import Nightly



    async def main():
        await Checkpointer(Nightly()).run(rows=42)


    asyncio.run(main())
    """
)


def test_resume_interrupted_finishes_a_run_whose_process_died(tmp_path: Path) -> None:
    (tmp_path / "crashy.py").write_text(CRASHY)
    (tmp_path / "start.py").write_text(START)
    (tmp_path / "pyproject.toml").write_text('[tool.flowpoint]\nworkflows = ["crashy:Nightly"]\n')
    crashed = subprocess.run(
        [sys.executable, "start.py"], cwd=tmp_path, env=environment(CRASH="1"), timeout=120
    )
    assert crashed.returncode == 9

    interrupted = flowpoint_json(tmp_path, "runs", "--status", "interrupted")
    assert [r["workflow"] for r in interrupted] == ["crashy:Nightly"]

    resumed = flowpoint(tmp_path, "resume", "--interrupted")
    assert resumed.returncode == 0, resumed.stderr
    assert "1/1" in resumed.stdout and "completed" in resumed.stdout

    run = flowpoint_json(tmp_path, "show", interrupted[0]["run_id"])
    assert run["run"]["status"] == "completed" and run["result"] == {"loaded": 42}
    assert (tmp_path / "fetch.log").read_text() == "fetched\n"  # never fetched twice
