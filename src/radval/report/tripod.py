"""TRIPOD+AI checklist (27 items, 52 sub-items) filled from a run.

The item text and, for each item, how far a run can fill it live in
``data-dictionary/tripod.yaml`` (shipped as ``report/templates/tripod.yaml``).
An item is

* ``reported``: the run fills it (fill ``A``) and its evidence is in results.json;
* ``partly``: the run reports numbers or a draft (fill ``P``, evidence present),
  the authors complete it;
* ``needs author input``: authors only (fill ``H``) or the evidence is absent.

Reference: Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement.
BMJ 2024;385:e078378.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import pandas as pd

__all__ = ["STATUSES", "load_items", "time_to_event_items", "tripod_checklist"]

STATUSES = ("reported", "partly", "needs author input")


def load_items() -> list[dict[str, Any]]:
    """Return the 52 TRIPOD+AI checklist sub-items (27 main items) as dicts."""
    import yaml

    text = resources.files("radval.report").joinpath("templates/tripod.yaml").read_text("utf-8")
    return list(yaml.safe_load(text)["items"])


def _present(results: Mapping[str, Any], path: str) -> bool:
    node: Any = results
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    if node is None:
        return False
    return not (isinstance(node, list | dict | str) and len(node) == 0)


def tripod_checklist(results: Mapping[str, Any],
                     sections: set[str] | None = None) -> pd.DataFrame:
    """Status of every TRIPOD+AI item for this run.

    Parameters
    ----------
    results : mapping
        Parsed results.json.
    sections : set of str, optional
        Section ids present in the report; a link is given only to those.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, section, topic, applies, text, fill, status, where``
        (``where`` is the ``sec-`` id or ``""``).
    """
    rows = []
    for it in load_items():
        fill = str(it.get("fill", "H"))
        # evidence / report_section may be lists of alternatives: the first evidence
        # present gives the section (e.g. missing_data, else patient_flow of older runs)
        evidence = it.get("evidence")
        sections_ = it.get("report_section")
        alts = list(evidence) if isinstance(evidence, list) else [evidence]
        secs = list(sections_) if isinstance(sections_, list) else [sections_] * len(alts)
        hit = next((i for i, e in enumerate(alts) if e and _present(results, str(e))), None)
        ok = hit is not None
        where = str(secs[hit if hit is not None else 0] or "")
        if fill == "H" or not ok:
            status, where = STATUSES[2], ("" if not ok else where)
        elif fill == "A":
            status = STATUSES[0]
        else:
            status = STATUSES[1]
        if sections is not None and where not in sections:
            where = ""
        rows.append({"item": str(it["item"]), "section": it["section"], "topic": it["topic"],
                     "applies": it["applies"], "text": it["text"], "fill": fill,
                     "status": status, "where": where})
    return pd.DataFrame(rows)


def time_to_event_items(results: Mapping[str, Any], values: Mapping[str, str],
                        sections: set[str] | None = None) -> pd.DataFrame:
    """The TRIPOD+AI items a time-to-event outcome adds to, filled from the run.

    Parameters
    ----------
    results : mapping
        Parsed results.json (its ``survival`` block).
    values : mapping
        Plain text for each ``{field}`` of the items' ``time_to_event.text`` templates
        (:mod:`radval.report._survival_section` computes them; escaping is the caller's,
        where the text enters the document).
    sections : set of str, optional
        Section ids present in the report; a link is given only to those.

    Returns
    -------
    pandas.DataFrame
        ``item, topic, status, text, where``: one row per item with a ``time_to_event``
        entry; ``text`` is the filled template ("" when the evidence is absent).
    """
    import string

    rows = []
    for it in load_items():
        tte = it.get("time_to_event")
        if not isinstance(tte, Mapping):
            continue
        fill = str(tte.get("fill", "H"))
        ok = bool(tte.get("evidence")) and _present(results, str(tte["evidence"]))
        where = str(tte.get("report_section") or "") if ok else ""
        if sections is not None and where not in sections:
            where = ""
        status = (STATUSES[0] if fill == "A" else STATUSES[1]) if ok and fill != "H" \
            else STATUSES[2]
        fields = [f for _, f, _, _ in string.Formatter().parse(str(tte.get("text", ""))) if f]
        text = str(tte.get("text", "")).format_map({f: values.get(f, "–") for f in fields}) \
            if ok else ""
        rows.append({"item": str(it["item"]), "topic": it["topic"], "status": status,
                     "text": text, "where": where})
    return pd.DataFrame(rows, columns=["item", "topic", "status", "text", "where"])
