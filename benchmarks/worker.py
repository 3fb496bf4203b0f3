"""One measurement in one fresh process: ``python worker.py SPEC_JSON OUT_JSON``.

``run.py`` starts this once per measurement so that no engine inherits another's imports,
caches, event loop, threads or DBOS singleton, and so that a measurement that runs past its
time cap can be killed without harming the others.

SPEC_JSON holds ``engine``, ``kind`` (``loop`` | ``many_runs`` | ``crash_start`` |
``crash_resume``), ``workdir`` and the kind's parameters. The result (or the reason the
variant is unsupported, or the error) is written to OUT_JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from common import Unsupported, outputs_from_result
from engines import load


def _quiet_logs() -> None:
    """Engines that log every workflow (DBOS does) would otherwise time their own logging."""
    logging.disable(logging.WARNING)


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    engine = load(spec["engine"])
    workdir = Path(spec["workdir"])
    kind = spec["kind"]
    if kind == "versions":
        return {"versions": engine.versions()}
    if kind == "loop":
        outcome = asyncio.run(engine.loop(spec["n"], spec["variant"], spec["grow"], workdir))
        return asdict(outcome)
    if kind == "many_runs":
        outcome = asyncio.run(
            engine.many_runs(spec["variant"], spec["runs"], spec["concurrency"], workdir)
        )
        return asdict(outcome)
    if kind == "crash_start":
        engine.crash_start(workdir, Path(spec["marker"]))
        return {"error": "crash_start returned: the run finished before it was killed"}
    if kind == "crash_resume":
        result, how = engine.crash_resume(workdir, Path(spec["marker"]))
        return {"outputs": outputs_from_result(result), "how": how}
    raise ValueError(f"unknown measurement kind {kind!r}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    out = Path(sys.argv[2])
    _quiet_logs()
    try:
        payload = _measure(spec)
    except Unsupported as e:
        payload = {"unsupported": str(e)}
    except Exception as e:
        payload = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    out.write_text(json.dumps(payload))


if __name__ == "__main__":
    main()
