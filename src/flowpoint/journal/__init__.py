"""The journal: what a run did, as an append-only list of JSON records.

Layers above (the runtime, the checkpointer) build records; layers below (the stores) keep
them as opaque JSON keyed by run id and sequence number. Everything here is plain data:
the journal never imports a step or resolves a type except through a workflow's registry.
"""

from .codec import EventRegistry, encode_event
from .delta import apply_delta, check_json, diff_state, json_copy
from .fold import RunFold, parse_context_dict, render_context_dict
from .writer import Durability, Journal

__all__ = [
    "Durability",
    "EventRegistry",
    "Journal",
    "RunFold",
    "apply_delta",
    "check_json",
    "diff_state",
    "encode_event",
    "json_copy",
    "parse_context_dict",
    "render_context_dict",
]
