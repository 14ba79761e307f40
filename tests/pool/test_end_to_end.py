"""Acceptance test of the external-validation kit on the small synthetic study.

Fit on centre 1, write the bundle, validate it on centre 2 and on two extra synthetic
sites with other scanners, pool the three share.json files, render the reports, and
refuse a bundle with one flipped byte (exit code 65, message naming the file).

The fit is a deliberately minimal one (top univariate features + maximum-likelihood
logistic regression) so that the test does not depend on the full pipeline; a reduced
PyRadiomics parameter file (first order + shape) keeps extraction fast.  The bundle
carries that parameter file and validate must use it.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("radiomics")
pytest.importorskip("SimpleITK")

from radval import stats  # noqa: E402
from radval.exceptions import RadvalWarning  # noqa: E402
from radval.models.bundle import write_bundle  # noqa: E402
from radval.models.signature import (  # noqa: E402
    LinearScore,
    LogisticModel,
    Signature,
    development_summary_from,
)
from radval.stats._kernels import logistic_newton  # noqa: E402

PARAMS = """imageType:
  Original: {}
featureClass:
  firstorder: []
  shape: []
setting:
  binWidth: 25
  label: 1
"""
SITES = ("centre2", "siteC", "siteD")


def _fit_minimal(feats: pd.DataFrame, y: np.ndarray, n_features: int = 3) -> LinearScore:
    cols = [c for c in feats.columns if c.startswith("radiomics_")
            and np.isfinite(feats[c]).all() and feats[c].std() > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        auc = {c: abs(stats.roc_auc(y, feats[c].to_numpy()) - 0.5) for c in cols}
    chosen: list[str] = []
    for c in sorted(cols, key=lambda c: (-auc[c], c)):
        if all(abs(np.corrcoef(feats[c], feats[o])[0, 1]) < 0.8 for o in chosen):
            chosen.append(c)
        if len(chosen) == n_features:
            break
    x = feats[chosen].to_numpy(float)
    mean, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    z = (x - mean) / sd
    beta = logistic_newton(np.column_stack([np.ones(len(y)), z]), y.astype(float)).coef
    coef = beta[1:] / sd
    intercept = beta[0] - float((coef * mean).sum())
    return LinearScore(name="rad_score", features=chosen, intercept=float(intercept),
                       coef=coef.tolist(), means=mean.tolist(), sds=sd.tolist())


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from radval.features import extract_radiomics
    from radval.io.manifest import read_manifest
    from radval.io.synth import SiteSpec, generate_study

    root = tmp_path_factory.mktemp("e2e")
    sp = generate_study(root / "study", small=True, n_patients=72, seed=7,
                        sites=[SiteSpec(name="siteC", n=32, profile="ge_thick"),
                               SiteSpec(name="siteD", n=32, profile="philips_lowdose")])
    params = root / "params.yaml"
    params.write_text(PARAMS)
    man = read_manifest(sp.manifest)
    dev = man[man["cohort"].astype(str).str.startswith("centre1")
              & (man["reader"].astype(str) == "1")].reset_index(drop=True)
    res = extract_radiomics(dev, params=params, out_dir=None, jobs=1)
    feats = res.features.sort_values("patient_id").reset_index(drop=True)
    clin = pd.read_csv(sp.clinical, dtype={"patient_id": str})
    y = feats["patient_id"].map(clin.set_index("patient_id")["ln_metastasis"]).to_numpy(int)
    rad = _fit_minimal(feats, y)
    combined = LogisticModel(name="combined", inputs=["rad_score"], intercept=0.0, coef=[1.0])
    lp = rad.compute(feats)
    prob = 1 / (1 + np.exp(-lp))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        cutoff = float(stats.youden_threshold(y, prob))
    sig = Signature(
        schema_version="1", radval_version="test", outcome={"name": "ln_metastasis",
                                                            "positive_label": 1},
        intended_use="pre-operative prediction of lymph-node metastasis",
        population="synthetic centre 1", prediction_moment="pre-operative",
        predictors=[{"name": "rad_score", "kind": "radiomics", "timing": "pre-operative"}],
        radiomics={"params_yaml": PARAMS, "params_sha256": ""}, deep=None,
        scores={"rad_score": rad}, combined=combined, cutoff=min(max(cutoff, 0.01), 0.99),
        development_summary=development_summary_from(feats, rad.features, prob, y_true=y))
    bundle = write_bundle(root / "bundle", sig)
    bundle_zip = write_bundle(root / "bundle", sig, zip=True)
    return {"root": root, "paths": sp, "bundle": bundle, "zip": bundle_zip, "sig": sig,
            "dev_auc": stats.roc_auc(y, prob)}


@pytest.fixture(scope="module")
def validated(study: dict[str, Any]) -> dict[str, Any]:
    from radval.workflow import validate_bundle

    out: dict[str, Any] = {}
    for i, site in enumerate(SITES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            out[site] = validate_bundle(
                study["zip"] if site == "siteD" else study["bundle"],
                manifest=study["paths"].manifest, clinical=study["paths"].clinical,
                out=study["root"] / f"val_{site}", cohort=site, jobs=1, n_bootstrap=50,
                report_formats=("html",) if i == 0 else None)
    return out


@pytest.mark.slow
def test_validate_writes_results_share_and_report(study: dict[str, Any],
                                                  validated: dict[str, Any]) -> None:
    root = study["root"]
    for site in SITES:
        d = root / f"val_{site}"
        res = json.loads((d / "results.json").read_text())
        share = json.loads((d / "share.json").read_text())
        preds = pd.read_parquet(d / "predictions.parquet")
        assert share["site"] == site
        assert share["n"] == len(preds) == res["cohorts"][0]["n"]
        # the prediction re-done from the frozen signature equals what validate wrote
        feats = pd.read_parquet(d / "features" / "features.parquet") \
            if (d / "features" / "features.parquet").exists() else None
        if feats is not None:
            f1 = feats[feats["reader"].astype(str) == "1"].drop_duplicates("patient_id")
            redo = study["sig"].predict(f1).set_index("patient_id")["probability"]
            np.testing.assert_allclose(preds.set_index("patient_id")["probability"],
                                       redo.loc[preds["patient_id"]].to_numpy(), rtol=1e-12)
        y, p = preds["y_true"].to_numpy(), preds["probability"].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            d_ci = stats.delong_ci(y, p)
        assert share["discrimination"]["auc"] == pytest.approx(d_ci.estimate, rel=1e-12)
        assert share["discrimination"]["auc_se"] == pytest.approx(d_ci.se, rel=1e-12)
        perf = pd.DataFrame(res["performance"])
        assert perf.loc[perf["subgroup"] == "all", "auc"].iloc[0] == \
            pytest.approx(d_ci.estimate, rel=1e-12)
        assert "shift" in res and "updating" in res
        assert {f["feature"] for f in share["shift"]["features"]} == \
            set(study["sig"].selected_features)
    assert (root / "val_centre2" / "report" / "report.html").is_file()
    html = (root / "val_centre2" / "report" / "report.html").read_text()
    assert "Dataset shift" in html
    # the site report is unsuppressed: it says first that it stays at the site
    qmd = (root / "val_centre2" / "report" / "report.qmd").read_text()
    body = qmd.split("\n---\n", 1)[1]
    assert body.lstrip().startswith("**For internal use at this site.**")
    assert "For internal use at this site." in html


@pytest.mark.slow
def test_share_json_holds_aggregates_only(study: dict[str, Any],
                                          validated: dict[str, Any]) -> None:
    root = study["root"]
    clin = pd.read_csv(study["paths"].clinical, dtype={"patient_id": str})
    ids = clin["patient_id"].tolist()
    for site in SITES:
        d = root / f"val_{site}"
        text = (d / "share.json").read_text()
        low = text.lower()
        for pid in ids:
            assert pid.lower() not in low, pid
        for frag in [str(root), str(root.name), "/tmp", ".nii", ".nrrd", ".parquet", "/",
                     "\\", "manifest", "clinical.csv"]:
            assert frag.lower() not in low, frag
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "a date"
        assert not re.search(r"\b\d+(\.\d+){4,}\b", text), "a DICOM-like UID"
        preds = pd.read_parquet(d / "predictions.parquet")
        values: list[float] = []
        for col in ["probability", "score", "rad_score"]:
            values.extend(preds[col].tolist())
        feats_path = d / "features" / "features.parquet"
        if feats_path.exists():
            f = pd.read_parquet(feats_path)
            for c in study["sig"].selected_features:
                values.extend(f[c].tolist())
        numbers = set(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text))
        for v in values:
            text_v = repr(float(v))
            if len(text_v.lstrip("-")) < 7:  # 0.0, 1.0, 25.0: no information about anyone
                continue
            assert text_v not in numbers, v
        share = json.loads(text)
        # small cells: every reported 2x2 count is >= 5, else it is suppressed and flagged
        tm = share["threshold_metrics"]
        counts = [tm[k] for k in ("tp", "fp", "tn", "fn")]
        if any(c is None for c in counts):
            assert all(c is None for c in counts)
            assert "threshold_metrics.tp" in share["suppression"]["suppressed"]
        else:
            assert min(counts) >= 5
        if share["events"] is None:
            assert "events" in share["suppression"]["suppressed"]
        else:
            assert min(share["events"], share["non_events"]) >= 5
        # no count below 5 can be derived from the file (tests/pool/test_disclosure.py)
        from tests.pool.test_disclosure import _attack, _released_guarantee, _truth

        cutoff = share["threshold_metrics"]["cutoff"]
        nodes = sorted({cutoff, *(r["threshold"] for r in share["net_benefit"])})
        truth = _truth(preds["y_true"].to_numpy(), preds["probability"].to_numpy(), nodes)
        assert _attack(share, nodes, cutoff, truth) == [], site
        _released_guarantee(share, truth, cutoff)


@pytest.mark.slow
def test_pool_three_sites(study: dict[str, Any], validated: dict[str, Any]) -> None:
    from radval.pool import meta_analysis
    from radval.pool.pooling import pool_shares

    root = study["root"]
    shares = [root / f"val_{s}" / "share.json" for s in SITES]
    pooled = pool_shares(shares, out=root / "pooled", report_formats=("html",))
    docs = [json.loads(p.read_text()) for p in shares]
    auc = pooled["measures"]["auc"]["result"]
    assert auc["k"] == 3
    direct = meta_analysis([d["discrimination"]["logit_auc"] for d in docs],
                           [d["discrimination"]["logit_auc_se"] ** 2 for d in docs])
    assert auc["pooled"] == pytest.approx(direct.pooled, rel=1e-10)
    assert auc["tau2"] == pytest.approx(direct.tau2, rel=1e-8, abs=1e-12)
    assert auc["pooled_natural"] == pytest.approx(1 / (1 + np.exp(-direct.pooled)), rel=1e-12)
    slope = pooled["measures"]["calibration_slope"]["result"]
    assert slope is not None and slope["k"] == 3
    assert (root / "pooled" / "pooled.json").is_file()
    assert (root / "pooled" / "figures" / "forest_auc.png").is_file()
    assert (root / "pooled" / "report" / "pooled.html").is_file()
    on_disk = json.loads((root / "pooled" / "pooled.json").read_text())
    assert on_disk["measures"]["auc"]["result"]["pooled"] == auc["pooled"]


@pytest.mark.slow
def test_tampered_bundle_is_refused_by_cli(study: dict[str, Any], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from radval.cli import main

    bad = tmp_path / "bundle"
    shutil.copytree(study["bundle"], bad)
    f = bad / "signature.json"
    data = bytearray(f.read_bytes())
    data[len(data) // 3] ^= 0x01
    f.write_bytes(bytes(data))
    argv = ["validate", str(bad), "--manifest", str(study["paths"].manifest), "--clinical",
            str(study["paths"].clinical), "--out", str(tmp_path / "out"), "--cohort",
            "centre2", "--no-report"]
    code = main(argv)
    assert code == 65
    err = capsys.readouterr().err
    assert "signature.json" in err and "modified" in err
    assert not (tmp_path / "out" / "share.json").exists()
    from radval.exceptions import BundleError
    from radval.models.bundle import load_bundle

    with pytest.raises(BundleError, match="signature.json"):
        load_bundle(bad)


STUDY_YAML = """name: e2e-pipeline
outcome: {{column: ln_metastasis, positive_label: 1}}
prediction_moment: pre-operative
manifest: {manifest}
clinical: {clinical}
radiomics: {{enabled: true, params: {params}}}
deep: {{enabled: false}}
cohorts:
  - {{name: centre1_train, role: development}}
  - {{name: centre1_test, role: internal_validation}}
  - {{name: centre2, role: external_validation}}
clinical_predictors:
  - {{name: age_years, timing: pre-operative, kind: numeric}}
selection: {{icc_threshold: 0.5, p_threshold: 0.5, n_folds: 3}}
models: {{clinical: false, combined: true, nomogram: false}}
evaluation: {{bootstrap_ci: 20, optimism: 0}}
compute: {{jobs: 1}}
seed: 1
"""


@pytest.mark.slow
def test_pipeline_bundle_validates_to_identical_predictions(study: dict[str, Any]) -> None:
    """`radval run`'s own bundle, validated on centre 2, reproduces the pipeline's predictions
    of centre 2 exactly (same parameter file, same coefficients, no refit)."""
    from radval.workflow import load_study, run_study, validate_bundle

    root = study["root"]
    sp = study["paths"]
    yaml_path = root / "study.yaml"
    yaml_path.write_text(STUDY_YAML.format(manifest=sp.manifest, clinical=sp.clinical,
                                           params=root / "params.yaml"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        run = run_study(load_study(yaml_path), root / "run", jobs=1)
        bundle = run.out_dir / "bundle"
        assert (bundle / "SHA256SUMS").is_file()
        validate_bundle(bundle, manifest=sp.manifest, clinical=sp.clinical,
                        out=root / "val_pipeline", cohort="centre2", jobs=1, n_bootstrap=20,
                        report_formats=None)
    sig_model = json.loads((bundle / "signature.json").read_text())["extra"]["signature_model"]
    ref = pd.read_parquet(run.out_dir / "predictions.parquet")
    ref = ref[(ref["cohort"] == "centre2") & (ref["model"] == sig_model)]
    got = pd.read_parquet(root / "val_pipeline" / "predictions.parquet")
    ref = ref.set_index("patient_id").sort_index()
    got = got.set_index("patient_id").sort_index()
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["probability"], ref["probability"], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got["y_true"], ref["y_true"])


@pytest.mark.slow
@pytest.mark.torch
def test_deep_weights_travel_in_the_bundle(study: dict[str, Any], tmp_path: Path) -> None:
    """A bundle with a DL-score: validate loads deep.safetensors (no refit) and its features
    equal those of the original network (window z-scoring constants included)."""
    pytest.importorskip("torch")
    from radval.features import deep as deep_mod
    from radval.io.manifest import read_manifest
    from radval.workflow import validate_bundle

    sp = study["paths"]
    man = read_manifest(sp.manifest)
    man = man[man["reader"].astype(str) == "1"].reset_index(drop=True)
    dev = man[man["cohort"].astype(str).str.startswith("centre1")].reset_index(drop=True)
    clin = pd.read_csv(sp.clinical, dtype={"patient_id": str}).set_index("patient_id")
    model = deep_mod.train_deep_model(dev, clin["ln_metastasis"],
                                      config={"epochs": 1, "normalisation": "window_zscore",
                                              "feature_dim": 8}, seed=3)
    weights, _cfg = model.save(tmp_path / "deep")
    from radval._provenance import sha256_file

    dl = LinearScore(name="dl_score", features=["deep_0", "deep_3"], intercept=0.2,
                     coef=[0.7, -0.4], means=[0.0, 0.0], sds=[1.0, 1.0])
    base = study["sig"]
    sig = Signature(**{**{f: getattr(base, f) for f in base.__dataclass_fields__},
                       "scores": {"rad_score": base.scores["rad_score"], "dl_score": dl},
                       "combined": LogisticModel(name="combined",
                                                 inputs=["rad_score", "dl_score"],
                                                 intercept=-0.3, coef=[0.9, 0.5]),
                       "deep": {"config": model.metadata(sha256_file(weights)),
                                "weights_file": None, "weights_sha256": None}})
    bundle = write_bundle(tmp_path / "bundle", sig, deep_weights=weights)
    assert (bundle / "deep.safetensors").read_bytes() == weights.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        validate_bundle(bundle, manifest=sp.manifest, clinical=sp.clinical,
                        out=tmp_path / "val", cohort="siteC", jobs=1, n_bootstrap=20,
                        report_formats=None)
    got = pd.read_parquet(tmp_path / "val" / "predictions.parquet").set_index("patient_id")
    site = man[man["cohort"].astype(str) == "siteC"].reset_index(drop=True)
    ref_deep = deep_mod.extract_deep_features(site, model).set_index("patient_id")
    np.testing.assert_allclose(got["dl_score"],
                               dl.compute(ref_deep.loc[got.index].reset_index()), rtol=1e-12)
