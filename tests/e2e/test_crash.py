"""kill -9 in the middle of a run, then resume it in a fresh process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from flowpoint import Checkpointer
from flowpoint.stores import MemoryStore, SQLiteStore

SCRIPT = Path(__file__).with_name("crash_workflow.py")


async def _uninterrupted_result(log: Path) -> object:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from crash_workflow import FiveSteps
    finally:
        sys.path.pop(0)
    FiveSteps.log_path = str(log)
    FiveSteps.block_in_step3 = False
    return await Checkpointer(FiveSteps(), store=MemoryStore()).run()


async def test_sigkill_during_step_3_resumes_without_rerunning_finished_steps(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "runs.db", tmp_path / "steps.log"
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), "run", str(db), str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_line = child.stdout.readline()
    assert run_line.startswith("RUN ")
    run_id = run_line.split()[1]
    assert child.stdout.readline().strip() == "STEP3"  # step 3 is in flight now
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert log.read_text().split() == ["step1", "step2", "step3"]

    # What survived: steps 1 and 2 with their outputs and state, the run now interrupted.
    store = SQLiteStore(db)
    from tests.e2e.crash_workflow import FiveSteps

    before = Checkpointer(FiveSteps(), store=store)
    assert before.get_run(run_id).status == "interrupted"
    checkpoints = before.load_checkpoints(run_id)
    assert [c.last_completed_step for c in checkpoints] == ["step1", "step2"]
    assert checkpoints[-1].output_event.done == [1, 2]
    assert checkpoints[-1].state == {"totals": [10, 20]}
    store.close()

    resumed = subprocess.run(
        [sys.executable, str(SCRIPT), "resume", str(db), str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["run_ids"] == [run_id]  # found without being told which run
    # Only the step that was in flight ran again; 1 and 2 never did.
    assert log.read_text().split() == ["step1", "step2", "step3", "step3", "step4", "step5"]
    expected = await _uninterrupted_result(tmp_path / "clean.log")
    assert report["results"] == [expected]

    store = SQLiteStore(db)
    after = Checkpointer(FiveSteps(), store=store)
    assert after.get_run(run_id).status == "completed"
    store.close()
