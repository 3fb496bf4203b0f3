"""One module per engine, each running the same workloads in that engine's own idiom.

Every engine module provides the same functions, so the worker can treat them alike:

- ``versions() -> dict[str, str]``: the packages whose versions the results should name;
- ``loop(n, variant, grow, workdir) -> LoopOutcome``: W1 (``grow=False``) and W2 (``True``);
- ``many_runs(variant, runs, concurrency, workdir) -> ManyRunsOutcome``: W3;
- ``crash_start(workdir, marker)``: W4 phase 1, starts the run that is killed in step 3;
- ``crash_resume(workdir, marker) -> (result, how)``: W4 phase 2, in a fresh process.

``variant`` is ``"none"`` (no persistence), ``"memory"`` (a checkpoint per step kept in
memory) or ``"durable"`` (a checkpoint per step in a SQLite file). A variant an engine has
no idiomatic way to run raises ``common.Unsupported`` with the reason.

Each engine module imports its engine at the top; ``worker.py`` imports only the module
of the engine it measures, so no measurement carries another engine's imports.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ENGINES = ("flowpoint", "langgraph", "llamaindex", "dbos")
"""Flowpoint first: every peer's figure is reported as a ratio to flowpoint's."""


def load(name: str) -> ModuleType:
    """The engine module called ``name`` (one of :data:`ENGINES`)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    return importlib.import_module(f"engines.{name}")
