"""Reporting checklists filled from a run: TRIPOD+AI, CLEAR and METRICS.

Each checklist is a YAML file shipped in ``report/templates`` (``tripod.yaml``,
``clear.yaml``, ``metrics.yaml``; linked from ``data-dictionary/``) listing its items
with

* ``fill``: ``A`` the run fills it, ``P`` the run gives numbers or a draft and the authors
  complete it, ``H`` the authors only;
* ``evidence``: a path into the typed results (:class:`radval.contracts.ResultsFile`:
  ``selection.radiomics.icc``, ``cohorts.role=external_validation`` for the cohorts with
  that role) that must be present and non-empty; or a list of alternative paths, with
  ``report_section`` a list of the same length: the first present gives the section;
* ``report_section``: the id of the report section where it is reported.

An item is *reported here* (fill ``A`` and its evidence present), *partly* (fill ``P``
and evidence present) or *needs author input*; its ``where`` is its section when that
section is in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
from pydantic import BaseModel

from radval.report._data import ReportData

__all__ = ["CHECKLISTS", "STATUSES", "ChecklistStatus", "checklist_status", "evidence_present",
           "load_checklist"]

#: Status of an item, as printed.
STATUSES = ("reported here", "partly", "needs author input")
#: Checklist key -> template file.
CHECKLISTS = {"tripod": "tripod.yaml", "clear": "clear.yaml", "metrics": "metrics.yaml"}


@cache
def load_checklist(key: str) -> dict[str, Any]:
    """The parsed template of checklist ``key`` (``title``, ``version``, ``items``...)."""
    import yaml

    if key not in CHECKLISTS:
        raise ValueError(f"unknown checklist {key!r}; known: {sorted(CHECKLISTS)}")
    text = resources.files("radval.report").joinpath(f"templates/{CHECKLISTS[key]}") \
        .read_text("utf-8")
    doc = yaml.safe_load(text)
    return dict(doc)


def evidence_present(results: BaseModel, path: str) -> bool:
    """Whether the typed results hold a non-empty value at ``path``.

    ``path`` is dotted: record fields (``study.definition``), mapping keys
    (``selection.radiomics``), and ``field=value`` to keep the list items whose field
    equals value (``cohorts.role=external_validation``).
    """
    nodes: list[Any] = [results]
    for part in path.split("."):
        name, _, value = part.partition("=")
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, list):
                nxt += [x for x in node if str(getattr(x, name, None)) == value] if value \
                    else [getattr(x, name, None) for x in node]
            elif isinstance(node, BaseModel):
                nxt.append(getattr(node, name, None))
            elif isinstance(node, dict):
                nxt.append(node.get(name))
        nodes = [x for x in nxt if x is not None]
    return any(not (isinstance(x, list | dict | str) and len(x) == 0) for x in nodes)


@dataclass(frozen=True)
class ChecklistStatus:
    """A filled checklist: ``frame`` has columns ``item, section, topic, fill, status,
    where`` (``where`` a ``sec-`` id or ``""``)."""

    key: str
    title: str
    version: str
    citation: str
    frame: pd.DataFrame


def checklist_status(key: str, data: ReportData, *,
                     sections: set[str] | None = None) -> ChecklistStatus:
    """Fill checklist ``key`` (``"tripod"``, ``"clear"`` or ``"metrics"``) for a run.

    Parameters
    ----------
    key : str
    data : ReportData
    sections : set of str, optional
        Section ids of the report; ``where`` links only to those.
    """
    doc = load_checklist(key)
    rows = []
    for it in doc["items"]:
        fill = str(it.get("fill", "H"))
        # evidence / report_section may be lists of alternatives: the first evidence
        # present gives the section (e.g. missing_data, else patient_flow of older runs)
        evidence = it.get("evidence")
        secs_ = it.get("report_section")
        alts = list(evidence) if isinstance(evidence, list) else [evidence]
        secs = list(secs_) if isinstance(secs_, list) else [secs_] * len(alts)
        hit = next((i for i, e in enumerate(alts)
                    if e and evidence_present(data.results, str(e))), None)
        ok = hit is not None
        where = str(secs[hit if hit is not None else 0] or "")
        if fill == "H" or not ok:
            status, where = STATUSES[2], (where if ok else "")
        else:
            status = STATUSES[0] if fill == "A" else STATUSES[1]
        if sections is not None and where not in sections:
            where = ""
        rows.append({"item": str(it["item"]), "section": str(it.get("section", "")),
                     "topic": str(it.get("topic", "")), "fill": fill, "status": status,
                     "where": where})
    citation = str(doc.get("citation") or f"{doc.get('title', key)} "
                   f"(version {doc.get('version', '?')}).")
    return ChecklistStatus(key=key, title=str(doc.get("title", key)),
                           version=f"version {doc.get('version', '?')}", citation=citation,
                           frame=pd.DataFrame(rows))
