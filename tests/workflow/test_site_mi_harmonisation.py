"""A frozen bundle with ComBat and a deployment imputer at an external site.

The site's patients of a development batch get that batch's frozen parameters; a batch
never seen in development is harmonised from the site's own features (a warning below
20 patients, an error for one); a patient with a missing clinical predictor is imputed
by the bundle's deployment imputer and the site results compare performance with and
without these patients; the shift diagnostics are reported before and after.  Bundles
without these parts load as before.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import BundleError, HarmonizationWarning, InputError
from radval.workflow import load_study, run_study, validate_bundle
from tests.workflow.test_mi_harmonisation import FEATS, _table, _write


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("site")
    clin, feats = _table(n_dev=120)
    path = _write(root, clin, feats, evaluation={"bootstrap_ci": 0, "optimism": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(load_study(path), root / "out", jobs=1)
    return {"root": root, "bundle": root / "out" / "bundle", "clin": clin, "feats": feats,
            "sig": json.loads((root / "out" / "bundle" / "signature.json").read_text())}


def _site(dev_run: dict[str, Any], tmp: Path, ids: list[str], *, drop: tuple[str, ...] = (),
          **kw: Any) -> dict[str, Any]:
    feats = dev_run["feats"]
    feats = feats[feats.patient_id.isin(ids) & (feats.reader == "1")].drop(columns=["cohort"])
    clin = dev_run["clin"][dev_run["clin"].patient_id.isin(ids)].drop(columns=list(drop))
    clin = clin.drop(columns=["cohort"])
    tmp.mkdir(parents=True, exist_ok=True)
    feats.to_csv(tmp / "features.csv", index=False)
    clin.to_csv(tmp / "clinical.csv", index=False)
    validate_bundle(dev_run["bundle"], manifest=None, features=tmp / "features.csv",
                    clinical=tmp / "clinical.csv", out=tmp / "out", outcome="outcome",
                    site="hosp", n_bootstrap=0, report_formats=None, **kw)
    res = json.loads((tmp / "out" / "results.json").read_text())
    res["_preds"] = pd.read_parquet(tmp / "out" / "predictions.parquet")
    res["_feats"] = feats.set_index("patient_id")
    return res


def _rad_score(sig: dict[str, Any], x: pd.DataFrame) -> np.ndarray:
    s = sig["scores"]["rad_score"]
    return s["intercept"] + x[s["features"]].to_numpy() @ np.asarray(s["coef"])


def test_unseen_site_is_harmonised_from_its_own_features(dev_run: dict[str, Any],
                                                         tmp_path: Path) -> None:
    from radval.harmonize import ComBat

    ext = [f"ext_{i:03d}" for i in range(30)]
    res = _site(dev_run, tmp_path, ext)
    site = res["harmonisation"]["site"]
    assert site["batches"] == [{"batch": "C", "n": 30, "seen": False}]
    assert site["label_source"] == "clinical table" and site["n_features"] == len(FEATS)
    # the score is computed on the features the frozen ComBat gives for a new batch
    cb = ComBat.from_dict(dev_run["sig"]["harmonisation"]["combat"])
    raw = res["_feats"].loc[res["_preds"].patient_id, FEATS]
    harm = cb.transform(raw, ["C"] * len(raw))
    np.testing.assert_allclose(res["_preds"]["rad_score"], _rad_score(dev_run["sig"], harm),
                               rtol=1e-10)
    # shift diagnostics: before on the raw features, after (results.shift) harmonised
    before = pd.DataFrame(site["shift_before"]["features"]).set_index("feature")
    after = pd.DataFrame(res["shift"]["features"]).set_index("feature")
    assert before.smd.abs().mean() > 1.0 > 0.3 > after.smd.abs().mean()
    assert len(site["shift_before"]["flagged"]) > len(res["shift"]["flagged"])
    assert site["auc_unharmonised"] is not None


def test_a_development_batch_gets_its_frozen_parameters(dev_run: dict[str, Any],
                                                        tmp_path: Path) -> None:
    from radval.harmonize import ComBat

    # one patient of batch B and the patients of the reference A: nothing is estimated,
    # every patient is harmonised on its own
    val = dev_run["clin"][dev_run["clin"].cohort == "val"]
    a_ids = list(val[val.scanner == "A"].patient_id)
    ids = [val[val.scanner == "B"].patient_id.iloc[0], *a_ids]
    res = _site(dev_run, tmp_path, ids)
    labels = dev_run["clin"].set_index("patient_id").loc[ids, "scanner"].tolist()
    assert sorted(labels) == ["A"] * len(a_ids) + ["B"]
    assert {b["batch"]: b["seen"] for b in res["harmonisation"]["site"]["batches"]} == \
        {"A": True, "B": True}
    cb = ComBat.from_dict(dev_run["sig"]["harmonisation"]["combat"])
    preds = res["_preds"].set_index("patient_id").loc[ids]
    raw = res["_feats"].loc[ids, FEATS]
    harm = cb.transform(raw, labels)
    np.testing.assert_allclose(preds["rad_score"], _rad_score(dev_run["sig"], harm),
                               rtol=1e-10)
    a = [i for i, b in zip(ids, labels, strict=True) if b == "A"]
    np.testing.assert_allclose(harm.loc[a].to_numpy(), raw.loc[a].to_numpy())  # reference


def test_small_new_site_warns_and_a_single_patient_is_an_error(dev_run: dict[str, Any],
                                                               tmp_path: Path) -> None:
    few = [f"ext_{i:03d}" for i in range(15)]
    with pytest.warns(HarmonizationWarning, match="only 15 samples"):
        res = _site(dev_run, tmp_path / "few", few)
    assert any(w["code"] == "HARMONISATION" for w in res["warnings"])
    with pytest.raises(InputError, match="has 1 sample"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _site(dev_run, tmp_path / "one", ["ext_000"])


def test_site_without_the_batch_column_is_one_new_batch(dev_run: dict[str, Any],
                                                        tmp_path: Path) -> None:
    ext = [f"ext_{i:03d}" for i in range(25)]
    res = _site(dev_run, tmp_path, ext, drop=("scanner",))
    site = res["harmonisation"]["site"]
    assert site["label_source"] == "site label"
    assert site["batches"] == [{"batch": "hosp", "n": 25, "seen": False}]


def test_missing_predictors_imputed_with_the_deployment_imputer(dev_run: dict[str, Any],
                                                                tmp_path: Path) -> None:
    from radval import stats
    from radval.models.logistic import DesignSpec

    ids = [f"ext_{i:03d}" for i in range(30)]
    res = _site(dev_run, tmp_path, ids)
    site = res["missing_data"]["site"]
    clin = dev_run["clin"].set_index("patient_id").loc[ids]
    incomplete = clin[["age", "size_mm", "grade"]].isna().any(axis=1)
    assert site["method"] == "deployment_imputer"
    assert site["n_imputed"] == int(incomplete.sum()) > 0
    rows = {(r["model"], r["subset"]): r for r in site["models"]}
    assert rows[("nomogram", "all")]["n"] == 30
    assert rows[("nomogram", "imputed")]["n"] == int(incomplete.sum())
    # the complete cases, scored by hand with the frozen nomogram
    sig = dev_run["sig"]
    spec = DesignSpec.from_dict(sig["extra"]["designs"]["nomogram"])
    nom = sig["models"]["nomogram"]
    preds = res["_preds"].set_index("patient_id").loc[ids]
    comp = clin[~incomplete]
    x = spec.transform(comp)
    x["rad_score"] = preds.loc[comp.index, "rad_score"]
    lp = nom["intercept"] + x[nom["inputs"]].to_numpy() @ np.asarray(nom["coef"])
    want = stats.roc_auc(comp["outcome"].to_numpy(), lp)
    assert rows[("nomogram", "complete_cases")]["auc"] == pytest.approx(want, rel=1e-12)
    assert rows[("nomogram", "complete_cases")]["n"] == len(comp)
    assert "deployment imputer" in res["methods"]["missing_data"]
    # deterministic for the seed
    again = _site(dev_run, tmp_path / "again", ids)
    assert again["missing_data"] == res["missing_data"]


def test_bundles_without_harmonisation_or_imputer_load_as_before(tmp_path: Path) -> None:
    from radval.models.bundle import load_bundle, write_bundle
    from tests.models.test_signature import make_signature

    sig = make_signature()
    d = sig.to_dict()
    assert "harmonisation" not in d and "imputation" not in d
    b = load_bundle(write_bundle(tmp_path / "b", sig))
    assert b.signature.harmonisation is None and b.signature.imputation is None


def test_the_frozen_combat_is_checksummed(dev_run: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from radval.models.bundle import load_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(dev_run["bundle"], copy)
    doc = json.loads((copy / "signature.json").read_text())
    doc["harmonisation"]["combat"]["grand_mean"][0] += 1.0
    (copy / "signature.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError):
        load_bundle(copy)
    assert math.isfinite(load_bundle(dev_run["bundle"]).signature.cutoff)
