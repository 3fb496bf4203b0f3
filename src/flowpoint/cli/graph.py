"""``flowpoint graph module:Workflow``: the steps and the events between them.

Steps are boxes, events are rounded nodes; an arrow from an event to a step means the step
takes it, from a step to an event that the step may emit it. A StopEvent leads to the end.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import typer

from ..events import StopEvent, event_tag
from ..workflow import Workflow
from ._options import JsonOption
from ._output import emit_json
from ._workflows import import_workflow


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    html = "html"


@dataclass(frozen=True)
class WorkflowGraph:
    """Steps with the event types they take and emit."""

    identity: str
    version: str
    steps: dict[str, tuple[list[str], list[str]]]
    stop_events: list[str]

    @property
    def events(self) -> list[str]:
        return sorted({e for takes, emits in self.steps.values() for e in (*takes, *emits)})

    def edges(self) -> list[tuple[str, str]]:
        """Node-id pairs: event -> step that takes it, step -> event it emits, stop -> end."""
        pairs = []
        for name, (takes, emits) in self.steps.items():
            pairs += [(_node_id("e_", event), _node_id("s_", name)) for event in takes]
            pairs += [(_node_id("s_", name), _node_id("e_", event)) for event in emits]
        pairs += [(_node_id("e_", event), "end_") for event in sorted(set(self.stop_events))]
        return pairs

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.identity,
            "version": self.version,
            "steps": [
                {"name": name, "accepts": takes, "returns": emits}
                for name, (takes, emits) in self.steps.items()
            ],
            "events": self.events,
        }


def graph(
    workflow: Annotated[str, typer.Argument(metavar="MODULE:CLASS", help="The workflow class.")],
    output_format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GraphFormat.mermaid,
    json_output: JsonOption = False,
) -> None:
    """Print a workflow's steps and events as a Mermaid or Graphviz graph, or an HTML page."""
    view = read_graph(import_workflow(workflow))
    if json_output:
        emit_json(view.to_json())
        return
    render = {GraphFormat.mermaid: mermaid, GraphFormat.dot: dot, GraphFormat.html: html_page}
    typer.echo(render[output_format](view), nl=False)


def read_graph(workflow_class: type[Workflow]) -> WorkflowGraph:
    spec = workflow_class._spec()
    steps = {
        name: (
            sorted(event_tag(t) for t in step.accepts),
            sorted(event_tag(t) for t in step.returns),
        )
        for name, step in sorted(spec.steps.items())
    }
    stops = sorted(
        event_tag(t)
        for step in spec.steps.values()
        for t in step.returns
        if issubclass(t, StopEvent)
    )
    return WorkflowGraph(spec.identity, spec.version, steps, stops)


def _node_id(prefix: str, name: str) -> str:
    return prefix + "".join(c if c.isalnum() else "_" for c in name)


def mermaid(view: WorkflowGraph) -> str:
    lines = ["flowchart TD", f"  %% {view.identity} (version {view.version})"]
    for event in view.events:
        lines.append(f'  {_node_id("e_", event)}(["{event}"])')
    for name in view.steps:
        lines.append(f'  {_node_id("s_", name)}["{name}"]')
    if view.stop_events:
        lines.append("  end_((end))")
    lines += [f"  {source} --> {target}" for source, target in view.edges()]
    return "\n".join(lines) + "\n"


def dot(view: WorkflowGraph) -> str:
    lines = [f"digraph {json.dumps(view.identity)} {{", "  rankdir=TB;"]
    for event in view.events:
        lines.append(f"  {_node_id('e_', event)} [label={json.dumps(event)}, shape=ellipse];")
    for name in view.steps:
        lines.append(f"  {_node_id('s_', name)} [label={json.dumps(name)}, shape=box, style=bold];")
    if view.stop_events:
        lines.append('  end_ [label="end", shape=doublecircle];')
    lines += [f"  {source} -> {target};" for source, target in view.edges()]
    return "\n".join(lines) + "\n}\n"


def html_page(view: WorkflowGraph) -> str:
    """A page that draws the Mermaid graph (Mermaid loads from its CDN when opened)."""
    title = html.escape(view.identity)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 2rem; }}</style>
</head>
<body>
<h1>{title}</h1>
<p>version {html.escape(view.version)}: steps are boxes, events are rounded.</p>
<pre class="mermaid">
{html.escape(mermaid(view))}</pre>
<script type="module">
import mermaid from "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs";
mermaid.initialize({{ startOnLoad: true }});
</script>
</body>
</html>
"""


__all__ = ["GraphFormat", "WorkflowGraph", "dot", "graph", "html_page", "mermaid", "read_graph"]
