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
from radval.report._checklists import STATUSES, checklist_status, load_checklist
from radval.report._data import ReportData

__all__ = ["STATUSES", "load_items", "tripod_checklist"]


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
