"""Radiomics Quality Score (RQS) items that follow from a run.

Lambin P, Leijenaar RTH, Deist TM, et al. Radiomics: the bridge between medical
imaging and personalized medicine. Nat Rev Clin Oncol 2017;14:749-762
(16 items, -8 to 36 points).  Items the run can score are scored from
results.json; the others are listed as needing the authors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from radval.report.tables import frame

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


def _families(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    sel = results.get("selection")
    if not isinstance(sel, Mapping):
        return {}
    return {str(k): v for k, v in sel.items() if isinstance(v, Mapping)}


def rqs_items(results: Mapping[str, Any]) -> pd.DataFrame:
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
    fams = _families(results)
    rows: list[dict[str, Any]] = []

    def add(item: str, crit: str, pts: int | None, rng: str, basis: str) -> None:
        rows.append({"item": item, "criterion": crit, "points": pts, "range": rng,
                     "basis": basis})

    rad = fams.get("radiomics", {})
    steps = {str(r.get("step")) for r in rad.get("funnel") or [] if isinstance(r, Mapping)}
    has_icc = bool(rad.get("icc")) or "icc" in steps
    add("2", "Multiple segmentations", 1 if has_icc else 0, "0 to 1",
        "ICC between segmentations used to keep reproducible features" if has_icc
        else "no inter-/intra-reader ICC step in this run")
    reduced = any(len(b.get("funnel") or []) > 1 for b in fams.values())
    add("5", "Feature reduction or adjustment for multiple testing", 3 if reduced else -3,
        "-3 or 3", "selection funnel (ICC, U-test, redundancy, LASSO)" if reduced
        else "no feature reduction reported")
    kinds = {str(m.get("kind")) for m in results.get("models") or [] if isinstance(m, Mapping)}
    multi = bool(kinds & {"combined", "nomogram"}) and "clinical" in kinds
    add("6", "Multivariable analysis with non-radiomics features", 1 if multi else 0, "0 to 1",
        "nomogram / combined model with clinical predictors" if multi
        else "no model combines radiomics with clinical predictors")
    cut = not frame(results, "threshold_metrics").empty
    add("8", "Cut-off analyses", 1 if cut else 0, "0 to 1",
        "frozen cutoff from the development cohort, metrics at it" if cut
        else "no threshold analysis")
    perf = frame(results, "performance")
    disc = not perf.empty and "auc_ci_low" in perf
    boot = (not perf.empty and "auc_boot_ci_low" in perf
            and perf["auc_boot_ci_low"].notna().any()) or not frame(results, "optimism").empty
    add("9", "Discrimination statistics", (1 if disc else 0) + (1 if disc and boot else 0),
        "0 to 2", "AUC with DeLong CI" + (" and bootstrap resampling" if boot else ""))
    cal = frame(results, "calibration")
    opt = frame(results, "optimism")
    cal_boot = not opt.empty and "metric" in opt and opt["metric"].isin(["slope",
                                                                        "intercept"]).any()
    add("10", "Calibration statistics", (1 if not cal.empty else 0)
        + (1 if not cal.empty and cal_boot else 0), "0 to 2",
        ("calibration intercept/slope, Hosmer-Lemeshow" if not cal.empty
         else "no calibration") + (", bootstrap optimism of slope" if cal_boot else ""))
    roles = [str(c.get("role")) for c in results.get("cohorts") or [] if isinstance(c, Mapping)]
    n_ext = roles.count("external_validation")
    n_int = roles.count("internal_validation")
    if n_ext >= 3:
        v, b = 5, f"{n_ext} external validation cohorts"
    elif n_ext == 2:
        v, b = 4, "two external validation cohorts"
    elif n_ext == 1:
        v, b = 3, "one external validation cohort"
    elif n_int or (not opt.empty):
        v, b = 2, "validation in data from the same institute"
    else:
        v, b = -5, "no validation"
    add("12", "Validation", v, "-5 to 5",
        b + " (assumes each external cohort is a distinct institute)")
    comps = frame(results, "comparisons")
    clin_names = {str(m.get("name")) for m in results.get("models") or []
                  if isinstance(m, Mapping) and m.get("kind") == "clinical"}
    comp = (not comps.empty and bool(clin_names)
            and (comps["model_a"].isin(clin_names) | comps["model_b"].isin(clin_names)).any())
    add("13", "Comparison to 'gold standard' (clinical model)", 2 if comp else 0, "0 to 2",
        "DeLong comparison with the clinical model" if comp else "no clinical comparator")
    dca = not frame(results, "curves", "decision").empty
    add("14", "Potential clinical utility", 2 if dca else 0, "0 to 2",
        "decision-curve analysis" if dca else "no decision curves")
    for item, crit, pts, rng in _AUTHOR_ITEMS:
        add(item, crit, None, rng, f"needs author input ({pts})")
    out = pd.DataFrame(rows)
    out["_k"] = out["item"].astype(int)
    return out.sort_values("_k").drop(columns="_k").reset_index(drop=True)
