"""TRIPOD+AI checklist (27 items, 52 sub-items) filled from a run.

The item text and, for each item, how far a run can fill it live in
``data-dictionary/tripod.yaml`` (shipped as ``report/templates/tripod.yaml``); the
filling is :func:`radval.report._checklists.checklist_status` (shared with CLEAR and
METRICS).  An item is *reported here*, *partly* or *needs author input*.

Reference: Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement.
BMJ 2024;385:e078378.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report._checklists import (
    STATUSES,
    checklist_status,
    evidence_present,
    load_checklist,
)
from radval.report._data import ReportData

__all__ = ["STATUSES", "load_items", "time_to_event_items", "tripod_checklist"]


def load_items() -> list[dict[str, Any]]:
    """Return the 52 TRIPOD+AI checklist sub-items (27 main items) as dicts."""
    return [dict(it) for it in load_checklist("tripod")["items"]]


def tripod_checklist(results: ReportData | ResultsFile | Mapping[str, Any],
                     sections: set[str] | None = None) -> pd.DataFrame:
    """Status of every TRIPOD+AI item for this run.

    Parameters
    ----------
    results : ReportData, ResultsFile or its dict form
    sections : set of str, optional
        Section ids present in the report; a link is given only to those.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, section, topic, text, fill, status, where`` (``where`` is the
        ``sec-`` id or ``""``).
    """
    d = results if isinstance(results, ReportData) else ReportData.build(results)
    frame = checklist_status("tripod", d, sections=sections).frame
    text = {str(it["item"]): str(it.get("text", "")) for it in load_checklist("tripod")["items"]}
    return frame.assign(text=frame["item"].map(text))


def time_to_event_items(results: ReportData | ResultsFile | Mapping[str, Any],
                        values: Mapping[str, str],
                        sections: set[str] | None = None) -> pd.DataFrame:
    """The TRIPOD+AI items a time-to-event outcome adds to, filled from the run.

    Parameters
    ----------
    results : ReportData, ResultsFile or its dict form
        The run (its ``survival`` block).
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

    typed = results.results if isinstance(results, ReportData) else \
        results if isinstance(results, ResultsFile) else ResultsFile.from_data(results)
    rows = []
    for it in load_items():
        tte = it.get("time_to_event")
        if not isinstance(tte, Mapping):
            continue
        fill = str(tte.get("fill", "H"))
        ok = bool(tte.get("evidence")) and evidence_present(typed, str(tte["evidence"]))
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
