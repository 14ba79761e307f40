"""Radiomics Quality Score (RQS) items that follow from a run.

Lambin P, Leijenaar RTH, Deist TM, et al. Radiomics: the bridge between medical
imaging and personalized medicine. Nat Rev Clin Oncol 2017;14:749-762
(16 items, -8 to 36 points).  Items the run can score are scored from the typed
results; the others are listed as needing the authors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report._data import ReportData

__all__ = ["rqs_items"]

_AUTHOR_ITEMS = [
    ("1", "Image protocol quality", "+1 protocol documented, +1 public protocol", "0 to 2"),
    ("3", "Phantom study on all scanners", "+1", "0 to 1"),
    ("4", "Imaging at multiple time points", "+1", "0 to 1"),
    ("7", "Detect and discuss biological correlates", "+1", "0 to 1"),
    ("11", "Prospective study registered in a trial database", "+7", "0 to 7"),
    ("15", "Cost-effectiveness analysis", "+1", "0 to 1"),
    ("16", "Open science and data (scans, ROIs, code, features)", "+1 each", "0 to 4"),
]


def rqs_items(results: ReportData | ResultsFile | Mapping[str, Any]) -> pd.DataFrame:
    """Score the RQS items that the run determines.

    Returns
    -------
    pandas.DataFrame
        Columns ``item, criterion, points, range, basis``; ``points`` is an
        int for scored items and ``None`` for items that need the authors.
        Scoring (Lambin 2017): item 2 multiple segmentations +1 (ICC step run);
        item 5 feature reduction or multiplicity adjustment +3, else -3; item 6
        multivariable analysis with non-radiomics features +1; item 8 cut-off
        analysis +1; item 9 discrimination statistics +1, with resampling +1;
        item 10 calibration statistics +1, with resampling +1; item 12
        validation -5 none, +2 same institute, +3 one external institute, +4
        two, +5 three or more; item 13 comparison with a clinical model +2;
        item 14 decision-curve analysis +2.
    """
    d = results if isinstance(results, ReportData) else ReportData.build(results)
    r = d.results
    fams = d.families
    rows: list[dict[str, Any]] = []

    def add(item: str, crit: str, pts: int | None, rng: str, basis: str) -> None:
        rows.append({"item": item, "criterion": crit, "points": pts, "range": rng,
                     "basis": basis})

    rad = fams.get("radiomics")
    steps = {f.step for f in (rad.funnel or [])} if rad is not None else set()
    has_icc = rad is not None and (bool(rad.icc) or "icc" in steps)
    add("2", "Multiple segmentations", 1 if has_icc else 0, "0 to 1",
        "ICC between segmentations used to keep reproducible features" if has_icc
        else "no inter-/intra-reader ICC step in this run")
    reduced = any(len(b.funnel or []) > 1 for b in fams.values())
    add("5", "Feature reduction or adjustment for multiple testing", 3 if reduced else -3,
        "-3 or 3", "selection funnel (ICC, U-test, redundancy, LASSO)" if reduced
        else "no feature reduction reported")
    kinds = set(d.model_kinds.values())
    multi = bool(kinds & {"combined", "nomogram"}) and "clinical" in kinds
    add("6", "Multivariable analysis with non-radiomics features", 1 if multi else 0, "0 to 1",
        "nomogram / combined model with clinical predictors" if multi
        else "no model combines radiomics with clinical predictors")
    cut = bool(r.threshold_metrics)
    add("8", "Cut-off analyses", 1 if cut else 0, "0 to 1",
        "frozen cutoff from the development cohort, metrics at it" if cut
        else "no threshold analysis")
    perf = d.performance
    disc = not perf.empty and perf["auc_ci_low"].notna().any()
    boot = (not perf.empty and perf["auc_boot_ci_low"].notna().any()) or bool(r.optimism)
    add("9", "Discrimination statistics", (1 if disc else 0) + (1 if disc and boot else 0),
        "0 to 2", "AUC with DeLong CI" + (" and bootstrap resampling" if boot else ""))
    cal = bool(r.calibration)
    cal_boot = any(o.metric in ("slope", "intercept") for o in r.optimism or [])
    add("10", "Calibration statistics", (1 if cal else 0) + (1 if cal and cal_boot else 0),
        "0 to 2", ("calibration intercept/slope, Hosmer-Lemeshow" if cal
                   else "no calibration") + (", bootstrap optimism of slope" if cal_boot else ""))
    roles = [c.role for c in r.cohorts]
    n_ext = roles.count("external_validation")
    n_int = roles.count("internal_validation")
    if n_ext >= 3:
        v, b = 5, f"{n_ext} external validation cohorts"
    elif n_ext == 2:
        v, b = 4, "two external validation cohorts"
    elif n_ext == 1:
        v, b = 3, "one external validation cohort"
    elif n_int or r.optimism:
        v, b = 2, "validation in data from the same institute"
    else:
        v, b = -5, "no validation"
    add("12", "Validation", v, "-5 to 5",
        b + " (assumes each external cohort is a distinct institute)")
    clin = {m for m, k in d.model_kinds.items() if k == "clinical"}
    comp = any(c.model_a in clin or c.model_b in clin for c in r.comparisons)
    add("13", "Comparison to 'gold standard' (clinical model)", 2 if comp else 0, "0 to 2",
        "DeLong comparison with the clinical model" if comp else "no clinical comparator")
    dca = bool(r.curves.decision)
    add("14", "Potential clinical utility", 2 if dca else 0, "0 to 2",
        "decision-curve analysis" if dca else "no decision curves")
    for item, crit, pts, rng in _AUTHOR_ITEMS:
        add(item, crit, None, rng, f"needs author input ({pts})")
    out = pd.DataFrame(rows)
    out["_k"] = out["item"].astype(int)
    return out.sort_values("_k").drop(columns="_k").reset_index(drop=True)
