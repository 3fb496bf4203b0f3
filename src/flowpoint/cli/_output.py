"""How the CLI prints: Rich for people, plain JSON for scripts.

Consoles are made per command rather than once at import, so that output captured by a
test runner or piped to a file is detected as such (no colour, a fixed width) and a
terminal gets colour and its own width.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.json import JSON
from rich.text import Text

#: Width used when output is not a terminal (a pipe, a file, a test): wide enough for the
#: runs table, narrow enough to read.
PIPE_WIDTH = 120

STATUS_STYLES = {
    "completed": "green",
    "failed": "bold red",
    "running": "cyan",
    "waiting": "yellow",
    "interrupted": "magenta",
    "cancelled": "dim",
}

_highlight_json = JSONHighlighter()


def stdout() -> Console:
    return _console(stderr=False)


def stderr() -> Console:
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not _isatty(stream) and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---- JSON -------------------------------------------------------------------------------------
def emit_json(data: Any) -> None:
    """Machine output for ``--json``: plain, indented JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def json_block(data: Any) -> JSON:
    """Highlighted, indented JSON for people."""
    return JSON(json.dumps(data, ensure_ascii=False, default=str), indent=2)


def inline_json(data: Any, limit: int | None = 100) -> Text:
    """One line of highlighted JSON, cut at ``limit`` characters (None: never cut)."""
    text = json.dumps(data, ensure_ascii=False, default=str, separators=(", ", ": "))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return _highlight_json(Text(text))


# ---- words for values --------------------------------------------------------------------------
def short_id(run_id: str | None) -> str:
    """The prefix shown in tables; any unique prefix is accepted back, like git."""
    return run_id[:12] if run_id else ""


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def format_time(timestamp: float | None, *, short: bool = False) -> str:
    """Local wall time, to the second; ``short`` drops the year when it is this one."""
    if not timestamp:
        return "-"
    moment = datetime.fromtimestamp(timestamp)
    if short and moment.year == datetime.now().year:
        return moment.strftime("%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def iso_time(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


def format_duration(seconds: float | None) -> str:
    """``0.4 ms``, ``12 ms``, ``3.2 s``, ``4 m 05 s``, ``2 h 03 m``."""
    if seconds is None:
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    return f"{hours // 24} d {hours % 24:02d} h"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


__all__ = [
    "STATUS_STYLES",
    "emit_json",
    "format_duration",
    "format_time",
    "inline_json",
    "iso_time",
    "json_block",
    "plural",
    "short_id",
    "status_text",
    "stderr",
    "stdout",
]
