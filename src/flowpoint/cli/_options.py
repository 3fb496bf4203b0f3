"""Options every command shares, and the parsing of what users type into them."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ._errors import CliError

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH_OR_DSN",
        envvar="FLOWPOINT_DB",
        show_envvar=True,
        help="The database: a SQLite file path or sqlite:///PATH "
        "[default: .flowpoint/flowpoint.db in the working directory].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead.")]
WorkflowCodeOption = Annotated[
    str | None,
    typer.Option(
        "--workflow",
        "-w",
        metavar="MODULE:CLASS",
        help="The workflow class to run the steps with. Without it, the run's workflow must "
        "be listed in [tool.flowpoint] workflows in ./pyproject.toml.",
    ),
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, option: str) -> float:
    """``"30d"`` -> seconds. Units: s, m, h, d, w."""
    match = _DURATION.match(text)
    if not match:
        raise CliError(f"{option} {text!r} is not a duration", "write it like 45m, 2h, 3d or 1w")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_since(text: str, *, now: float | None = None) -> float:
    """``"2h"`` (ago) or an ISO date/time (local unless it has an offset) -> a timestamp."""
    if _DURATION.match(text):
        return (time.time() if now is None else now) - parse_duration(text, "--since")
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise CliError(
            f"--since {text!r} is neither a duration nor a date",
            "write 2h, 3d, 2025-09-12 or 2025-09-12T09:00",
        ) from None


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    """A JSON object given on the command line, or a one-line error saying what is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{option} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            "quote it for the shell, e.g. --event '{\"number\": 20}'",
        ) from None
    if not isinstance(value, dict):
        raise CliError(
            f"{option} must be a JSON object of fields, got {type(value).__name__}",
            "e.g. '{\"number\": 20}'",
        )
    return value


def read_text(path: str, option: str) -> str:
    """A file's text; ``-`` reads standard input."""
    if path == "-":
        import sys

        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {option} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{option} {path} is not UTF-8 text") from None


__all__ = [
    "DbOption",
    "JsonOption",
    "WorkflowCodeOption",
    "parse_duration",
    "parse_json_object",
    "parse_since",
    "read_text",
]
