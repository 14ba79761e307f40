"""extract_radiomics and the `radval extract` / `radval check` commands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import radval.features._worker as worker_mod
from radval.cli import main
from radval.exceptions import EXIT_DATAERR, EXIT_NOINPUT, EXIT_OK, EXIT_PARTIAL, ExtractionError
from radval.features.extract import FAILURE_COLUMNS, extract_radiomics
from radval.features.radiomics import DEFAULT_PARAMS, shipped_params

from .conftest import write_case


def _direct(params: Path, image: Path, mask: Path) -> dict[str, float]:
    from radiomics import featureextractor

    ex = featureextractor.RadiomicsFeatureExtractor(str(params))
    res = ex.execute(str(image), str(mask))
    return {k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")}


def test_values_equal_direct_pyradiomics_default_params(tmp_path: Path) -> None:
    img, msk = write_case(tmp_path / "s", "p1", seed=1)
    pd.DataFrame({"patient_id": ["p1"], "cohort": ["training"], "image": [img],
                  "mask": [msk]}).to_csv(tmp_path / "s" / "manifest.csv", index=False)
    res = extract_radiomics(tmp_path / "s" / "manifest.csv", out_dir=None, jobs=1,
                            progress=False)
    want = _direct(shipped_params()[DEFAULT_PARAMS], tmp_path / "s" / img,
                   tmp_path / "s" / msk)
    got = res.features.iloc[0]
    assert list(res.features.columns) == ["patient_id", "reader", "cohort"] + [
        f"radiomics_{k}" for k in want]
    assert len(want) == 1130  # Original 107 + LoG 3 x 93 + Wavelet 8 x 93
    for k, v in want.items():
        assert got[f"radiomics_{k}"] == v, k  # exactly, not approximately
    assert "radiomics_log-sigma-1-0-mm-3D_firstorder_Mean" in res.features.columns
    assert "radiomics_wavelet-LLH_glcm_Idm" in res.features.columns
    assert not any(c.startswith("radiomics_diagnostics") for c in res.features.columns)
    assert "diagnostics_Mask-original_VoxelNum" in res.diagnostics.columns
    # Every column follows the features data dictionary (names and types).
    from radval.io.schema import validate_table

    assert validate_table(res.features, "features") == []
    errs = validate_table(res.features.assign(radiomics_original_glcm_Idm="x"), "features")
    assert [(e["column"], e["rule"]) for e in errs] == [("radiomics_original_glcm_Idm", "type")]


def test_user_params_and_outputs(study: Callable[..., Path], light_params: Path) -> None:
    manifest = study(3, extra_rows=[
        {"patient_id": "p900", "cohort": "external", "image": "images/p000.nii.gz",
         "mask": "images/absent.nii.gz"},
        {"patient_id": "p001", "cohort": "external", "image": "images/p001.nii.gz",
         "mask": "images/p001_mask.nii.gz"}])
    out = manifest.parent / "out"
    res = extract_radiomics(manifest, params=light_params, out_dir=out, jobs=1, progress=False)
    # Good rows ran; problems are listed, not raised.
    assert res.features["patient_id"].tolist() == ["p000", "p001", "p002"]
    assert res.features["reader"].tolist() == ["1"] * 3
    assert res.n_failed == 2 and not res.ok
    assert res.failures.columns.tolist() == FAILURE_COLUMNS
    # Manifest order: p900 (row 4) before the duplicate p001 (row 5).
    assert res.failures[["patient_id", "stage"]].values.tolist() == [["p900", "read"],
                                                                     ["p001", "manifest"]]
    want = _direct(light_params, manifest.parent / "images" / "p002.nii.gz",
                   manifest.parent / "images" / "p002_mask.nii.gz")
    got = res.features.set_index("patient_id").loc["p002"]
    assert {k: got[f"radiomics_{k}"] for k in want} == want
    # Files, sidecar, relative paths only.
    on_disk = pd.read_parquet(out / "features.parquet")
    pd.testing.assert_frame_equal(on_disk, res.features)
    fails = pd.read_csv(out / "failures.csv", dtype=str)
    assert fails["mask"].tolist() == ["images/absent.nii.gz", "images/p001_mask.nii.gz"]
    side = json.loads((out / "features.json").read_text())
    assert side["params"]["sha256"] == hashlib.sha256(light_params.read_bytes()).hexdigest()
    assert side["params"]["text"] == light_params.read_text()
    assert side["input_sha256"]["images/p000.nii.gz"] == hashlib.sha256(
        (manifest.parent / "images" / "p000.nii.gz").read_bytes()).hexdigest()
    assert side["versions"]["pyradiomics"] and side["n_cases"] == 5
    for f in out.iterdir():
        if f.is_file():
            assert str(manifest.parent.resolve()).encode() not in f.read_bytes(), f.name
    # CSV on request.
    res_csv = extract_radiomics(manifest, params=light_params, out_dir=out, jobs=1,
                                progress=False, fmt="csv")
    back = pd.read_csv(out / "features.csv", dtype={"patient_id": str, "reader": str})
    pd.testing.assert_frame_equal(back, res_csv.features)


def test_strict_stops_at_first_problem(study: Callable[..., Path], light_params: Path) -> None:
    manifest = study(2, extra_rows=[{"patient_id": "p9", "cohort": "x",
                                     "image": "images/p000.nii.gz",
                                     "mask": "images/gone.nii.gz"}])
    calls: list[int] = []
    with pytest.raises(ExtractionError, match=r"p9 \(reader 1\): mask not found"):
        extract_radiomics(manifest, params=light_params, out_dir=None, jobs=1, strict=True,
                          on_case=lambda o: calls.append(o.index), progress=False)
    assert calls == []  # nothing was extracted


def test_resume_after_interrupt(study: Callable[..., Path], light_params: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = study(4)
    out = manifest.parent / "out"
    reference = extract_radiomics(manifest, params=light_params, out_dir=None, jobs=1,
                                  progress=False).features
    real = worker_mod.extract_case
    calls: list[str] = []

    def counting(*args: Any, interrupt_at: int | None = None, **kw: Any) -> Any:
        calls.append("x")
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(worker_mod, "extract_case",
                        lambda *a, **k: counting(*a, interrupt_at=3, **k))
    with pytest.raises(KeyboardInterrupt):
        extract_radiomics(manifest, params=light_params, out_dir=out, jobs=1, progress=False)
    assert len(list((out / ".cache").glob("*.json"))) == 2
    assert not (out / "features.parquet").exists()  # no half-written table
    calls.clear()
    monkeypatch.setattr(worker_mod, "extract_case", counting)
    res = extract_radiomics(manifest, params=light_params, out_dir=out, jobs=1, progress=False)
    assert len(calls) == 2 and res.n_cached == 2 and res.n_extracted == 2
    pd.testing.assert_frame_equal(res.features, reference)
    # A damaged cache record (e.g. a partial file) is recomputed, the others reused.
    first = sorted((out / ".cache").glob("*.json"))[0]
    first.write_text(first.read_text()[:40])
    calls.clear()
    res = extract_radiomics(manifest, params=light_params, out_dir=out, jobs=1, progress=False)
    assert len(calls) == 1 and res.n_cached == 3
    pd.testing.assert_frame_equal(res.features, reference)
    # Changing the parameter file invalidates the cache.
    changed = light_params.with_name("light2.yaml")
    changed.write_text(light_params.read_text().replace("binWidth: 25", "binWidth: 10"))
    calls.clear()
    res = extract_radiomics(manifest, params=changed, out_dir=out, jobs=1, progress=False)
    assert len(calls) == 4 and res.n_cached == 0


def test_worker_processes_give_identical_output(study: Callable[..., Path],
                                                light_params: Path) -> None:
    manifest = study(4)
    one = extract_radiomics(manifest, params=light_params, out_dir=None, jobs=1,
                            progress=False)
    two = extract_radiomics(manifest, params=light_params, out_dir=None, jobs=2,
                            progress=False)
    pd.testing.assert_frame_equal(one.features, two.features)
    pd.testing.assert_frame_equal(one.diagnostics, two.diagnostics)


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_output(study: Callable[..., Path],
                                                   light_params: Path) -> None:
    distributed = pytest.importorskip("distributed")
    manifest = study(4)
    local = extract_radiomics(manifest, params=light_params, out_dir=None, jobs=1,
                              progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = extract_radiomics(manifest, params=light_params, out_dir=None,
                                 scheduler=client, progress=False)
        by_address = extract_radiomics(manifest, params=light_params, out_dir=None,
                                       scheduler=cluster.scheduler_address, progress=False)
    # radval's own LocalCluster (workers forked from its fork server on Linux)
    own = extract_radiomics(manifest, params=light_params, out_dir=None, jobs=2,
                            scheduler="local", progress=False)
    pd.testing.assert_frame_equal(local.features, dask.features)
    pd.testing.assert_frame_equal(local.features, by_address.features)
    pd.testing.assert_frame_equal(local.features, own.features)
    pd.testing.assert_frame_equal(local.diagnostics, dask.diagnostics)


# ---------------------------------------------------------------------------- CLI
def test_cli_exit_codes(study: Callable[..., Path], light_params: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    manifest = study(2)
    out = tmp_path / "o"
    args = ["extract", str(manifest), "--out", str(out), "--params", str(light_params),
            "--jobs", "1", "--quiet"]
    assert main(args) == EXIT_OK
    assert pd.read_parquet(out / "features.parquet").shape[0] == 2
    capsys.readouterr()
    assert main([*args, "--json"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["summary"]["n_cached"] == 2
    assert main(["check", str(manifest), "--quiet", "--jobs", "1"]) == EXIT_OK
    # A failing row: exit 4 after writing the good ones.
    df = pd.read_csv(manifest)
    df.loc[len(df)] = ["p5", "external", "images/p000.nii.gz", "images/nothere.nii.gz"]
    df.to_csv(manifest, index=False)
    assert main(args) == EXIT_PARTIAL
    assert pd.read_parquet(out / "features.parquet").shape[0] == 2
    assert pd.read_csv(out / "failures.csv")["patient_id"].tolist() == ["p5"]
    capsys.readouterr()
    assert main(["check", str(manifest), "--json", "--jobs", "1"]) == EXIT_PARTIAL
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["n_failed"] == 1 and doc["errors"][0]["patient_id"] == "p5"
    assert main([*args, "--strict"]) == EXIT_PARTIAL
    # Missing manifest: 66; invalid manifest: 65.
    assert main(["extract", str(tmp_path / "none.csv"), "--out", str(out)]) == EXIT_NOINPUT
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,image\np1,a.nii\n")
    assert main(["extract", str(bad), "--out", str(out)]) == EXIT_DATAERR
    assert main(["check", str(bad)]) == EXIT_DATAERR


def test_dicom_series_with_rtstruct_through_extraction(tmp_path: Path,
                                                       light_params: Path) -> None:
    import numpy as np

    from tests.io.conftest import write_ct_series
    from tests.io.test_images import _square, _write_rtstruct

    rng = np.random.default_rng(11)
    vol = rng.normal(40, 10, (8, 20, 20)).astype(np.int16)
    vol[2:6, 5:15, 5:15] += 60
    spacing, origin = (1.0, 1.0, 2.0), (-10.0, -10.0, 50.0)
    dss = write_ct_series(tmp_path / "ct", vol, spacing=spacing, origin=origin)
    # Square ROI over slices 2-5: voxel centres x, y in 5..14 -> x in (-5.5, 4.5) mm.
    polys = [_square(-5.5, 4.5, -5.5, 4.5, origin[2] + k * spacing[2]) for k in range(2, 6)]
    _write_rtstruct(tmp_path / "rt.dcm", dss, {1: polys}, {1: "tumour"})
    pd.DataFrame({"patient_id": ["d1"], "cohort": ["t"], "image": ["ct"],
                  "mask": ["rt.dcm"]}).to_csv(tmp_path / "manifest.csv", index=False)
    res = extract_radiomics(tmp_path / "manifest.csv", params=light_params, out_dir=None,
                            jobs=1, progress=False)
    assert res.ok
    f = res.features.iloc[0]
    assert f["radiomics_original_shape_VoxelVolume"] == 10 * 10 * 4 * 2.0
    assert f["radiomics_original_firstorder_Mean"] == pytest.approx(
        vol[2:6, 5:15, 5:15].mean(), rel=1e-12)


@pytest.mark.slow
def test_cli_deep_features_train_then_apply_weights(tmp_path: Path, light_params: Path) -> None:
    pytest.importorskip("torch")
    synth = pytest.importorskip("radval.io.synth")
    paths = synth.generate_study(tmp_path / "study", small=True, seed=3)
    common = ["--params", str(light_params), "--jobs", "1", "--quiet"]
    out1, out2 = tmp_path / "dev", tmp_path / "site"
    assert main(["extract", str(paths.manifest), "--out", str(out1), *common, "--deep",
                 "--clinical", str(paths.clinical), "--outcome", "ln_metastasis"]) == EXIT_OK
    assert (out1 / "deep_model" / "deep.safetensors").is_file()
    assert main(["extract", str(paths.manifest), "--out", str(out2), *common,
                 "--deep-weights", str(out1 / "deep_model")]) == EXIT_OK
    a = pd.read_parquet(out1 / "features.parquet")
    b = pd.read_parquet(out2 / "features.parquet")
    deep_cols = [c for c in a.columns if c.startswith("deep_")]
    assert deep_cols and a[deep_cols].notna().all().all()
    pd.testing.assert_frame_equal(a, b)  # same weights -> same deep features
    assert main(["extract", str(paths.manifest), "--out", str(out2), *common,
                 "--deep"]) == EXIT_DATAERR  # --deep without --clinical/--outcome


# ---- modality, --min-voxels, the parameter file's minimumROIDimensions ------------------
def _mr_study(root: Path, n: int = 2) -> Path:
    """MR-like cases (arbitrary units in the thousands, no air at -1000) and a manifest."""
    import numpy as np
    import SimpleITK as sitk

    rows = []
    for i in range(n):
        rng = np.random.default_rng(50 + i)
        img = rng.normal(2500, 300, (12, 20, 20)).astype(np.float32)
        mask = np.zeros(img.shape, dtype=np.uint8)
        mask[3:9, 5:15, 5:15] = 1
        img[mask == 1] += 1500
        root.mkdir(parents=True, exist_ok=True)
        for arr, name in ((img, f"m{i}.nii.gz"), (mask, f"m{i}_mask.nii.gz")):
            im = sitk.GetImageFromArray(arr)
            im.SetSpacing((1.0, 1.0, 2.0))
            sitk.WriteImage(im, str(root / name))
        rows.append({"patient_id": f"m{i}", "cohort": "dev", "image": f"m{i}.nii.gz",
                     "mask": f"m{i}_mask.nii.gz"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def test_modality_option_and_column(tmp_path: Path, light_params: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _mr_study(tmp_path / "mr")
    assert main(["check", str(manifest), "--jobs", "1", "--json"]) == EXIT_PARTIAL
    reasons = [e["reason"] for e in json.loads(capsys.readouterr().out)["errors"]]
    assert all("outside the CT range" in r and "--no-ct-check" in r for r in reasons)
    assert main(["check", str(manifest), "--jobs", "1", "--modality", "MR"]) == EXIT_OK
    assert main(["check", str(manifest), "--jobs", "1", "--no-ct-check"]) == EXIT_OK
    out = tmp_path / "o"
    assert main(["extract", str(manifest), "--out", str(out), "--params", str(light_params),
                 "--jobs", "1", "--modality", "MR", "-q"]) == EXIT_OK
    assert len(pd.read_parquet(out / "features.parquet")) == 2
    # the manifest's modality column (any case) rules its rows
    df = pd.read_csv(manifest)
    df["modality"] = ["mr", "MR"]
    df.to_csv(manifest, index=False)
    assert main(["check", str(manifest), "--jobs", "1"]) == EXIT_OK
    df["modality"] = ["MR", "PET"]  # these intensities are not SUV
    df.to_csv(manifest, index=False)
    capsys.readouterr()
    assert main(["check", str(manifest), "--jobs", "1", "--json"]) == EXIT_PARTIAL
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert [e["patient_id"] for e in errors] == ["m1"]
    assert "outside the PET range [0, 100] SUV" in errors[0]["reason"]
    df["modality"] = ["MR", "US"]
    df.to_csv(manifest, index=False)
    assert main(["check", str(manifest)]) == EXIT_DATAERR  # not in the data dictionary


def test_extract_min_voxels(study: Callable[..., Path], light_params: Path,
                            tmp_path: Path) -> None:
    manifest = study(2)
    common = ["--params", str(light_params), "--jobs", "1", "-q"]
    assert main(["extract", str(manifest), "--out", str(tmp_path / "a"), *common]) == EXIT_OK
    assert main(["extract", str(manifest), "--out", str(tmp_path / "b"), *common,
                 "--min-voxels", "100000"]) == EXIT_PARTIAL
    fails = pd.read_csv(tmp_path / "b" / "failures.csv")
    assert len(fails) == 2 and fails["reason"].str.contains("minimum 100000 voxels").all()


def test_min_dims_follows_the_parameter_file(tmp_path: Path) -> None:
    import numpy as np
    import SimpleITK as sitk

    from radval.features.extract import check_manifest

    rng = np.random.default_rng(9)
    img = rng.normal(40, 20, (10, 20, 20)).astype(np.int16)
    mask = np.zeros(img.shape, dtype=np.uint8)
    mask[5, 4:16, 4:16] = 1  # 144 voxels in one slice: a 2-D region
    for arr, name in ((img, "ct.nii.gz"), (mask, "mask.nii.gz")):
        sitk.WriteImage(sitk.GetImageFromArray(arr), str(tmp_path / name))
    pd.DataFrame({"patient_id": ["p"], "cohort": ["c"], "image": ["ct.nii.gz"],
                  "mask": ["mask.nii.gz"]}).to_csv(tmp_path / "m.csv", index=False)
    from tests.features.conftest import LIGHT_PARAMS

    for dims, n_fail in ((1, 0), (2, 0), (3, 1)):
        p = tmp_path / f"p{dims}.yaml"
        p.write_text(LIGHT_PARAMS + f"  minimumROIDimensions: {dims}\n")
        fails = check_manifest(tmp_path / "m.csv", params=p, jobs=1, progress=False)
        assert len(fails) == n_fail, dims
    assert "at least 3 axes" in fails["reason"].iloc[0]
    # the shipped parameter file says 2 (PyRadiomics' default): a flat region is accepted
    assert check_manifest(tmp_path / "m.csv", jobs=1, progress=False).empty


def test_study_modality_reaches_the_checks() -> None:
    from radval.workflow import study_from_dict
    from radval.workflow._extraction import _check_settings

    base = {"name": "s", "outcome": {"column": "y"}, "clinical": "c.csv", "manifest": "m.csv",
            "cohorts": [{"name": "a", "role": "development"}]}
    assert _check_settings(study_from_dict(base)).modality == "CT"
    assert _check_settings(study_from_dict({**base, "modality": "PET"})).modality == "PET"
    from radval.exceptions import ConfigError

    with pytest.raises(ConfigError, match="modality"):
        study_from_dict({**base, "modality": "US"})
