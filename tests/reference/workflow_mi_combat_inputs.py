"""Write the inputs of workflow_mi_combat.R (run once; the CSV files are committed).

    PYTHONPATH=src python tests/reference/workflow_mi_combat_inputs.py

* ``workflow_mi_combat_study.csv``: a synthetic two-scanner study table (patient_id,
  cohort, scanner, outcome, age, size_mm, grade, 12 features with a scanner effect),
  20% of size_mm and 10% of grade missing;
* ``workflow_mi_completed.csv``: the completed development data sets radval's workflow
  made of it (imputation, y and the nomogram's design columns), the input of the R
  pooling (mice::pool) that the test compares with radval's pooling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def study_table() -> pd.DataFrame:
    rng = np.random.default_rng(20261201)
    rows = []
    for cohort, n, prev in (("dev", 120, 0.35), ("ext", 40, 0.3)):
        for i in range(n):
            y = int(rng.random() < prev)
            scanner = ("A" if i % 2 else "B") if cohort == "dev" else "C"
            f = rng.normal(size=12)
            f[:3] += 1.1 * y
            shift = {"A": 0.0, "B": 1.5, "C": -1.0}[scanner]
            scale = {"A": 1.0, "B": 1.8, "C": 0.6}[scanner]
            f = f * scale + shift
            rows.append({"patient_id": f"{cohort}_{i:03d}", "cohort": cohort,
                         "scanner": scanner, "outcome": y,
                         "age": float(rng.integers(40, 85)),
                         "size_mm": float(np.round(rng.uniform(8, 40) + 6 * y, 1)),
                         "grade": str(rng.choice(["G1", "G2", "G3"])),
                         **{f"radiomics_original_firstorder_F{j}": f[j] for j in range(12)}})
    tab = pd.DataFrame(rows)
    tab.loc[rng.random(len(tab)) < 0.2, "size_mm"] = np.nan
    tab.loc[rng.random(len(tab)) < 0.1, "grade"] = None
    return tab


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE.parents[1]))
    from tests.workflow.test_reference_mi_combat import completed_design, make_study

    tab = study_table()
    tab.to_csv(HERE / "workflow_mi_combat_study.csv", index=False, float_format="%.17g")
    comp = completed_design(make_study(Path("/tmp/radval-ref-mi"), tab))
    comp.to_csv(HERE / "workflow_mi_completed.csv", index=False, float_format="%.17g")
