"""`radval run` and `radval validate` extract through the same checks as `radval extract`:
a truncated image and NaN voxels near the tumour are failure rows, never features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("radiomics")


def _manifest(root: Path) -> Path:
    from tests.features.conftest import write_case

    rows = []
    for i in range(3):
        img, msk = write_case(root, f"p{i}", seed=400 + i, n=20)
        rows.append({"patient_id": f"p{i}", "cohort": "dev", "image": img, "mask": msk})
    cut = root / "p1.nii.gz"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 2 // 3])
    # p2 as a float image with one NaN voxel in the tumour (ITK alone would read it as 0)
    im = sitk.ReadImage(str(root / "p2.nii.gz"))
    arr = sitk.GetArrayFromImage(im).astype(np.float32)
    m = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "p2_mask.nii.gz")))
    arr[tuple(np.argwhere(m == 1)[0])] = np.nan
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(im)
    sitk.WriteImage(out, str(root / "p2.nii.gz"))
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def _check(failures: pd.DataFrame, features: pd.DataFrame, root: Path) -> None:
    reasons = dict(zip(failures["patient_id"], failures["reason"], strict=True))
    assert set(reasons) == {"p1", "p2"}
    assert "damaged file" in reasons["p1"]
    assert "NaN or infinite inside the mask" in reasons["p2"]
    assert not any(str(root) in r for r in reasons.values())
    assert features["patient_id"].tolist() == ["p0"]


def test_run_extraction(tmp_path: Path) -> None:
    from radval.workflow import study_from_dict
    from radval.workflow._extraction import extract_features

    manifest = _manifest(tmp_path / "data")
    pd.DataFrame({"patient_id": ["p0", "p1", "p2"], "cohort": "dev", "y": [0, 1, 0]}).to_csv(
        tmp_path / "data" / "clinical.csv", index=False)
    study = study_from_dict({"name": "s", "outcome": {"column": "y"},
                             "manifest": "data/manifest.csv", "clinical": "data/clinical.csv",
                             "cohorts": [{"name": "dev", "role": "development"}]},
                            base_dir=tmp_path)
    assert manifest.is_file()
    res = extract_features(study, tmp_path / "out")
    _check(res["failures"], res["features"], tmp_path)
    written = pd.read_csv(tmp_path / "out" / "features" / "failures.csv")
    assert sorted(written["patient_id"]) == ["p1", "p2"]


def test_validate_extraction(tmp_path: Path) -> None:
    from radval.io.manifest import read_manifest
    from radval.models.bundle import load_bundle, write_bundle
    from radval.models.signature import LinearScore, LogisticModel
    from radval.workflow._external import load_features_for_bundle
    from tests.models.test_signature import make_signature

    rad = LinearScore(name="rad_score", features=["radiomics_original_firstorder_Mean"],
                      intercept=0.0, coef=[0.01], means=[50.0], sds=[10.0])
    sig = make_signature(deep=None, scores={"rad_score": rad},
                         combined=LogisticModel(name="combined", inputs=["rad_score"],
                                                intercept=0.0, coef=[1.0]),
                         predictors=[{"name": "rad_score", "kind": "radiomics",
                                      "timing": "pre-operative"}])
    manifest = read_manifest(_manifest(tmp_path / "data"))
    bundle = load_bundle(write_bundle(tmp_path / "bundle", sig))
    feats, failures = load_features_for_bundle(bundle, manifest, out_dir=tmp_path / "site",
                                               jobs=1)
    _check(failures, feats, tmp_path)
