"""W1 of BENCH_SPEC.md on its own: microseconds per step of a 2,000-step loop.

    python benchmarks/w1_loop.py                      # flowpoint, LangGraph, LlamaIndex, DBOS
    python benchmarks/w1_loop.py --engine flowpoint   # just flowpoint, (a) (b) (c)

A shortcut for ``run.py --workload w1``: the same fresh-process measurements, medians and
ratios, written to ``benchmarks/results/w1`` so the full report is not overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

from run import main

if __name__ == "__main__":
    out = str(Path(__file__).resolve().parent / "results" / "w1")
    main(["--workload", "w1", "--out", out, *sys.argv[1:]])
