"""State deltas: what a step changed, so bytes written follow the change, not the state.

A delta names only keys whose value changed. A list that only grew is stored as its new
items ("ext"), which keeps a long conversation linear in storage instead of quadratic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import StateSerializationError

_SCALARS = (str, int, float, bool, type(None))


def json_copy(value: Any, where: str = "value") -> Any:
    """A deep copy of a JSON value; anything JSON cannot hold raises, naming ``where``."""
    if isinstance(value, _SCALARS):
        return value
    kind = type(value)
    if kind is list:
        return [json_copy(item, where) for item in value]
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise StateSerializationError(
                    f"State key '{where}' holds a dict with a {type(key).__name__} key {key!r}; "
                    "JSON object keys must be strings."
                )
            copied[key] = json_copy(item, where)
        return copied
    raise StateSerializationError(
        f"State key '{where}' cannot hold a {kind.__name__} ({value!r:.60}): state is stored "
        "as JSON. Store str, int, float, bool, None, list or dict (convert models with "
        ".model_dump(mode='json'), tuples and sets with list())."
    )


def approx_json_size(value: Any) -> int:
    """About how many bytes ``value`` takes as JSON, without encoding it."""
    if isinstance(value, str):
        return len(value) + 2
    kind = type(value)
    if kind is list:
        return 2 + sum(approx_json_size(item) + 1 for item in value)
    if kind is dict:
        return 2 + sum(len(k) + 4 + approx_json_size(v) for k, v in value.items())
    return 8


def check_json(value: Any, where: str) -> None:
    """Raise ``StateSerializationError`` now if ``value`` could not be journaled later."""
    if isinstance(value, _SCALARS):
        return
    kind = type(value)
    if kind is list:
        for item in value:
            if not isinstance(item, _SCALARS):
                check_json(item, where)
        return
    json_copy(value, where)


def diff_state(live: Mapping[str, Any], committed: dict[str, Any], keys: Iterable[str]) -> Any:
    """The delta that turns ``committed`` into ``live`` for ``keys``; updates ``committed``.

    Returns ``None`` when nothing changed. ``committed`` holds private copies, so a value
    mutated in place after this call is still seen as changed next time.
    """
    sets: dict[str, Any] = {}
    exts: dict[str, list[Any]] = {}
    dels: list[str] = []
    missing = _MISSING
    for key in keys:
        new = live.get(key, missing)
        old = committed.get(key, missing)
        if new is missing:
            if old is not missing:
                dels.append(key)
                del committed[key]
            continue
        if old is not missing:
            if type(new) is list and type(old) is list and len(new) > len(old) > 0:
                if new[: len(old)] == old:
                    items = json_copy(new[len(old) :], key)
                    old.extend(items)
                    exts[key] = items
                    continue
            elif type(new) is type(old) and new == old:
                continue
        copied = json_copy(new, key)
        committed[key] = copied
        # Only top-level lists are ever changed in place (extended), so only they need a
        # second copy to keep the record independent of ``committed``.
        sets[key] = list(copied) if type(copied) is list else copied
    if not (sets or exts or dels):
        return None
    delta: dict[str, Any] = {}
    if sets:
        delta["set"] = sets
    if exts:
        delta["ext"] = exts
    if dels:
        delta["del"] = dels
    return delta


def apply_delta(state: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Apply a delta made by ``diff_state``; values are copied so records stay untouched."""
    for key, value in delta.get("set", {}).items():
        state[key] = json_copy(value, key)
    for key, items in delta.get("ext", {}).items():
        current = state.get(key)
        if not isinstance(current, list):
            raise ValueError(f"delta extends key '{key}', which is not a list")
        current.extend(json_copy(items, key))
    for key in delta.get("del", ()):
        state.pop(key, None)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()

__all__ = ["apply_delta", "approx_json_size", "check_json", "diff_state", "json_copy"]
