"""Development and external validation code a cohort with the same rules.

Applying the frozen bundle with ``radval validate`` to the development cohort itself must
reproduce the development predictions exactly, whatever the spelling of the inputs:
outcome labels with surrounding whitespace, readers named "A"/"B" instead of "1"/"2",
the outcome coded "yes"/"no".  Before the coding rules were shared, the development path
stripped whitespace and took reader "1" while the site path did neither, so the same
patients could be coded differently by the two paths.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radval.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.radiomics]

DEV = "centre1_train"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("radiomics")
    from radval.io.synth import generate_study

    root = tmp_path_factory.mktemp("plain")
    generate_study(root, small=True, seed=20231024)
    return root


def _study(root: Path, positive: object) -> Path:
    doc = {
        "name": "coding", "outcome": {"column": "ln_metastasis", "positive_label": positive},
        "manifest": "manifest.csv", "clinical": "clinical.csv",
        "radiomics": {"enabled": True}, "deep": {"enabled": False},
        "cohorts": [{"name": DEV, "role": "development"},
                    {"name": "centre1_test", "role": "internal_validation"},
                    {"name": "centre2", "role": "external_validation"}],
        "clinical_predictors": [
            {"name": "age_years", "timing": "pre-operative", "kind": "numeric"}],
        "selection": {"n_folds": 5, "p_threshold": 0.2},
        "models": {"nomogram": False, "clinical": False},
        "evaluation": {"bootstrap_ci": 0, "optimism": 0},
        "compute": {"jobs": 1}, "seed": 5, "output": "out",
    }
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _messy(plain: Path, tmp: Path) -> Path:
    """The same patients and scans, spelled differently."""
    root = tmp / "messy"
    shutil.copytree(plain, root, ignore=shutil.ignore_patterns("out", "site"))
    man = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    man["reader"] = man["reader"].map({"1": "A", "2": "B"})
    man["patient_id"] = " " + man["patient_id"]
    man.to_csv(root / "manifest.csv", index=False)
    clin = pd.read_csv(root / "clinical.csv", dtype={"patient_id": str})
    clin["ln_metastasis"] = clin["ln_metastasis"].map({1: " yes", 0: "no  "})
    clin["patient_id"] = clin["patient_id"] + " "
    clin.to_csv(root / "clinical.csv", index=False)
    return root


def _run_and_validate(root: Path, positive: object, cache_from: Path | None) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    study = _study(root, positive)
    out = root / "out"
    site = root / "site"
    if cache_from is not None:  # same images and masks: reuse the extraction cache
        for dest in (out / "features", site / "features"):
            shutil.copytree(cache_from, dest / ".cache")
    assert main(["run", str(study), "--out", str(out), "-q"]) == 0
    code = main(["validate", str(out / "bundle"), "--manifest", str(root / "manifest.csv"),
                 "--clinical", str(root / "clinical.csv"), "--cohort", DEV,
                 "--out", str(site), "--no-report", "-q"])
    assert code == 0
    return pd.read_parquet(out / "predictions.parquet"), pd.read_parquet(
        site / "predictions.parquet")


def _signature_model(dev: pd.DataFrame) -> str:
    models = list(dict.fromkeys(dev["model"]))
    return "combined" if "combined" in models else models[0]


def test_validate_on_development_reproduces_development_predictions(
        plain: Path, tmp_path: Path) -> None:
    dev_plain, site_plain = _run_and_validate(plain, 1, None)
    model = _signature_model(dev_plain)
    d = dev_plain[(dev_plain.cohort == DEV) & (dev_plain.model == model)].set_index(
        "patient_id")
    s = site_plain.set_index("patient_id")
    assert sorted(d.index) == sorted(s.index)
    assert np.max(np.abs(d.loc[s.index, "probability"].to_numpy()
                         - s["probability"].to_numpy())) <= 1e-12
    assert (d.loc[s.index, "y_true"].to_numpy() == s["y_true"].to_numpy()).all()

    # the same cohort spelled differently gives the same predictions on both paths
    messy = _messy(plain, tmp_path)
    dev_messy, site_messy = _run_and_validate(messy, "yes", plain / "out" / "features" /
                                              ".cache")
    dm = dev_messy[(dev_messy.cohort == DEV) & (dev_messy.model == model)].set_index(
        "patient_id")
    sm = site_messy.set_index("patient_id")
    assert sorted(dm.index) == sorted(d.index) == sorted(sm.index)
    assert np.max(np.abs(dm.loc[d.index, "probability"].to_numpy()
                         - d["probability"].to_numpy())) <= 1e-12
    assert np.max(np.abs(sm.loc[d.index, "probability"].to_numpy()
                         - d["probability"].to_numpy())) <= 1e-12
    assert (sm.loc[d.index, "y_true"].to_numpy() == d["y_true"].to_numpy()).all()


def test_a_site_coding_its_outcome_otherwise_names_the_levels(plain: Path,
                                                               tmp_path: Path) -> None:
    out = plain / "out"
    if not (out / "bundle").is_dir():
        pytest.skip("needs the development run of the first test")
    clin = pd.read_csv(plain / "clinical.csv", dtype={"patient_id": str})
    clin["ln_metastasis"] = clin["ln_metastasis"].map({1: "yes", 0: "no"})
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    code = main(["validate", str(out / "bundle"), "--features",
                 str(out / "features" / "features_all.parquet"),
                 "--clinical", str(tmp_path / "clinical.csv"), "--cohort", "centre2",
                 "--out", str(tmp_path / "site"), "--no-report", "-q"])
    assert code == 65  # 'no', 'yes' are not the bundle's labels '1' / '0'
    code = main(["validate", str(out / "bundle"), "--features",
                 str(out / "features" / "features_all.parquet"),
                 "--clinical", str(tmp_path / "clinical.csv"), "--cohort", "centre2",
                 "--positive-label", "yes", "--negative-label", "no",
                 "--out", str(tmp_path / "site"), "--no-report", "-q"])
    assert code == 0
