"""Readers of the dict form of results.json, for the section modules not yet ported to the
typed results (:class:`radval.report._data.ReportData`).  Temporary: the report layer reads
typed results only (tests/report/test_parts.py); each module moves off these helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["as_mapping", "cohort_order", "frame", "model_labels"]


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty dict."""
    return value if isinstance(value, Mapping) else {}


def frame(results: Mapping[str, Any], *keys: str) -> pd.DataFrame:
    """The list of records at ``results[k1][k2]...`` as a DataFrame (empty if absent)."""
    node: Any = results
    for k in keys:
        if not isinstance(node, Mapping) or node.get(k) is None:
            return pd.DataFrame()
        node = node[k]
    if isinstance(node, list) and node and isinstance(node[0], Mapping):
        return pd.DataFrame(node)
    return pd.DataFrame()


def model_labels(results: Mapping[str, Any]) -> dict[str, str]:
    """Model name -> display label (falls back to the name)."""
    out: dict[str, str] = {}
    for m in results.get("models") or []:
        if isinstance(m, Mapping) and m.get("name"):
            out[str(m["name"])] = str(m.get("label") or m["name"])
    return out


def cohort_order(results: Mapping[str, Any]) -> list[str]:
    """Cohort names in results order (development first)."""
    names = [str(c["name"]) for c in results.get("cohorts") or [] if isinstance(c, Mapping)]
    if not names:
        perf = frame(results, "performance")
        names = list(dict.fromkeys(perf["cohort"].astype(str))) if "cohort" in perf else []
    return names
