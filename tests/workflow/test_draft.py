"""`radval init`: a starting study.yaml for a user's own data, then `radval check`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from radval.cli import main
from radval.exceptions import EXIT_CANTCREAT, EXIT_CONFIG, EXIT_DATAERR, EXIT_OK, EXIT_PARTIAL
from radval.workflow import load_study
from radval.workflow._draft import draft_study

pytest.importorskip("SimpleITK")


def _data(root: Path, *, n_dev: int = 5, n_ext: int = 3, clinical: pd.DataFrame | None = None
          ) -> tuple[Path, Path]:
    """Tiny CT cases in two cohorts ('hosp_a' the larger), a manifest and a clinical table."""
    from tests.features.conftest import write_case

    rows = []
    ids = [f"a{i}" for i in range(n_dev)] + [f"b{i}" for i in range(n_ext)]
    for k, pid in enumerate(ids):
        img, msk = write_case(root / "img", pid, seed=300 + k, n=16, radius_mm=4.0)
        rows.append({"patient_id": pid, "cohort": "hosp_a" if pid[0] == "a" else "hosp_b",
                     "image": f"img/{img}", "mask": f"img/{msk}"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    if clinical is None:
        n = len(ids)
        clinical = pd.DataFrame({
            "patient_id": ids,
            "cohort": ["hosp_a" if p[0] == "a" else "hosp_b" for p in ids],
            "age_years": [40 + 3 * i for i in range(n)],
            "sex": ["F", "M"] * (n // 2) + ["F"] * (n % 2),
            "tumour_grade": [1, 2, 3, 1, 2, 3, 1, 2][:n],
            "relapse_status": [0, 1] * (n // 2) + [0] * (n % 2),
            "followup_months": [float(10 + i) for i in range(n)],
            "metastasis": ["no", "yes", "no", "no", "yes", "no", "yes", "no"][:n],
            "scan_date": [f"2021-0{1 + i % 9}-1{i % 9}" for i in range(n)],
            "comment": [f"free text {i} about the patient" for i in range(n)],
        })
    clinical.to_csv(root / "clinical.csv", index=False)
    return root / "manifest.csv", root / "clinical.csv"


def test_draft_guesses(tmp_path: Path) -> None:
    manifest, clinical = _data(tmp_path / "data")
    d = draft_study(manifest, clinical, study_file=tmp_path / "study.yaml")
    assert d.cohorts == {"hosp_a": "development", "hosp_b": "external_validation"}
    assert d.n_patients == {"hosp_a": 5, "hosp_b": 3}
    # two-level columns: the outcome is not the sex column nor a relapse status
    assert set(d.outcome_candidates) == {"sex", "relapse_status", "metastasis"}
    assert d.outcome == "metastasis" and d.positive_label == "yes"
    assert d.survival == {"time": "followup_months", "event": "relapse_status"}
    preds = {p["name"]: (p["kind"], p["timing"]) for p in d.predictors}
    assert preds == {"age_years": ("numeric", "pre-operative"),
                     "sex": ("categorical", "pre-operative"),
                     "tumour_grade": ("categorical", "post-operative")}
    assert set(d.left_out) == {"relapse_status", "followup_months", "scan_date", "comment"}
    assert d.modality == "CT"
    assert "CONFIRM" in d.text and "manifest: data/manifest.csv" in d.text


def test_init_writes_a_study_file_that_loads_and_check_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, clinical = _data(tmp_path / "data")
    out = tmp_path / "study.yaml"
    assert main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                 "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "wrote study.yaml" in printed and "radval check" in printed
    study = load_study(out)
    assert study.outcome.column == "metastasis" and study.outcome.positive_label == "yes"
    assert study.development == "hosp_a" and study.modality == "CT"
    assert {p.name for p in study.clinical_predictors} == {"age_years", "sex", "tumour_grade"}
    # radval check on the draft: tables, outcome and images are fine; the tiny development
    # cohort is flagged
    code = main(["check", str(out), "--jobs", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK, doc
    assert doc["summary"]["outcome"]["hosp_a"] == {"n": 5, "events": 2}
    assert "a model needs far more" in doc["summary"]["warnings"][0]
    assert doc["summary"]["n_rows"] == 8 and doc["summary"]["study_problems"] == []
    # never overwritten without --force
    before = out.read_text()
    assert main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                 "--out", str(out)]) == EXIT_CANTCREAT
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == before
    assert main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                 "--out", str(out), "--force", "--name", "renamed"]) == EXIT_OK
    assert load_study(out).name == "renamed"


def test_check_tells_what_is_still_wrong(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    n = 8
    ids = [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(3)]
    clin = pd.DataFrame({"patient_id": ids, "age": range(n),
                         "outcome": ["0", "1", "2", "0", "1", "0", "1", "0"]})
    manifest, clinical = _data(tmp_path / "data", clinical=clin)
    out = tmp_path / "study.yaml"
    assert main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                 "--out", str(out)]) == EXIT_OK
    assert "no 'cohort' column" in capsys.readouterr().out
    load_study(out)  # loads as drafted
    code = main(["check", str(out), "--jobs", "1"])
    printed = capsys.readouterr().out
    # no two-level column: the outcome is a placeholder, and the cohort column is missing
    assert code in (EXIT_DATAERR, EXIT_CONFIG)
    assert "study\t" in printed and "'cohort'" in printed
    # the image checks still ran
    assert "8/8 rows passed the checks" in printed
    # fix the table: the outcome with three levels is reported with its levels
    clin["cohort"] = ["hosp_a"] * 5 + ["hosp_b"] * 3
    clin.to_csv(clinical, index=False)
    text = out.read_text().replace('column: "CHANGE-ME"', "column: outcome")
    out.write_text(text)
    assert main(["check", str(out), "--jobs", "1"]) == EXIT_DATAERR
    printed = capsys.readouterr().out
    assert "outcome column 'outcome'" in printed and "'2'" in printed


def test_check_study_with_damaged_image(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    manifest, clinical = _data(tmp_path / "data")
    img = tmp_path / "data" / "img" / "b1.nii.gz"
    img.write_bytes(img.read_bytes()[:-20])
    out = tmp_path / "study.yaml"
    assert main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                 "--out", str(out)]) == EXIT_OK
    assert main(["check", str(out), "--jobs", "1"]) == EXIT_PARTIAL
    printed = capsys.readouterr().out
    assert "b1\t1\tread\timage img/b1.nii.gz: b1.nii.gz: damaged file" in printed
