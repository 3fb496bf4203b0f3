"""W4: start a durable run, kill -9 it during step 3, resume it in a fresh process.

Synchronisation is by the marker file the steps write to (``common.mark``): the
orchestrator kills the process as soon as 'step 3 started' is on disk, instead of sleeping
for a guessed time. Every line carries the writer's pid, so the lines of the killed process
and those of the resuming one are told apart without any clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import W4_CRASH_STEP, W4_SLEEP_ENV, CrashReport, read_marks

WORKER = Path(__file__).with_name("worker.py")
POLL_SECONDS = 0.02
"""How often the marker file is read while waiting for step 3: a poll, not a blind sleep."""


def _spawn(spec: dict[str, Any], out: Path, step3_sleep: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, W4_SLEEP_ENV: str(step3_sleep)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so kill -9 reaches every thread
    )


def _step_started(marker: Path, step_no: int) -> bool:
    return any(m["step"] == step_no and m["what"] == "started" for m in read_marks(marker))


def _wait_for_step(proc: subprocess.Popen[bytes], marker: Path, timeout: float) -> bool:
    """Wait until the marker file says step 3 started; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _step_started(marker, W4_CRASH_STEP):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(POLL_SECONDS)
    return False


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_out(out: Path) -> dict[str, Any]:
    return json.loads(out.read_text()) if out.exists() else {"error": "worker wrote no result"}


def crash_and_resume(engine: str, workdir: Path, timeout: float = 120.0) -> dict[str, Any]:
    """Run W4 for one engine; returns the report as a dict plus the raw evidence."""
    marker = workdir / "marker.jsonl"
    base = {"engine": engine, "workdir": str(workdir), "marker": str(marker)}

    first = _spawn({**base, "kind": "crash_start"}, workdir / "start.json", step3_sleep=30)
    reached = _wait_for_step(first, marker, timeout)
    if first.poll() is None:
        _kill(first)
    if not reached:
        start_out = _read_out(workdir / "start.json")
        if "unsupported" in start_out:
            return CrashReport(None, note=f"n/a: {start_out['unsupported']}").to_dict()
        reason = start_out.get("error", start_out)
        return CrashReport(None, note=f"never reached step 3: {reason}").to_dict()
    before = read_marks(marker)

    second = _spawn({**base, "kind": "crash_resume"}, workdir / "resume.json", step3_sleep=0)
    try:
        second.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(second)
    resumed = _read_out(workdir / "resume.json")
    after = read_marks(marker)[len(before) :]
    return {**_judge(before, after, resumed).to_dict(), "how": resumed.get("how", "")}


def _judge(
    before: list[dict[str, Any]], after: list[dict[str, Any]], resumed: dict[str, Any]
) -> CrashReport:
    """Compare what the killed process finished with what the resumed run reports."""
    started_before = {m["step"] for m in before if m["what"] == "started"}
    started_after = {m["step"] for m in after if m["what"] == "started"}
    done_before = {m["step"]: m["output"] for m in before if m["what"] == "done"}
    rerun = sorted(started_before & started_after)
    if "outputs" not in resumed:
        error = resumed.get("error") or resumed.get("unsupported") or "no result"
        return CrashReport(False, rerun, note=f"resume failed: {error}")
    final = {int(k): v for k, v in resumed["outputs"].items()}
    lost = sorted(step for step, out in done_before.items() if final.get(step) != out)
    complete = sorted(final) == list(range(1, len(final) + 1)) and len(final) >= W4_CRASH_STEP
    return CrashReport(complete, rerun, lost)
