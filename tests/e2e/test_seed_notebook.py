"""The seed notebook, run on flowpoint, prints what it printed on its own engine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT.parent / "shared" / "seed" / "expected_output.txt"
NOTEBOOK = ROOT / "examples" / "seed_notebook.py"

# Lines that print engine internals (reprs, the snapshot's key list, queue names) differ
# by design; the issue excludes them from the comparison.
_INTERNALS = (
    "Resuming from checkpoint: id_=",
    "Checkpoint 1: id_=",
    "Context snapshot extracted with",
    "Top-level keys:",
    "Queues:",
)


def _normalize(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if any(marker in line for marker in _INTERNALS):
            continue
        line = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<time>", line)
        line = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", line)
        line = re.sub(r"\b[0-9a-f]{32}\b", "<id>", line)
        lines.append(line)
    return lines


def test_seed_notebook_prints_the_expected_output(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(NOTEBOOK)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    expected = _normalize(EXPECTED.read_text())
    actual = _normalize(done.stdout)
    assert actual == expected
    # The default store is a real SQLite file in the working directory.
    assert (tmp_path / ".flowpoint" / "flowpoint.db").exists()


def test_seed_notebook_runs_again_in_the_same_directory(tmp_path: Path) -> None:
    """A second run sees yesterday's runs in the store but prints the same report."""
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(NOTEBOOK)], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert _normalize(done.stdout) == _normalize(EXPECTED.read_text())
