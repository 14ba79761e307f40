"""Tests of the built-in synthetic study generator (radval.io.synth)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import InputError
from radval.io import synth
from radval.io.synth import PROFILES, SiteSpec, generate_study, simulate_patient

sitk = pytest.importorskip("SimpleITK")

MANIFEST_COLUMNS = ["patient_id", "cohort", "image", "mask", "reader", "label", "phase"]
CLINICAL_COLUMNS = ["patient_id", "cohort", "age_years", "sex", "tumour_size_mm", "grade",
                    "vascular_invasion", "perineural_invasion", "ln_metastasis", "dfs_months",
                    "dfs_event"]


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """Brute-force AUC: P(score_pos > score_neg) + 0.5 P(tie)."""
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> synth.StudyPaths:
    return generate_study(tmp_path_factory.mktemp("small"), small=True)


def test_small_study_tables(small_study: synth.StudyPaths) -> None:
    man = pd.read_csv(small_study.manifest, dtype={"reader": str})
    clin = pd.read_csv(small_study.clinical)
    assert list(man.columns) == MANIFEST_COLUMNS
    assert list(clin.columns) == CLINICAL_COLUMNS
    assert small_study.n_patients == 48 == len(clin)
    assert clin["patient_id"].is_unique
    assert set(clin["cohort"]) == {"centre1_train", "centre1_test", "centre2"}
    # centre 1 = round(48 * 236 / 320) = 35, split 70/30 within each outcome class
    cohorts = small_study.cohorts
    assert cohorts["centre1_train"] + cohorts["centre1_test"] == 35
    assert cohorts["centre2"] == 13
    assert 23 <= cohorts["centre1_train"] <= 26
    by = clin.groupby("cohort")["ln_metastasis"]
    assert (by.sum() >= 2).all() and ((by.count() - by.sum()) >= 2).all()
    c1 = clin[clin["cohort"].str.startswith("centre1")]
    share = c1.groupby("ln_metastasis")["cohort"].apply(lambda c: (c == "centre1_train").mean())
    assert share.between(0.6, 0.8).all()  # stratified split
    assert (man["reader"] == "2").sum() == 10
    assert set(man.loc[man["reader"] == "2", "cohort"]) == {"centre1_train"}
    assert not man.duplicated(["patient_id", "reader"]).any()
    assert set(man["patient_id"]) == set(clin["patient_id"])
    for rel in pd.concat([man["image"], man["mask"]]):
        assert not Path(rel).is_absolute()
        assert (small_study.root / rel).is_file()
    assert set(clin["sex"]) <= {"F", "M"}
    assert set(clin["grade"]) <= {1, 2, 3}
    for col in ("vascular_invasion", "perineural_invasion", "ln_metastasis", "dfs_event"):
        assert set(clin[col]) <= {0, 1}
    assert clin["tumour_size_mm"].between(5, 50).all()
    assert (clin["dfs_months"] > 0).all() and (clin["dfs_months"] <= 130).all()
    assert 0 < clin["ln_metastasis"].sum() < len(clin)
    assert "Generative model" in small_study.readme.read_text()


def test_small_volumes_are_ct_like(small_study: synth.StudyPaths) -> None:
    man = pd.read_csv(small_study.manifest, dtype={"reader": str})
    r1 = man[man["reader"] == "1"].head(6)
    for _, row in r1.iterrows():
        img = sitk.ReadImage(str(small_study.root / row["image"]))
        msk = sitk.ReadImage(str(small_study.root / row["mask"]))
        assert img.GetPixelID() == sitk.sitkInt16
        assert img.GetSize() == msk.GetSize()
        assert img.GetSpacing() == msk.GetSpacing()
        assert max(img.GetSize()) <= 40
        a = sitk.GetArrayFromImage(img).astype(float)
        m = sitk.GetArrayFromImage(msk) > 0
        assert m.sum() > 20
        assert 80 < a[m].mean() < 220       # arterially enhancing tumour
        assert np.percentile(a[~m], 10) < -30  # surrounding fat
    pairs = man[man["patient_id"].isin(man.loc[man["reader"] == "2", "patient_id"])]
    for pid, g in pairs.groupby("patient_id"):
        m1, m2 = (sitk.GetArrayFromImage(sitk.ReadImage(
            str(small_study.root / g.loc[g["reader"] == r, "mask"].iloc[0]))) > 0
            for r in ("1", "2"))
        dice = 2 * (m1 & m2).sum() / (m1.sum() + m2.sum())
        assert 0.6 < dice <= 1.0, pid


def test_same_seed_same_bytes_and_patients_stable(tmp_path: Path) -> None:
    a = generate_study(tmp_path / "a", small=True, n_patients=12, seed=7)
    b = generate_study(tmp_path / "b", small=True, n_patients=12, seed=7, jobs=2)
    assert _hashes(a.root) == _hashes(b.root)
    c = generate_study(tmp_path / "c", small=True, n_patients=12, seed=8)
    ha, hc = _hashes(a.root), _hashes(c.root)
    assert ha["images/centre1_0001.nii.gz"] != hc["images/centre1_0001.nii.gz"]
    # patient i of a site does not depend on the number of patients
    d = generate_study(tmp_path / "d", small=True, n_patients=16, seed=7)
    assert _hashes(d.root)["images/centre1_0001.nii.gz"] == ha["images/centre1_0001.nii.gz"]


def test_extra_sites(tmp_path: Path) -> None:
    sites = [SiteSpec(name="site3", n=4, profile="ge_thick"),
             SiteSpec(name="site4", n=3, profile="philips_lowdose")]
    res = generate_study(tmp_path, small=True, sites=sites, sites_only=True)
    clin = pd.read_csv(res.clinical)
    assert res.cohorts == {"site3": 4, "site4": 3}
    assert clin["patient_id"].str.startswith(("site3_", "site4_")).all()
    man = pd.read_csv(res.manifest)
    img3 = sitk.ReadImage(str(tmp_path / man["image"].iloc[0]))
    img4 = sitk.ReadImage(str(tmp_path / man["image"].iloc[-1]))
    assert img3.GetSpacing()[2] == pytest.approx(PROFILES["ge_thick"].slice_mm)
    assert img4.GetSpacing()[2] == pytest.approx(PROFILES["philips_lowdose"].slice_mm)
    both = generate_study(tmp_path / "both", small=True, n_patients=10,
                          sites=[SiteSpec(name="site3", n=2, profile="late_arterial")])
    ids = pd.read_csv(both.clinical)["patient_id"]
    assert ids.is_unique and len(ids) == 12


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_patients": 5}, "n_patients"),
    ({"seed": -1}, "seed"),
    ({"jobs": 0}, "jobs"),
    ({"sites_only": True}, "sites"),
    ({"sites": [SiteSpec(name="centre2", n=3)]}, "unique site names"),
    ({"sites": [SiteSpec(name="x y", n=3)]}, "site names"),
    ({"sites": [SiteSpec(name="s3", n=3, profile="nope")]}, "profile"),
    ({"sites": [SiteSpec(name="s3", n=0)]}, "n"),
])
def test_invalid_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        generate_study(tmp_path, small=True, **kwargs)  # type: ignore[arg-type]


def test_latent_model_signal() -> None:
    """Monte-Carlo check of the outcome model: prevalence, oracle AUC, size-alone AUC."""
    lat = [synth._latent(np.random.default_rng([1, i]), small=False) for i in range(4000)]
    y = np.array([d["y"] for d in lat])
    lp = np.array([d["lp"] for d in lat])
    size = np.array([d["diameter"] for d in lat])
    assert 0.25 <= y.mean() <= 0.35
    assert 0.86 <= _auc(y, lp) <= 0.94
    assert 0.62 <= _auc(y, size) <= 0.76
    grade = np.array([d["grade"] for d in lat])
    assert 0.03 < (grade == 3).mean() < 0.15


def test_heterogeneity_visible_in_image() -> None:
    """The latent heterogeneity must be measurable inside the tumour (interior SD)."""
    from scipy.ndimage import binary_erosion

    h, sd = [], []
    for i in range(30):
        case = simulate_patient(np.random.default_rng([3, i]), PROFILES["centre1"], small=True)
        m = binary_erosion(case["mask1"] > 0)
        if m.sum() < 10:
            continue
        h.append(case["latent"]["h"])
        sd.append(case["image"][m].std())
    assert len(h) >= 20
    assert np.corrcoef(h, sd)[0, 1] > 0.5


def test_cli(tmp_path: Path) -> None:
    from radval.cli import main

    code = main(["synth", "--out", str(tmp_path), "--small", "--site", "ext:3:siemens_thin",
                 "--sites-only", "--quiet"])
    assert code == 0
    assert pd.read_csv(tmp_path / "clinical.csv")["cohort"].eq("ext").all()
    assert main(["synth", "--out", str(tmp_path), "--site", "bad"]) == 2


def test_tables_follow_data_dictionary(small_study: synth.StudyPaths) -> None:
    schema = pytest.importorskip("radval.io.schema")
    manifest_mod = pytest.importorskip("radval.io.manifest")
    assert schema.validate_table(small_study.clinical, "clinical") == []
    man = manifest_mod.read_manifest(small_study.manifest)
    assert not man["duplicate"].any()
    assert set(man["reader"]) == {"1", "2"}


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, radval.io.synth; "
            "bad = [m for m in ('torch', 'SimpleITK', 'radiomics') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
