"""What must hold on the built-in study plus a centre with another scanner (issue 11).

The small variant of ``analysis/study_multicentre.yaml`` (48 + 30 patients, radiomics
from the synthetic CT images; ``python analysis/multicentre.py --small``): ComBat fitted
on a two-scanner development cohort, a third centre with the ``ge_thick`` scanner never
seen in development, 20% of tumour_size_mm removed at random.

* harmonisation visibly reduces the shift diagnostics at the new site (``radval
  validate``), and the site report shows them before and after;
* with multiple imputation no patient is dropped, and the pooled nomogram AUC is within
  sampling error of the AUC of the same study on the complete data.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.radiomics]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("radiomics")
    from radval.workflow._multicentre import run_multicentre

    out = tmp_path_factory.mktemp("multicentre")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_multicentre(out, small=True, jobs=2, report=True)


def test_no_patient_is_dropped_with_multiple_imputation(summary: dict[str, Any]) -> None:
    clin = pd.read_csv(Path(summary["out"]) / "data" / "clinical.csv")
    assert summary["n_removed"] == int(clin["tumour_size_mm"].isna().sum()) > 0
    for cohort, p in summary["patients"].items():
        assert p["excluded"] == 0, cohort
        assert p["analysed"] == p["clinical_table"] == int((clin.cohort == cohort).sum())
        assert p["imputed"] == int(clin[clin.cohort == cohort].tumour_size_mm.isna().sum())


def test_pooled_nomogram_auc_is_within_sampling_error_of_the_complete_data(
        summary: dict[str, Any]) -> None:
    for cohort, a in summary["nomogram_auc"].items():
        assert math.isfinite(a["pooled_mi"]) and math.isfinite(a["complete_data"])
        # 1.96 DeLong SEs of the complete-data AUC
        assert abs(a["difference_in_se"]) < 1.96, (cohort, a)


def test_harmonisation_reduces_the_shift_at_the_new_site(summary: dict[str, Any]) -> None:
    site = summary["site"]
    assert site["mean_abs_smd_after"] < 0.5 * site["mean_abs_smd_before"]
    assert site["flagged_after"] < site["flagged_before"]
    sep = {(r["scope"], r["stage"]): r["auc"] for r in summary["separability"]}
    assert sep[("all_cohorts", "before")] > 0.9 > sep[("all_cohorts", "after")]
    assert site["n_imputed"] > 0
    qmd = (Path(summary["site_results"]).parent / "report" / "report.qmd").read_text()
    assert "{#tbl-shift-harmonisation}" in qmd and "fig-shift-harmonisation" in qmd
    assert "{#tbl-site-imputation}" in qmd
