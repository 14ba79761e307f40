"""End to end with the deep network: it is trained again in every optimism resample.

A deep-only study (no PyRadiomics needed) on the small built-in data with a tiny network
given inline in the study file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from radval.cli import main
from tests._helpers import strip_created

pytest.importorskip("torch")
pytest.importorskip("SimpleITK")
pytestmark = [pytest.mark.slow, pytest.mark.torch]

TINY = {"crop_size": 8, "spacing_mm": 3.0, "channels": [4, 8], "feature_dim": 8,
        "epochs": 3, "batch_size": 8}
N_OPT = 4


@pytest.fixture(scope="module")
def deep_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from radval.io.synth import generate_study

    root = tmp_path_factory.mktemp("deep_study")
    generate_study(root, small=True, seed=20231024)
    doc = {
        "name": "deep-e2e", "outcome": {"column": "ln_metastasis", "positive_label": 1},
        "manifest": "manifest.csv", "clinical": "clinical.csv",
        "radiomics": {"enabled": False}, "deep": {"enabled": True, "config": TINY},
        "cohorts": [{"name": "centre1_train", "role": "development"},
                    {"name": "centre1_test", "role": "internal_validation"},
                    {"name": "centre2", "role": "external_validation"}],
        "clinical_predictors": [{"name": "tumour_size_mm"}],
        # a loose screen so that the tiny network's features reach the LASSO
        "selection": {"n_folds": 3, "p_threshold": 1.0, "icc_threshold": -1.0,
                      "lasso_rule": "min"},
        "models": {"comparison": ["logistic"]},
        "evaluation": {"bootstrap_ci": 0, "optimism": N_OPT},
        "seed": 7, "output": "out",
    }
    (root / "study.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "study.yaml"


def _run(study_file: Path, out: Path, *extra: str, evaluation: dict[str, Any] | None = None,
         ) -> dict[str, Any]:
    if evaluation:
        doc = yaml.safe_load(study_file.read_text())
        doc["evaluation"].update(evaluation)
        study_file = study_file.with_name(f"{out.name}.yaml")
        study_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["run", str(study_file), "--out", str(out), "-q", *extra]) == 0
    return json.loads((out / "results.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def retrained(deep_study: Path) -> dict[str, Any]:
    return _run(deep_study, deep_study.parent / "retrain", "--jobs", "2")


def test_network_is_trained_in_every_resample(retrained: dict[str, Any]) -> None:
    iv = retrained["internal_validation"]
    assert iv["n_resamples"] == N_OPT and iv["n_failed"] == 0
    assert iv["deep_training"]["n_networks"] == N_OPT
    assert any(s.startswith("deep network") for s in iv["refitted"])
    assert "scikit-learn comparison classifiers" in iv["refitted"]
    assert iv["not_refitted"] == []
    assert "DEEP_NOT_RETRAINED" not in {w["code"] for w in retrained["warnings"]}
    opt = pd.DataFrame(retrained["optimism"])
    assert {"deep", "clinical", "nomogram", "logistic"} <= set(opt.model)
    assert (opt.n_resamples == N_OPT).all()
    # deep_k of one resample's network is not deep_k of another: no frequency for them
    freq = pd.DataFrame(retrained["stability"]["selection_frequency"])
    assert freq.empty or "deep" not in set(freq.family)
    # but how many of them each resample's LASSO kept is reported
    size = pd.DataFrame(retrained["stability"]["selection_size"]).set_index("family")
    assert list(size.index) == ["deep"]
    assert 1 <= size.loc["deep", "min"] <= size.loc["deep", "median"] <= size.loc["deep", "max"]


def test_same_result_with_one_worker(deep_study: Path, retrained: dict[str, Any]) -> None:
    """Each resample's network has its own seed: results.json does not depend on the number
    of workers (apart from its timestamp)."""
    out = deep_study.parent / "one_worker"
    again = _run(deep_study, out, "--jobs", "1")
    pd.testing.assert_frame_equal(pd.DataFrame(again["optimism"]),
                                  pd.DataFrame(retrained["optimism"]), check_exact=True)
    assert strip_created(again) == strip_created(retrained)


def test_fixed_network_is_flagged(deep_study: Path, retrained: dict[str, Any]) -> None:
    fixed = _run(deep_study, deep_study.parent / "fixed", "--jobs", "1",
                 evaluation={"optimism_deep": "fixed", "optimism_comparison": False})
    codes = {w["code"] for w in fixed["warnings"]}
    assert "DEEP_NOT_RETRAINED" in codes
    iv = fixed["internal_validation"]
    assert iv["deep_training"] is None
    assert any("optimism_deep is 'fixed'" in s for s in iv["not_refitted"])
    assert any("comparison classifiers" in s for s in iv["not_refitted"])
    opt = pd.DataFrame(fixed["optimism"])
    assert "logistic" not in set(opt.model)
    # the final models are the same; only the correction differs
    a = opt.set_index(["model", "metric"])["apparent"]
    b = pd.DataFrame(retrained["optimism"]).set_index(["model", "metric"])["apparent"]
    pd.testing.assert_series_equal(a, b.loc[a.index], check_exact=True)


def test_a_scan_the_network_cannot_crop_is_recorded(deep_study: Path) -> None:
    """A deep-only study: the crop failure reaches failures.csv and the exit code is 4."""
    import shutil

    import SimpleITK as sitk

    root = deep_study.parent / "broken"
    shutil.copytree(deep_study.parent, root, ignore=shutil.ignore_patterns(
        "retrain", "one_worker", "fixed", "broken"))
    man = pd.read_csv(root / "manifest.csv", dtype=str)
    victim = man[man.cohort == "centre2"].iloc[0]
    mask = sitk.ReadImage(str(root / victim["mask"]))
    sitk.WriteImage(mask * 0, str(root / victim["mask"]))
    out = root / "out"
    assert main(["run", str(root / "study.yaml"), "--out", str(out), "-q"]) == 4
    fails = pd.read_csv(out / "features" / "failures.csv", dtype=str)
    row = fails[fails.patient_id == victim["patient_id"]]
    assert list(row.stage) == ["deep_crop"] and "absent from the mask" in row.reason.item()
    res = json.loads((out / "results.json").read_text())
    flow = pd.DataFrame(res["patient_flow"])
    c2 = flow[flow.cohort == "centre2"].set_index("stage")
    assert c2.loc["extraction_failed", "n"] == 1


def test_dask_cluster_gives_the_same_result(deep_study: Path, retrained: dict[str, Any]) -> None:
    """The resamples (with the crops the networks train on) run on a Dask cluster too."""
    pytest.importorskip("distributed")
    out = deep_study.parent / "dask"
    on_dask = _run(deep_study, out, "--jobs", "2", "--scheduler", "local")
    assert on_dask["internal_validation"]["deep_training"]["n_networks"] == N_OPT
    assert strip_created(on_dask) == strip_created(retrained)


LIGHT_RADIOMICS = """\
imageType: {Original: {}}
featureClass: {firstorder: [], glcm: [Contrast, Correlation, Idm, JointEntropy]}
setting: {label: 1, binWidth: 25, resampledPixelSpacing: [2, 2, 2], preCrop: true,
          correctMask: true, minimumROISize: 8}
"""


@pytest.mark.radiomics
def test_separate_steps_give_the_run_result_with_both_families(deep_study: Path) -> None:
    """select -> fit -> evaluate (selection read back from selection.json) == run, with
    radiomics and deep features, a re-trained network and a random forest (which sees the
    columns of both families in a fixed order)."""
    pytest.importorskip("radiomics")
    root = deep_study.parent
    (root / "light.yaml").write_text(LIGHT_RADIOMICS)
    doc = yaml.safe_load(deep_study.read_text())
    doc["radiomics"] = {"enabled": True, "params": "light.yaml"}
    doc["models"]["comparison"] = ["random_forest"]
    both = root / "both.yaml"
    both.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = _run(both, root / "both_run", "--jobs", "2")
    assert set(run["selection"]) == {"radiomics", "deep"}
    assert all(run["selection"][f]["selected"] for f in ("radiomics", "deep"))
    assert "random_forest" in {m["name"] for m in run["models"]}
    out = root / "both_steps"
    for step in ("select", "fit", "evaluate"):
        assert main([step, str(both), "--out", str(out), "-q", "--jobs", "2"]) == 0
    steps = json.loads((out / "results.json").read_text())
    assert strip_created(steps) == strip_created(run)


def test_the_network_trains_beside_the_radiomics_and_a_failure_waits_for_it(
        deep_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deep step runs in a thread while the radiomics are extracted; when the
    extraction fails, the run waits for the network (it writes its cache) and then
    reports the extraction's error, and a failure of the network reaches the caller."""
    import threading
    import time

    import radval.features
    from radval.exceptions import ExtractionError
    from radval.workflow import _extraction
    from radval.workflow._study import load_study

    doc = yaml.safe_load(deep_study.read_text())
    doc["radiomics"] = {"enabled": True}
    study_file = tmp_path / "both.yaml"
    study_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    for name in ("manifest.csv", "clinical.csv", "images", "masks"):
        (tmp_path / name).symlink_to(deep_study.parent / name)
    study = load_study(study_file)
    events: list[str] = []
    deep_started = threading.Event()

    def slow_deep(*args: Any, **kwargs: Any) -> Any:
        deep_started.set()
        time.sleep(0.5)
        events.append("deep done")
        raise RuntimeError("network failed")

    def failing_radiomics(*args: Any, **kwargs: Any) -> Any:
        assert deep_started.wait(5), "the deep step did not start beside the radiomics"
        events.append("radiomics failed")
        raise ExtractionError("every case failed")

    monkeypatch.setattr(_extraction, "_deep_features", slow_deep)
    monkeypatch.setattr(radval.features, "extract_radiomics", failing_radiomics)
    with pytest.raises(ExtractionError, match="every case failed"):
        _extraction.extract_features(study, tmp_path / "out")
    assert events == ["radiomics failed", "deep done"]  # waited for the thread

    class Result:
        features = pd.DataFrame({"patient_id": ["a"], "reader": ["1"], "cohort": ["c"]})
        failures = None
        provenance: dict[str, Any] = {}

    monkeypatch.setattr(radval.features, "extract_radiomics", lambda *a, **k: Result())
    with pytest.raises(RuntimeError, match="network failed"):
        _extraction.extract_features(study, tmp_path / "out2")
