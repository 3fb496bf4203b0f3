"""Turn results.json into results.md (tables) and the W2 sweep charts (PNG, log-log).

Kept apart from ``run.py`` so a report can be redrawn from saved raw results:

    python benchmarks/report.py benchmarks/results/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Sample = dict[str, Any]
Key = tuple[str, str, int, str]  # workload, variant, n, engine

VARIANT_LABELS = {
    "none": "(a) no persistence",
    "memory": "(b) in memory",
    "durable": "(c) SQLite file",
    "durable-batch": "(c) SQLite, durability=batch",
    "durable-fsync": "(c) SQLite, synchronous=FULL",
}
SHORT_VARIANT = {"memory": "in memory", "durable": "SQLite file"}


# --- statistics -------------------------------------------------------------------------------


def us_per_step(s: Sample) -> float:
    return float(s["seconds"]) / s["steps"] * 1e6


def runs_per_second(s: Sample) -> float:
    return float(s["runs"]) / s["seconds"]


class Summary:
    """Samples grouped by point and engine, with medians and the reason a point is missing."""

    def __init__(self, samples: list[Sample]) -> None:
        self.ok: dict[Key, list[Sample]] = defaultdict(list)
        self.missing: dict[Key, str] = {}
        for s in samples:
            key = (s["workload"], s["variant"], s["n"], s["engine"])
            if s["status"] == "ok":
                self.ok[key].append(s)
            else:
                self.missing.setdefault(key, _why(s))

    def values(self, key: Key, metric: Callable[[Sample], float | None]) -> list[float]:
        return [v for v in (metric(s) for s in self.ok.get(key, [])) if v is not None]

    def median(self, key: Key, metric: Callable[[Sample], float | None]) -> float | None:
        vals = self.values(key, metric)
        return statistics.median(vals) if vals else None

    def cell(self, key: Key, metric: Callable[[Sample], float | None], fmt: str) -> str:
        """``median [min-max] (n)``, or why there is no figure."""
        vals = self.values(key, metric)
        if not vals:
            return self.missing.get(key, "not measured")
        med = statistics.median(vals)
        if len(vals) == 1:
            return f"{med:{fmt}} (1 run)"
        return f"{med:{fmt}} [{min(vals):{fmt}}–{max(vals):{fmt}}] ({len(vals)} runs)"

    def engines(self, workload: str) -> list[str]:
        seen = {k[3] for k in [*self.ok, *self.missing] if k[0] == workload}
        return [e for e in ("flowpoint", "langgraph", "llamaindex", "dbos") if e in seen]

    def has(self, key: Key) -> bool:
        return key in self.ok or key in self.missing


def _why(s: Sample) -> str:
    status = s["status"]
    if status == "unsupported":
        return f"n/a: {s['unsupported']}"
    if status == "timeout":
        return f"did not finish in {s['timeout']:.0f} s"
    if status == "skipped":
        return f"skipped: {s['skipped']}"
    return f"error: {str(s.get('error', ''))[:120]}"


def ratio(peer: float | None, base: float | None) -> str:
    if peer is None or base is None or base == 0:
        return "–"
    return f"{peer / base:.2f}×"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


# --- tables ----------------------------------------------------------------------------------


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _ratio_base(variant: str) -> str:
    """flowpoint's extra durable rows are compared with flowpoint's default durable row."""
    return "durable" if variant.startswith("durable") else variant


def w1_section(sm: Summary) -> str:
    rows = []
    for variant in VARIANT_LABELS:
        for engine in sm.engines("w1"):
            key = ("w1", variant, 2000, engine)
            if not sm.has(key):
                continue
            base = sm.median(("w1", _ratio_base(variant), 2000, "flowpoint"), us_per_step)
            med = sm.median(key, us_per_step)
            rows.append(
                [
                    engine,
                    VARIANT_LABELS[variant],
                    sm.cell(key, us_per_step, ".1f"),
                    ratio(med, base),
                ]
            )
    head = ["engine", "variant", "µs/step: median [min–max]", "ratio to flowpoint"]
    return "## W1 loop, N = 2000\n\n" + table(head, rows) + "\n"


def _bytes(s: Sample) -> float | None:
    return s.get("bytes")


def _written(s: Sample) -> float | None:
    return s.get("written")


def _seconds(s: Sample) -> float:
    return float(s["seconds"])


def w2_section(sm: Summary) -> str:
    byte_rows, time_rows = [], []
    for variant in ("memory", "durable", "durable-batch"):
        for engine in sm.engines("w2"):
            small, large = ("w2", variant, 100, engine), ("w2", variant, 1000, engine)
            if not (sm.has(small) or sm.has(large)):
                continue
            label = VARIANT_LABELS[variant]
            b100, b1000 = sm.median(small, _bytes), sm.median(large, _bytes)
            w100, w1000 = sm.median(small, _written), sm.median(large, _written)
            fp = sm.median(("w2", _ratio_base(variant), 1000, "flowpoint"), _bytes)
            if b100 is None and b1000 is None:
                byte_rows.append([engine, label, sm.cell(large, _bytes, ".0f"), "", "", "", ""])
            else:
                byte_rows.append(
                    [
                        engine,
                        label,
                        human_bytes(b100),
                        human_bytes(b1000),
                        ratio(b1000, b100).rstrip("×"),
                        f"{human_bytes(w100)} / {human_bytes(w1000)}" if w1000 else "–",
                        ratio(b1000, fp),
                    ]
                )
            fp_t = sm.median(("w2", _ratio_base(variant), 1000, "flowpoint"), _seconds)
            time_rows.append(
                [
                    engine,
                    label,
                    sm.cell(small, _seconds, ".3f"),
                    sm.cell(large, _seconds, ".3f"),
                    _fmt(sm.median(large, us_per_step), ".1f"),
                    ratio(sm.median(large, _seconds), fp_t),
                ]
            )
    bytes_head = [
        "engine",
        "variant",
        "bytes N=100",
        "bytes N=1000",
        "ratio 1000/100",
        "write() bytes N=100 / N=1000",
        "bytes N=1000, ratio to flowpoint",
    ]
    time_head = [
        "engine",
        "variant",
        "wall s N=100",
        "wall s N=1000",
        "µs/step N=1000",
        "N=1000 time, ratio to flowpoint",
    ]
    return (
        "## W2 growing state (1 KiB appended per step)\n\n"
        "Bytes: in memory, the serialized checkpoints summed; SQLite, the growth of the "
        "database file (WAL folded in) over the run. A ratio 1000/100 near 10 is linear, near "
        "100 quadratic. *write() bytes* is what the process handed to `write()` during the "
        "run (WAL frames and checkpoints included): it shows rewrites that the final file "
        "size hides.\n\n"
        + table(bytes_head, byte_rows)
        + "\n\n"
        + table(time_head, time_rows)
        + "\n"
    )


def _fmt(v: float | None, fmt: str) -> str:
    return "–" if v is None else f"{v:{fmt}}"


def w3_section(sm: Summary) -> str:
    rows = []
    for variant in ("memory", "durable", "durable-batch", "durable-fsync"):
        for engine in sm.engines("w3"):
            key = ("w3", variant, 1000, engine)
            if not sm.has(key):
                continue
            base = sm.median(("w3", _ratio_base(variant), 1000, "flowpoint"), runs_per_second)
            med = sm.median(key, runs_per_second)
            label = VARIANT_LABELS[variant].replace("(b) ", "").replace("(c) ", "")
            rows.append([engine, label, sm.cell(key, runs_per_second, ".0f"), ratio(med, base)])
    head = ["engine", "variant", "runs/s: median [min–max]", "ratio to flowpoint"]
    return (
        "## W3 many runs: 1000 NumberWorkflow runs, 50 at a time\n\n"
        "Higher is better; a ratio below 1 means fewer runs per second than flowpoint.\n\n"
        + table(head, rows)
        + "\n"
    )


def w4_section(crashes: dict[str, dict[str, Any]]) -> str:
    rows = []
    for engine, c in crashes.items():
        told = {True: "yes", False: "no", None: "n/a"}[c.get("resumed_without_being_told_where")]
        rerun = ", ".join(f"step {s}" for s in c.get("steps_rerun", [])) or "none"
        lost = ", ".join(f"step {s}" for s in c.get("outputs_lost", [])) or "none"
        how = c.get("how") or c.get("note", "")
        rows.append([engine, told, rerun, lost, how])
    head = [
        "engine",
        "resumed without being told where",
        "steps run again",
        "completed outputs lost",
        "how the fresh process resumed",
    ]
    return (
        "## W4 crash: kill -9 during step 3 of 5, resume in a fresh process\n\n"
        "Step 3 was in flight when the process died, so running it again is expected; "
        "any other step run again, or a completed step whose output differs in the final "
        "result, is a loss.\n\n" + table(head, rows) + "\n"
    )


def sweep_section(sm: Summary, ns: list[int]) -> str:
    rows = []
    for variant in ("memory", "durable"):
        for engine in sm.engines("sweep"):
            cells = []
            for n in ns:
                key = ("sweep", variant, n, engine)
                b, t = sm.median(key, _bytes), sm.median(key, us_per_step)
                if b is None and t is None:
                    cells.append(sm.missing.get(key, "–").split(":")[0])
                else:
                    cells.append(f"{human_bytes(b)}<br>{_fmt(t, '.0f')} µs/step")
            rows.append([engine, SHORT_VARIANT[variant], *cells])
    head = ["engine", "variant", *(f"N={n}" for n in ns)]
    return (
        "## W2 scaling sweep\n\n"
        "Checkpoint bytes and µs/step as N grows; charts: `w2_sweep_bytes.png`, "
        "`w2_sweep_us_per_step.png`. A point is skipped when the previous one did not finish "
        "or its predicted time or size exceeds the cap.\n\n" + table(head, rows) + "\n"
    )


def header(data: dict[str, Any]) -> str:
    env, st = data["environment"], data["settings"]
    lines = [
        "# flowpoint benchmarks",
        "",
        f"Measured {data.get('started_at', '(start time not recorded)')} by "
        "`python benchmarks/run.py`; raw samples in `results.json`.",
        "",
        f"- CPUs: {env['cpu_count']}; Python {env['python']}; {env['platform']}",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in env['loadavg_at_start'])}",
        f"- repetitions: {st['repeat']} (W1–W3), {st['sweep_repeat']} (sweep); every "
        f"measurement in a fresh process; engines interleaved and rotated per repetition; "
        f"a slow engine/point pair is repeated only as often as {st['point_budget']:.0f} s "
        "allow (the run count is shown beside each median)",
        f"- caps: {st['cap']:.0f} s per W1–W3 measurement, {st['sweep_cap']:.0f} s per sweep point",
    ]
    if "elapsed_seconds" in data:
        lines.append(f"- whole run: {data['elapsed_seconds'] / 60:.1f} min")
    lines += ["", "Package versions:", ""]
    for engine, versions in data["versions"].items():
        pkgs = ", ".join(f"{k} {v}" for k, v in versions.items())
        lines.append(f"- {engine}: {pkgs}")
    return "\n".join(lines) + "\n"


NOTES = """## What the rows are

- flowpoint: `Checkpointer` over `MemoryStore()` (in memory) or `SQLiteStore(path)` with
  `durability="sync"` (SQLite file; WAL, `synchronous=NORMAL`); extra rows with
  `durability="batch"` and with `synchronous="FULL"`. W4: `resume_interrupted()`.
- langgraph: `StateGraph` with a conditional self-loop; `InMemorySaver` / `SqliteSaver`
  (`AsyncSqliteSaver` in W3) with the default durability `"async"`; SQLite WAL, `FULL`.
- llamaindex: (a) `wf.run()`; (b) every step writes its event to the stream and the caller
  keeps `json.dumps(handler.ctx.to_dict())` per event (no checkpointer exists; `to_dict`
  replays the run's tick log, so its cost grows with every step); (c), W3 durable, W4:
  LlamaIndex's DBOS runtime (`llama-agents-dbos`) on SQLite (WAL, `FULL`).
- dbos: a `@DBOS.workflow` calling one `@DBOS.step` per iteration; state is the workflow's
  local variables, rebuilt from recorded step outputs. No non-durable mode; "in memory" is
  its SQLite database on tmpfs (`/dev/shm`). SQLite rollback journal, `FULL`.

Ratios divide a peer's median by flowpoint's median for the same variant (flowpoint's extra
durable rows by its default durable row). See `benchmarks/README.md` for method and caveats.
"""


# --- charts ----------------------------------------------------------------------------------


def sweep_charts(sm: Summary, ns: list[int], out: Path) -> list[Path]:
    """Two log-log figures (bytes, µs/step), each with an in-memory and a SQLite panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    metrics = (("bytes", _bytes, "checkpoint bytes"), ("us_per_step", us_per_step, "µs per step"))
    for name, metric, ylabel in metrics:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=False)
        for ax, variant in zip(axes, ("memory", "durable"), strict=True):
            _plot_panel(ax, sm, ns, variant, metric)
            ax.set_title(f"W2 sweep, {SHORT_VARIANT[variant]}")
            ax.set_xlabel("N (steps, 1 KiB appended per step)")
            ax.set_ylabel(ylabel)
        fig.tight_layout()
        path = out / f"w2_sweep_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _plot_panel(
    ax: Any, sm: Summary, ns: list[int], variant: str, metric: Callable[[Sample], Any]
) -> None:
    for engine in sm.engines("sweep"):
        xs, ys, skipped = _series(sm, ns, variant, engine, metric)
        if not xs:
            continue
        label = engine + (f" (skipped N≥{min(skipped)})" if skipped else "")
        (line,) = ax.plot(xs, ys, marker="o", label=label)
        if metric is _bytes and variant == "durable":
            wx, wy, _ = _series(sm, ns, variant, engine, _written)
            ax.plot(wx, wy, ls="--", lw=1, color=line.get_color(), label=f"{engine}: write() bytes")
    if metric is _bytes:
        _guides(ax, ns)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _series(
    sm: Summary, ns: list[int], variant: str, engine: str, metric: Callable[[Sample], Any]
) -> tuple[list[int], list[float], list[int]]:
    xs, ys, skipped = [], [], []
    for n in ns:
        key = ("sweep", variant, n, engine)
        value = sm.median(key, metric)
        if value:
            xs.append(n)
            ys.append(value)
        elif sm.has(key) and key not in sm.ok:
            skipped.append(n)
    return xs, ys, skipped


def _guides(ax: Any, ns: list[int]) -> None:
    """Grey lines for linear (1 KiB per step) and quadratic growth, to read slopes against."""
    lo, hi = min(ns), max(ns)
    ax.plot([lo, hi], [1024 * lo, 1024 * hi], color="grey", lw=0.8, ls=":", label="N KiB")
    quad = [512 * lo * lo, 512 * hi * hi]
    ax.plot([lo, hi], quad, color="grey", lw=0.8, ls="-.", label="N²/2 KiB")


# --- putting it together ----------------------------------------------------------------------


def write_report(data: dict[str, Any], out: Path) -> Path:
    sm = Summary(data["samples"])
    ns = sorted({s["n"] for s in data["samples"] if s["workload"] == "sweep"})
    parts = [header(data)]
    if any(k[0] == "w1" for k in [*sm.ok, *sm.missing]):
        parts.append(w1_section(sm))
    if any(k[0] == "w2" for k in [*sm.ok, *sm.missing]):
        parts.append(w2_section(sm))
    if any(k[0] == "w3" for k in [*sm.ok, *sm.missing]):
        parts.append(w3_section(sm))
    if data.get("crashes"):
        parts.append(w4_section(data["crashes"]))
    if ns:
        parts.append(sweep_section(sm, ns))
        sweep_charts(sm, ns, out)
    parts.append(NOTES)
    path = out / "results.md"
    path.write_text("\n".join(parts))
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    source = source / "results.json" if source.is_dir() else source
    print(write_report(json.loads(source.read_text()), source.parent))
