"""Helpers shared by the model tests."""

from __future__ import annotations

from typing import Any


def strip_created(obj: Any) -> Any:
    """``obj`` without its ``created`` timestamps (results.json is otherwise reproducible)."""
    if isinstance(obj, dict):
        return {k: strip_created(v) for k, v in obj.items() if k != "created"}
    if isinstance(obj, list):
        return [strip_created(v) for v in obj]
    return obj
