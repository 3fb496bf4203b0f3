"""Run BENCH_SPEC's workloads on flowpoint and its peers; write benchmarks/results/.

    python benchmarks/run.py                                  # everything, ~25 min
    python benchmarks/run.py --workload w1,w3 --engine flowpoint,langgraph --repeat 5
    python benchmarks/run.py --quick                          # a smoke run while developing

Every measurement runs in a fresh subprocess (``worker.py``). Within one repetition every
measurement point is taken for every engine before the next point, with the engine order
rotated per repetition, so that the noise of this shared machine falls on all engines alike.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import IN_MEMORY_DIR, W3_CONCURRENCY, W3_RUNS
from crash import crash_and_resume
from engines import ENGINES
from report import write_report

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
WORKLOADS = ("w1", "w2", "w3", "w4", "sweep")
SWEEP_NS = (10, 30, 100, 300, 1000, 3000, 10000)
EXTRA_VARIANTS = {"flowpoint": ("durable-batch", "durable-fsync")}
"""Variants only flowpoint has; shown as extra rows beside the four engines' defaults."""


@dataclass(frozen=True)
class Point:
    """One measurement point: a workload, a persistence variant and a size."""

    workload: str
    variant: str
    n: int

    def spec(self, engine: str) -> dict[str, Any]:
        """What the worker needs to measure this point (``measure`` adds the work dir)."""
        base = {"engine": engine, "variant": self.variant}
        if self.workload == "w3":
            return {**base, "kind": "many_runs", "runs": self.n, "concurrency": W3_CONCURRENCY}
        grow = self.workload in ("w2", "sweep")
        return {**base, "kind": "loop", "n": self.n, "grow": grow}


@dataclass
class Settings:
    engines: list[str]
    workloads: list[str]
    repeat: int
    sweep_repeat: int
    cap: float
    sweep_cap: float
    point_budget: float
    sweep_bytes_cap: int
    sweep_ns: tuple[int, ...]
    out: Path


@dataclass
class Bench:
    """The run's settings and everything measured so far (written out as results.json)."""

    settings: Settings
    samples: list[dict[str, Any]] = field(default_factory=list)
    crashes: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M %Z"))


# --- the plan ----------------------------------------------------------------------------


def main_points(workloads: list[str]) -> list[Point]:
    """W1-W3's points; flowpoint-only variants are filtered per engine in :func:`wants`."""
    points: list[Point] = []
    if "w1" in workloads:
        points += [Point("w1", v, 2000) for v in ("none", "memory", "durable", *_extras())]
    if "w2" in workloads:
        variants = ("memory", "durable", "durable-batch")
        points += [Point("w2", v, n) for n in (100, 1000) for v in variants]
    if "w3" in workloads:
        points += [Point("w3", v, W3_RUNS) for v in ("memory", "durable", *_extras())]
    return points


def _extras() -> tuple[str, ...]:
    return EXTRA_VARIANTS["flowpoint"]


def wants(engine: str, point: Point) -> bool:
    """Whether ``engine`` is measured at ``point`` (extra variants are flowpoint's own)."""
    extra = {v for vs in EXTRA_VARIANTS.values() for v in vs}
    return point.variant not in extra or point.variant in EXTRA_VARIANTS.get(engine, ())


def rotated(engines: list[str], rep: int) -> list[str]:
    k = rep % len(engines)
    return engines[k:] + engines[:k]


# --- one measurement ----------------------------------------------------------------------


def measure(spec: dict[str, Any], cap: float) -> dict[str, Any]:
    """Run one worker process on a fresh work dir, killing it at ``cap`` seconds."""
    workdir = Path(tempfile.mkdtemp(prefix="fpbench-"))
    spec = {**spec, "workdir": str(workdir)}
    out = workdir / "result.json"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=cap)
        result = json.loads(out.read_text()) if out.exists() else _crashed(proc, stderr)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        result = {"timeout": cap}
    finally:
        _remove(workdir)
    result["wall"] = time.perf_counter() - started
    return result


def _crashed(proc: subprocess.Popen[bytes], stderr: bytes) -> dict[str, Any]:
    tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
    return {"error": f"worker exited {proc.returncode}: {' | '.join(tail)}"}


def _remove(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    if IN_MEMORY_DIR is not None:  # an engine killed at the cap cannot clean tmpfs itself
        for leftover in IN_MEMORY_DIR.glob(f"bench-*-{workdir.name}"):
            shutil.rmtree(leftover, ignore_errors=True)


def status_of(result: dict[str, Any]) -> str:
    for status in ("unsupported", "timeout", "error", "skipped"):
        if status in result:
            return status
    return "ok"


def record(bench: Bench, point: Point, engine: str, rep: int, result: dict[str, Any]) -> None:
    sample = {**asdict(point), "engine": engine, "rep": rep, "status": status_of(result)}
    sample.update({k: v for k, v in result.items() if k != "traceback"})
    bench.samples.append(sample)
    _progress(sample)


def _progress(sample: dict[str, Any]) -> None:
    what = f"{sample['workload']} {sample['variant']:<13} n={sample['n']:<5} {sample['engine']:<10}"
    if sample["status"] != "ok":
        detail = sample.get(sample["status"], "")
        print(f"  {what} rep {sample['rep']}: {sample['status']} {str(detail)[:90]}", flush=True)
        return
    if sample["workload"] == "w3":
        figure = f"{sample['runs'] / sample['seconds']:9.1f} runs/s"
    else:
        figure = f"{sample['seconds'] / sample['steps'] * 1e6:9.1f} us/step"
    size = f" {sample['bytes']:>12,} B" if sample.get("bytes") is not None else ""
    print(f"  {what} rep {sample['rep']}: {figure}{size}  ({sample['wall']:.1f} s)", flush=True)


# --- repetitions ------------------------------------------------------------------------------


def reps_allowed(first_wall: float, repeat: int, budget: float) -> int:
    """How often a point is measured for an engine, given its first repetition's wall time.

    Slow engine/point pairs are repeated only as often as ``budget`` seconds allow (at least
    once), so that one engine's slowness cannot push a full run past its time limit.
    The number of repetitions behind every median is reported next to it.
    """
    return max(1, min(repeat, int(budget // max(first_wall, 1e-9))))


def run_points(bench: Bench, points: list[Point], repeat: int) -> None:
    s = bench.settings
    allowed: dict[tuple[Point, str], int] = {}
    for rep in range(repeat):
        print(f"repetition {rep + 1}/{repeat}", flush=True)
        for point in points:
            for engine in rotated(s.engines, rep):
                if not wants(engine, point) or rep >= allowed.get((point, engine), repeat):
                    continue
                result = measure(point.spec(engine), s.cap)
                record(bench, point, engine, rep, result)
                if rep == 0:
                    ok = status_of(result) == "ok"
                    budget = reps_allowed(result["wall"], repeat, s.point_budget) if ok else 1
                    allowed[(point, engine)] = budget
        save(bench)


# --- the W2 scaling sweep ----------------------------------------------------------------------


def run_sweep(bench: Bench) -> None:
    """W2 at growing N; an engine stops at the first N predicted to exceed a cap."""
    s = bench.settings
    print("W2 scaling sweep", flush=True)
    for rep in range(s.sweep_repeat):
        for variant in ("memory", "durable"):
            for engine in rotated(s.engines, rep):
                _sweep_engine(bench, engine, variant, rep)
        save(bench)


def _sweep_engine(bench: Bench, engine: str, variant: str, rep: int) -> None:
    s = bench.settings
    done: list[dict[str, Any]] = []
    for n in s.sweep_ns:
        point = Point("sweep", variant, n)
        reason = _skip_reason(done, n, s)
        if reason:
            record(bench, point, engine, rep, {"skipped": reason, "wall": 0.0})
            continue
        result = measure(point.spec(engine), s.sweep_cap)
        record(bench, point, engine, rep, result)
        if status_of(result) == "unsupported":
            return
        done.append({**result, "n": n})


def _skip_reason(done: list[dict[str, Any]], n: int, s: Settings) -> str:
    """Why the sweep point at ``n`` is not worth running, from the points before it."""
    if not done:
        return ""
    last = done[-1]
    if status_of(last) != "ok":
        return f"N={last['n']} did not finish ({status_of(last)})"
    growth = _growth(done, "seconds")
    predicted = last["seconds"] * (n / last["n"]) ** growth
    if predicted > s.sweep_cap:
        return f"predicted {predicted:.0f} s > cap {s.sweep_cap:.0f} s"
    if last.get("bytes"):
        predicted_bytes = last["bytes"] * (n / last["n"]) ** _growth(done, "bytes")
        if predicted_bytes > s.sweep_bytes_cap:
            return (
                f"predicted {predicted_bytes / 2**30:.1f} GiB > {s.sweep_bytes_cap / 2**30:.0f} GiB"
            )
    return ""


def _growth(done: list[dict[str, Any]], key: str) -> float:
    """Log-log slope of ``key`` over the last two good points, at least 1 (linear)."""
    good = [d for d in done if status_of(d) == "ok" and d.get(key)]
    if len(good) < 2:
        return 1.0
    a, b = good[-2], good[-1]
    return max(1.0, math.log(b[key] / a[key]) / math.log(b["n"] / a["n"]))


# --- W4 and versions --------------------------------------------------------------------------


def run_crashes(bench: Bench) -> None:
    print("W4 crash and resume", flush=True)
    for engine in bench.settings.engines:
        workdir = Path(tempfile.mkdtemp(prefix="fpbench-w4-"))
        try:
            report = crash_and_resume(engine, workdir)
        finally:
            _remove(workdir)
        bench.crashes[engine] = report
        print(f"  {engine:<10} {report}", flush=True)
    save(bench)


def collect_versions(bench: Bench) -> None:
    for engine in bench.settings.engines:
        result = measure({"engine": engine, "kind": "versions"}, 120)
        bench.versions[engine] = result.get("versions", {"error": str(result.get("error"))})


def environment() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "loadavg_at_start": os.getloadavg(),
    }


def save(bench: Bench) -> None:
    bench.settings.out.mkdir(parents=True, exist_ok=True)
    data = {
        "started_at": bench.started_at,
        "settings": {**asdict(bench.settings), "out": str(bench.settings.out)},
        "environment": environment(),
        "versions": bench.versions,
        "samples": bench.samples,
        "crashes": bench.crashes,
    }
    (bench.settings.out / "results.json").write_text(json.dumps(data, indent=1))


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--workload", default=",".join(WORKLOADS), help="comma list of " + "|".join(WORKLOADS)
    )
    p.add_argument("--engine", default=",".join(ENGINES), help="comma list of " + "|".join(ENGINES))
    p.add_argument("--repeat", type=int, default=5, help="repetitions of W1-W3 (default 5)")
    p.add_argument("--sweep-repeat", type=int, default=1, help="repetitions of the sweep")
    p.add_argument("--cap", type=float, default=400, help="seconds before a W1-W3 run is killed")
    p.add_argument("--sweep-cap", type=float, default=60, help="seconds cap per sweep point")
    p.add_argument(
        "--point-budget",
        type=float,
        default=150,
        help="seconds one engine may spend on all repetitions of one point (default 150)",
    )
    p.add_argument("--quick", action="store_true", help="1 repetition, sweep to N=300, caps 60 s")
    p.add_argument("--out", type=Path, default=HERE / "results")
    a = p.parse_args(argv)
    settings = Settings(
        engines=_choose(a.engine, ENGINES, "engine"),
        workloads=_choose(a.workload, WORKLOADS, "workload"),
        repeat=a.repeat,
        sweep_repeat=a.sweep_repeat,
        cap=a.cap,
        sweep_cap=a.sweep_cap,
        point_budget=a.point_budget,
        sweep_bytes_cap=2 * 2**30,
        sweep_ns=SWEEP_NS,
        out=a.out,
    )
    if a.quick:
        settings.repeat, settings.sweep_repeat = 1, 1
        settings.cap, settings.sweep_cap = 60, 20
        settings.sweep_ns = tuple(n for n in SWEEP_NS if n <= 300)
    return settings


def _choose(given: str, allowed: tuple[str, ...], what: str) -> list[str]:
    chosen = [x.strip().lower() for x in given.split(",") if x.strip()]
    unknown = [x for x in chosen if x not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return [x for x in allowed if x in chosen]  # in canonical order: flowpoint first


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    bench = Bench(settings)
    started = time.monotonic()
    collect_versions(bench)
    points = main_points(settings.workloads)
    if points:
        run_points(bench, points, settings.repeat)
    if "sweep" in settings.workloads:
        run_sweep(bench)
    if "w4" in settings.workloads:
        run_crashes(bench)
    save(bench)
    data = json.loads((settings.out / "results.json").read_text())
    data["elapsed_seconds"] = time.monotonic() - started
    (settings.out / "results.json").write_text(json.dumps(data, indent=1))
    write_report(data, settings.out)
    print(f"done in {data['elapsed_seconds'] / 60:.1f} min; see {settings.out / 'results.md'}")


if __name__ == "__main__":
    main()
