"""flowpoint: durable, event-driven workflows with time travel."""

from .checkpointer import Checkpoint, Checkpointer, WorkflowCheckpointer
from .context import Context
from .events import Event, HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent
from .handler import WorkflowHandler
from .step import step
from .workflow import Workflow

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "Checkpointer",
    "Context",
    "Event",
    "HumanResponseEvent",
    "InputRequiredEvent",
    "StartEvent",
    "StopEvent",
    "Workflow",
    "WorkflowCheckpointer",
    "WorkflowHandler",
    "step",
]
