"""Finding the workflow code a run needs, importing only what the user named.

Resuming or forking runs steps, so it needs the workflow class. A stored run names its
workflow (``module:qualname``), but stored data is never an instruction: the CLI imports
a module only when the user named it, with ``--workflow`` or in the ``[tool.flowpoint]
workflows`` list of ``./pyproject.toml``, and then checks that the run was recorded by
that very step set.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from ..errors import WorkflowMismatchError
from ..stores.base import RunInfo
from ..workflow import Workflow
from ._errors import CliError
from ._output import short_id

PYPROJECT = "pyproject.toml"


def import_workflow(spec: str) -> type[Workflow]:
    """The class ``module:Class`` names. The working directory is importable, as it is
    for ``python -m``, so a project's own workflows are found without installing it."""
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise CliError(
            f"{spec!r} does not name a workflow class",
            "write MODULE:CLASS, e.g. flowpoint.demo:NumberWorkflow",
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise CliError(
                f"cannot import {module_name}: no such module",
                "run from your project's directory, or install it in this Python",
            ) from None
        raise CliError(f"importing {module_name} failed: {exc}") from exc
    except Exception as exc:
        raise CliError(f"importing {module_name} failed: {type(exc).__name__}: {exc}") from exc
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise CliError(f"module {module_name} has no {qualname}")
    if not (isinstance(found, type) and issubclass(found, Workflow)):
        raise CliError(f"{spec} is not a Workflow subclass")
    return found


def configured_workflows(directory: Path | None = None) -> list[str]:
    """``[tool.flowpoint] workflows`` from ``pyproject.toml`` in the working directory."""
    path = (directory or Path.cwd()) / PYPROJECT
    if not path.is_file():
        return []
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise CliError(
                f"reading {path} needs Python 3.11 or the tomli package",
                "pass --workflow MODULE:CLASS instead",
            ) from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    listed = data.get("tool", {}).get("flowpoint", {}).get("workflows", [])
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise CliError(f"{path}: [tool.flowpoint] workflows must be a list of 'module:Class'")
    return listed


def workflow_class_for(run: RunInfo, named: str | None) -> type[Workflow]:
    """The class to run ``run``'s steps with, checked against what recorded it."""
    if named:
        workflow_class = import_workflow(named)
    elif run.workflow in configured_workflows():
        workflow_class = import_workflow(run.workflow)
    else:
        raise CliError(
            f"run {short_id(run.run_id)} was recorded by {run.workflow}, and the CLI only "
            "imports code you name",
            f"pass --workflow {run.workflow} (or list it under [tool.flowpoint] workflows "
            f"in ./{PYPROJECT})",
        )
    check_recorded_by(run, workflow_class)
    return workflow_class


def check_recorded_by(run: RunInfo, workflow_class: type[Workflow]) -> None:
    """Refuse code other than the step set the run was recorded with, before anything runs."""
    identity, version = workflow_class.identity(), workflow_class.version()
    if run.workflow != identity:
        raise WorkflowMismatchError(
            f"run {short_id(run.run_id)} was recorded by {run.workflow}, not {identity}; "
            f"pass --workflow {run.workflow}"
        )
    if run.version != version:
        raise WorkflowMismatchError(
            f"the steps of {identity} changed since run {short_id(run.run_id)} was recorded "
            f"(recorded version {run.version}, code now {version}): steps or their event "
            "types differ. Use the code the run was recorded with, or start a new run."
        )


def instantiate(workflow_class: type[Workflow]) -> Workflow:
    try:
        return workflow_class()
    except TypeError as exc:
        raise CliError(
            f"cannot create {workflow_class.identity()}() without arguments: {exc}",
            "give its __init__ defaults for every argument",
        ) from exc


__all__ = [
    "check_recorded_by",
    "configured_workflows",
    "import_workflow",
    "instantiate",
    "workflow_class_for",
]
