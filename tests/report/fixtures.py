"""A realistic run directory (results.json + predictions.parquet) for report tests.

Built from synthetic predictions with plain numpy so that the report can be
developed and tested without the pipeline.  Every table follows
``data-dictionary/results.yaml``.  The numbers are internally consistent
(AUCs, CIs, calibration, decision curves are computed from the synthetic
predictions) but are not reference values for anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

COHORTS = [("development", "development", 160), ("internal", "internal_validation", 70),
           ("external_1", "external_validation", 90), ("external_2", "external_validation", 80)]
MODELS = [("radiomics", "Radiomics signature", "radiomics", 1.3),
          ("deep", "Deep-learning signature", "deep", 1.1),
          ("clinical", "Clinical model", "clinical", 0.7),
          ("nomogram", "Combined nomogram", "nomogram", 1.6)]


def _auc_delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc = float(psi.mean())
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    return auc, float(math.sqrt(var))


def _roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thr = np.r_[np.inf, np.sort(np.unique(s))[::-1]]
    tpr = np.array([(s[y == 1] >= t).mean() for t in thr])
    fpr = np.array([(s[y == 0] >= t).mean() for t in thr])
    return fpr, tpr


def _wilson(k: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p, z = k / n, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                        (v.item() if isinstance(v, np.generic) else v)) for k, v in rec.items()})
    return out


#: Display names of the study file (``labels=True``): every variable, level, model, cohort
#: and subgroup of the fixture has one.
LABELS = {
    "variables": {
        "age_years": {"label": "Age", "unit": "years", "levels": None, "kind": "numeric"},
        "sex": {"label": "Sex", "unit": None, "levels": {"female": "Female", "male": "Male"},
                "kind": "categorical"},
        "tumour_size_mm": {"label": "Tumour size", "unit": "mm", "levels": None,
                           "kind": "numeric"},
        "grade": {"label": "WHO grade", "unit": None,
                  "levels": {"G1": "grade 1", "G2": "grade 2", "G3": "grade 3"},
                  "kind": "categorical"},
        "ln_metastasis": {"label": "Lymph-node metastasis", "unit": None,
                          "levels": {"0": "no", "1": "yes"}, "kind": "categorical"}},
    "subgroups": {"tumour size": {"label": "Tumour size", "column": "tumour_size_mm",
                                  "op": "<", "value": 20, "rule": "< 20 mm",
                                  "complement": ">= 20 mm", "levels": None}},
    "models": {"radiomics": "Rad-score", "deep": "DL-score", "clinical": "Clinical model",
               "nomogram": "Radiomics nomogram"},
    "cohorts": {"development": "Training cohort", "internal": "Internal test cohort",
                "external_1": "External cohort A", "external_2": "External cohort B"}}

#: The study file recorded in provenance (radval.workflow.StudyConfig.to_record form).
STUDY = {
    "name": "Synthetic LN-metastasis study", "question": "LN metastasis before surgery?",
    "outcome": {"column": "ln_metastasis", "positive_label": 1,
                "definition": "pN+ at pathology"},
    "prediction_moment": "pre-operative", "manifest": "manifest.csv",
    "clinical": "clinical.csv", "features": None,
    "cohorts": [{"name": c, "role": r} for c, r, _ in COHORTS],
    "clinical_predictors": [
        {"name": "age_years", "timing": "pre-operative", "kind": "numeric"},
        {"name": "sex", "timing": "pre-operative", "kind": "categorical"},
        {"name": "tumour_size_mm", "timing": "pre-operative", "kind": "numeric"},
        {"name": "grade", "timing": "post-operative", "kind": "categorical"}],
    "subgroups": [{"name": "tumour size", "expr": "tumour_size_mm < 20"}],
    "selection": {"icc_threshold": 0.8, "icc_type": "ICC2", "p_threshold": 0.05,
                  "fdr": False, "corr_threshold": 0.9, "lasso_rule": "1se", "n_folds": 10},
    "evaluation": {"bootstrap_ci": 2000, "optimism": 200, "hl_groups": 10},
    "seed": 7}


def make_results(seed: int = 7, *, survival: bool = True,
                 labels: bool = False) -> tuple[dict[str, Any], pd.DataFrame]:
    """Return (results dict, predictions DataFrame) for a four-cohort study; ``labels``
    adds the study file's display names (:data:`LABELS`)."""
    rng = np.random.default_rng(seed)
    preds, clinical = [], []
    for cname, _role, n in COHORTS:
        y = rng.binomial(1, 0.38, n)
        latent = rng.normal(size=n)
        size = np.round(np.exp(rng.normal(3.0 + 0.25 * y, 0.4)), 1)
        clinical.append(pd.DataFrame({
            "patient_id": [f"{cname[:3].upper()}{i:03d}" for i in range(n)], "cohort": cname,
            "age_years": np.round(rng.normal(61, 9, n), 0),
            "sex": rng.choice(["female", "male"], n), "tumour_size_mm": size,
            "grade": rng.choice(["G1", "G2", "G3"], n, p=[0.3, 0.5, 0.2]), "y": y}))
        for mname, _lab, _kind, d in MODELS:
            shift = -0.15 if cname.startswith("external") else 0.0
            score = (d + shift) * y + 0.6 * latent + rng.normal(size=n) - 0.8
            prob = 1 / (1 + np.exp(-score))
            preds.append(pd.DataFrame({
                "patient_id": clinical[-1].patient_id, "cohort": cname, "model": mname,
                "score": score, "probability": prob, "y_true": y}))
    pred = pd.concat(preds, ignore_index=True)
    clin = pd.concat(clinical, ignore_index=True)

    perf, thr_rows, cal, roc, band, calg, cals, dec, comps, subg, het = ([] for _ in range(11))
    cut = {m: 0.4 for m, *_ in MODELS}
    for cname, _role, _n in COHORTS:
        scores = {}
        for mname, *_ in MODELS:
            d = pred[(pred.cohort == cname) & (pred.model == mname)]
            y, p = d.y_true.to_numpy(), d.probability.to_numpy()
            scores[mname] = (y, p)
            auc, se = _auc_delong(y, p)
            perf.append({"cohort": cname, "model": mname, "subgroup": "all", "n": int(y.size),
                         "events": int(y.sum()), "auc": auc, "auc_se": se,
                         "auc_variance": se * se,
                         "auc_ci_low": max(0.0, auc - 1.96 * se),
                         "auc_ci_high": min(1.0, auc + 1.96 * se),
                         "auc_boot_ci_low": max(0.0, auc - 2.0 * se),
                         "auc_boot_ci_high": min(1.0, auc + 1.9 * se),
                         "cutoff": cut[mname], "undefined_reason": None})
            pos = p >= cut[mname]
            tp, fp = int((pos & (y == 1)).sum()), int((pos & (y == 0)).sum())
            fn, tn = int((~pos & (y == 1)).sum()), int((~pos & (y == 0)).sum())
            for metric, k, m in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp),
                                 ("ppv", tp, tp + fp), ("npv", tn, tn + fn),
                                 ("accuracy", tp + tn, y.size)):
                est, lo, hi = _wilson(k, m)
                thr_rows.append({"cohort": cname, "model": mname, "subgroup": "all",
                                 "metric": metric, "estimate": est, "ci_low": lo, "ci_high": hi,
                                 "numerator": k, "denominator": m,
                                 "undefined_reason": None})
            fpr, tpr = _roc(y, p)
            roc += [{"cohort": cname, "model": mname, "fpr": a, "tpr": b,
                     "threshold": None if i == 0 else float(i) / len(fpr)}
                    for i, (a, b) in enumerate(zip(fpr, tpr))]
            grid = np.linspace(0, 1, 21)
            t = np.interp(grid, fpr, tpr)
            band += [{"cohort": cname, "model": mname, "fpr": g,
                      "tpr_low": max(0.0, v - 0.08 * math.sin(math.pi * g) - 0.02),
                      "tpr_high": min(1.0, v + 0.08 * math.sin(math.pi * g) + 0.02)}
                     for g, v in zip(grid, t)]
            lp = np.log(p / (1 - p))
            slope = float(np.polyfit(lp, y, 1)[0] * 4)
            brier = float(np.mean((p - y) ** 2))
            order = np.argsort(p)
            groups = np.array_split(order, 10)
            errs = []
            for gi, idx in enumerate(groups):
                mp, ob = float(p[idx].mean()), float(y[idx].mean())
                _e, lo, hi = _wilson(int(y[idx].sum()), idx.size)
                errs.append(abs(mp - ob))
                calg.append({"cohort": cname, "model": mname, "group": gi + 1,
                             "mean_predicted": mp, "observed": ob, "ci_low": lo, "ci_high": hi,
                             "n": int(idx.size)})
            xs = np.linspace(np.quantile(p, 0.05), np.quantile(p, 0.95), 25)
            bw = 0.12
            for xv in xs:
                w = np.exp(-0.5 * ((p - xv) / bw) ** 2)
                cals.append({"cohort": cname, "model": mname, "predicted": float(xv),
                             "observed": float((w * y).sum() / w.sum())})
            oe = float(y.mean() / p.mean())
            hl = float(rng.chisquare(8))
            cal.append({"cohort": cname, "model": mname,
                        "intercept": float(np.log(y.mean() / (1 - y.mean())) - lp.mean() * 0.3),
                        "slope": slope, "citl": float(y.mean() - p.mean()), "brier": brier,
                        "emax": float(max(errs)), "e90": float(np.quantile(errs, 0.9)),
                        "eavg": float(np.mean(errs)), "ici": float(np.mean(errs)),
                        "spiegelhalter_z": float(rng.normal()), "spiegelhalter_p": 0.4,
                        "o_e_ratio": oe, "hl_statistic": hl, "hl_df": 8,
                        "hl_p_value": float(stats.chi2.sf(hl, 8)), "undefined_reason": None})
            prev = y.mean()
            for tv in np.round(np.arange(0.01, 0.81, 0.01), 2):
                pos = p >= tv
                tpn, fpn = (pos & (y == 1)).sum() / y.size, (pos & (y == 0)).sum() / y.size
                nb = tpn - fpn * tv / (1 - tv)
                ta = prev - (1 - prev) * tv / (1 - tv)
                dec.append({"cohort": cname, "model": mname, "threshold": float(tv),
                            "net_benefit": float(nb), "treat_all": float(ta), "treat_none": 0.0,
                            "net_interventions_avoided": float((nb - ta) / (tv / (1 - tv))),
                            "pos_rate": float(pos.mean()), "tp_rate": float(tpn),
                            "fp_rate": float(fpn)})
            size = clin[clin.cohort == cname].tumour_size_mm.to_numpy()
            for level, sel in (("< 20 mm", size < 20), (">= 20 mm", size >= 20)):
                if y[sel].min() == y[sel].max():
                    subg.append({"cohort": cname, "model": mname, "subgroup": "tumour size",
                                 "level": level, "n": int(sel.sum()), "events": int(y[sel].sum()),
                                 "auc": None, "ci_low": None, "ci_high": None,
                                 "variance": None, "undefined_reason": "one outcome class"})
                    continue
                a, s = _auc_delong(y[sel], p[sel])
                subg.append({"cohort": cname, "model": mname, "subgroup": "tumour size",
                             "level": level, "n": int(sel.sum()), "events": int(y[sel].sum()),
                             "auc": a, "ci_low": max(0, a - 1.96 * s),
                             "ci_high": min(1, a + 1.96 * s), "variance": s * s,
                             "undefined_reason": None})
            het.append({"cohort": cname, "model": mname, "subgroup": "tumour size",
                        "statistic": float(rng.chisquare(1)), "df": 1,
                        "p_value": float(rng.uniform()), "pooled_auc": 0.75,
                        "undefined_reason": None})
        names = [m for m, *_ in MODELS]
        raw = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                y, pa = scores[a]
                _, pb = scores[b]
                aa, sa = _auc_delong(y, pa)
                ab, sb = _auc_delong(y, pb)
                diff = aa - ab
                se = math.sqrt(max(sa * sa + sb * sb - 2 * 0.5 * sa * sb, 1e-12))
                z = diff / se
                raw.append({"cohort": cname, "model_a": a, "model_b": b, "auc_a": aa,
                            "auc_b": ab, "difference": diff, "statistic": z,
                            "p_value": float(2 * stats.norm.sf(abs(z))),
                            "ci_low": diff - 1.96 * se, "ci_high": diff + 1.96 * se,
                            "undefined_reason": None})
        ps = np.array([r["p_value"] for r in raw])
        order = np.argsort(ps)
        adj = np.empty_like(ps)
        running = 0.0
        for rank, idx in enumerate(order):
            running = max(running, min(1.0, (ps.size - rank) * ps[idx]))
            adj[idx] = running
        for r, q in zip(raw, adj):
            r["p_adjusted"] = float(q)
        comps += raw

    from radval.stats._descriptive import baseline_table

    base = baseline_table(clin, variables=["age_years", "sex", "tumour_size_mm", "grade"],
                          nonnormal=["tumour_size_mm"], overall=False)

    feats = [f"radiomics_original_glcm_F{i}" for i in range(8)] + [
        "radiomics_wavelet-LLH_firstorder_Mean", "radiomics_original_shape_Sphericity"]
    lambdas = np.exp(np.linspace(np.log(0.3), np.log(0.003), 40))
    coefs = rng.normal(0, 0.8, len(feats))
    path = [{"lambda": float(lam), "feature": f,
             "coef": float(np.sign(c) * max(0.0, abs(c) - lam * (3 + i)))}
            for lam in lambdas for i, (f, c) in enumerate(zip(feats, coefs))]
    cvm = 1.25 - 0.25 * np.exp(-((np.log(lambdas) - np.log(0.03)) ** 2) / 2)
    lasso_cv = [{"lambda": float(lam), "cvm": float(m), "cvsd": 0.03, "cvup": float(m) + 0.03,
                 "cvlo": float(m) - 0.03,
                 "nzero": int(sum(abs(c) > lam * (3 + i) for i, c in enumerate(coefs)))}
                for lam, m in zip(lambdas, cvm)]
    kept = [f for f, c in zip(feats, coefs) if abs(c) > 0.03 * 5]
    final = [{"feature": "(Intercept)", "coef": -0.42, "mean": None, "sd": None}] + [
        {"feature": f, "coef": float(c), "mean": float(rng.normal()),
         "sd": float(abs(rng.normal()) + 0.5)} for f, c in zip(feats, coefs) if f in kept]
    formula = "rad-score = -0.420 " + " ".join(
        f"{'+' if r['coef'] >= 0 else '-'} {abs(r['coef']):.3f} × {r['feature']}"
        for r in final[1:])
    icc_vals = np.clip(rng.beta(8, 2, 120), 0, 1)
    def funnel(steps: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
        return [{"step": st, "n_in": a, "n_out": b, "status": "done", "note": ""}
                for st, a, b in steps]

    selection = {"radiomics": {
        "family": "radiomics", "selected": kept, "intercept": -0.42,
        "funnel": funnel([("candidates", 1218, 1218), ("icc", 1218, 914),
                          ("mann_whitney", 914, 233), ("redundancy", 233, 41),
                          ("lasso", 41, len(kept))]),
        "features": [{"feature": f, "step": "lasso", "kept": f in kept, "reason": "LASSO",
                      "value": float(c)} for f, c in zip(feats, coefs)],
        "icc": [{"feature": f"radiomics_f{i}", "type": "ICC2", "icc": float(v), "F": 9.0,
                 "df1": 59, "df2": 59, "p_value": 1e-6, "ci_low": float(v - 0.1),
                 "ci_high": float(min(1, v + 0.05))} for i, v in enumerate(icc_vals)],
        "lasso_cv": lasso_cv, "lasso_path": path, "lambda_min": 0.03, "lambda_1se": 0.06,
        "lambda_used": 0.03, "coefficients": final, "formula": formula},
        "deep": {"family": "deep", "selected": [f"deep_{k}" for k in range(1, 7)],
                 "intercept": 0.1, "lambda_min": 0.01, "lambda_1se": 0.02, "lambda_used": 0.02,
                 "funnel": funnel([("candidates", 512, 512), ("mann_whitney", 512, 60),
                                   ("lasso", 60, 6)]),
                 "coefficients": [{"feature": "(Intercept)", "coef": 0.1, "mean": None,
                                   "sd": None}] + [{"feature": f"deep_{k}", "coef": 0.2 * k,
                                                    "mean": 0.0, "sd": 1.0} for k in range(1, 7)],
                 "formula": "DL-score = 0.100 + 0.200 × deep_1 + ... + 1.200 × deep_6"}}
    optimism = []
    for m, *_ in MODELS:
        app = next(r["auc"] for r in perf if r["cohort"] == "development" and r["model"] == m)
        for metric, a, o in (("auc", app, 0.031), ("slope", 1.0, 0.12), ("brier", 0.18, -0.01)):
            optimism.append({"model": m, "metric": metric, "apparent": a, "optimism": o,
                             "corrected": a - o, "n_resamples": 200})
    instability = []
    for m, *_ in MODELS:
        p_app = np.sort(rng.uniform(0.02, 0.98, 60))
        half = rng.uniform(0.02, 0.25, 60)
        instability += [{"model": m, "patient_index": i, "apparent": float(p),
                         "p_low": float(max(p - h, 0.0)), "p_high": float(min(p + h, 1.0)),
                         "mape": float(h / 2)} for i, (p, h) in enumerate(zip(p_app, half,
                                                                              strict=True))]
    km, surv = [], []
    if survival:
        for cname, _r, _n in COHORTS[2:]:
            for grp, rate in (("low risk", 0.02), ("high risk", 0.06)):
                times = np.sort(rng.exponential(1 / rate, 40))
                at = 40
                s = 1.0
                km.append({"cohort": cname, "group": grp, "time": 0.0, "survival": 1.0,
                           "at_risk": 40, "n_event": 0, "n_censor": 0, "std_err": 0.0,
                           "ci_low": 1.0, "ci_high": 1.0})
                for t in times[times < 60]:
                    s *= (at - 1) / at
                    at -= 1
                    km.append({"cohort": cname, "group": grp, "time": float(t),
                               "survival": s, "at_risk": at, "n_event": 1, "n_censor": 0,
                               "std_err": 0.05, "ci_low": max(0.0, s - 0.1),
                               "ci_high": min(1.0, s + 0.1)})
            surv.append({"cohort": cname, "model": "nomogram", "n": 80, "events": 30,
                         "logrank_statistic": 9.1, "logrank_p": 0.0026, "hr": 2.4,
                         "hr_ci_low": 1.35, "hr_ci_high": 4.3, "cox_p": 0.003, "c_index": 0.66,
                         "undefined_reason": None})
    params = ("imageType:\n  Original: {}\n  Wavelet: {}\nsetting:\n  binWidth: 25\n"
              "  resampledPixelSpacing: [1, 1, 1]\n  interpolator: sitkBSpline\n"
              "  normalize: false\n  resegmentRange: [-150, 250]\n  label: 1\n"
              "  force2D: false\nfeatureClass:\n  firstorder: []\n  glcm: []\n  shape: []\n")
    results: dict[str, Any] = {
        "schema_version": "1", "radval_version": "0.1.0", "created": "2026-11-28T00:00:00Z",
        "provenance": {"versions": {"python": "3.11.2", "radval": "0.1.0", "numpy": np.__version__,
                                    "pyradiomics": "3.0.1"}, "seed": seed,
                       "input_sha256": {"manifest": "ab" * 32}, "study": STUDY},
        "study": {"name": "Synthetic LN-metastasis study", "outcome": "ln_metastasis",
                  "positive_label": "1", "prediction_moment": "pre-operative",
                  "definition": "pN+ at pathology", "development_cohort": "development",
                  "signature_model": "nomogram",
                  "question": "Does a CT radiomics + deep-learning signature predict lymph-node "
                              "metastasis before surgery?"},
        "cohorts": [{"name": c, "role": r,
                     "n": int((clin.cohort == c).sum()),
                     "events": int(clin[clin.cohort == c].y.sum()),
                     "prevalence": float(clin[clin.cohort == c].y.mean()),
                     "n_excluded": 3} for c, r, _ in COHORTS],
        "patient_flow": [rec for c, _r, n in COHORTS for rec in (
            {"cohort": c, "stage": "manifest", "n": n + 3, "reason": None},
            {"cohort": c, "stage": "extraction_failed", "n": 2, "reason": "empty mask"},
            {"cohort": c, "stage": "missing_clinical", "n": 1, "reason": "no outcome"},
            {"cohort": c, "stage": "analysed", "n": n, "reason": None})],
        "warnings": [{"code": "SMALL_SAMPLE", "message": "external_2 has fewer than 100 events",
                      "context": {"cohort": "external_2"}},
                     {"code": "POSTOP_PREDICTOR",
                      "message": "vascular_invasion is known only after surgery",
                      "context": {}}],
        "sample_size": {"n": 160, "events": 61, "candidate_predictors": 10, "epp": 6.1,
                        "riley": {"n_required": 310}, "ok": False},
        "baseline": _records(base),
        "selection": selection,
        "models": [{"name": m, "label": lab, "kind": k, "predictors": [], "cutoff": cut[m],
                    "coefficients": []} for m, lab, k, _ in MODELS],
        "cutoffs": dict(cut), "bundle": {"path": "bundle", "kind": "bundle"},
        "methods": {"auc_ci": "DeLong", "missing_data": "complete-case analysis"},
        "performance": perf, "threshold_metrics": thr_rows, "comparisons": comps,
        "calibration": cal,
        "curves": {"roc": roc, "roc_band": band, "calibration_grouped": calg,
                   "calibration_smooth": cals, "decision": dec},
        "optimism": optimism, "subgroups": subg, "heterogeneity": het,
        "stability": {"selection_frequency": [
            {"family": "radiomics", "feature": f, "frequency": q, "count": int(200 * q)}
            for f, q in zip(feats, rng.uniform(size=len(feats)).tolist())],
            "selection_size": [{"family": "radiomics", "mean": 4.2, "median": 4.0, "min": 2,
                                "max": 8},
                               {"family": "deep", "mean": 1.5, "median": 1.0, "min": 1,
                                "max": 3}],
            "prediction_instability": instability, "n_resamples": 200, "n_failed": 0},
        "internal_validation": {"method": "Harrell bootstrap optimism (rms validate)",
                                "deep_training": None,
                                "n_resamples": 200, "n_failed": 0, "refitted": [
            "feature selection of radiomics, deep (...)", "every model: ...",
            "deep network (trained again on each resample)"], "not_refitted": []},
        # shapes as written by radval.models.pipeline (nomogram_points, _extraction_record)
        "nomogram": {"predictors": [
            {"name": "Signature", "column": "combined", "kind": "numeric", "coef": 1.1,
             "ticks": [{"value": v, "points": p} for v, p in
                       zip([-2, -1, 0, 1, 2, 3], [0, 20, 40, 60, 80, 100])],
             "max_points": 100},
            {"name": "tumour_size_mm", "column": "tumour_size_mm", "kind": "numeric",
             "coef": 0.02, "ticks": [{"value": v, "points": p} for v, p in
                                     zip([10, 20, 30, 40, 50], [0, 8, 16, 24, 32])],
             "max_points": 32},
            {"name": "grade", "column": "grade", "kind": "categorical", "coef": None,
             "ticks": [{"value": v, "points": p} for v, p in
                       zip(["G1", "G2", "G3"], [0, 12, 25])], "max_points": 25}],
            "total_points": [{"points": p, "probability": q} for p, q in
                             zip([22, 63, 87, 111, 152], [0.1, 0.3, 0.5, 0.7, 0.9])],
            "total_points_max": 157, "points_per_unit_lp": 20.0, "lp_at_zero_points": -3.2,
            "intercept": -1.0, "formula": "probability = 1 / (1 + exp(-(lp)))"},
        "extraction": {"radiomics": {"pyradiomics_version": "3.0.1", "params_yaml": params,
                                     "params_file": "ct.yaml", "params_sha256": "cd" * 32,
                                     "n_cases": 406, "n_failed_rows": 6},
                       "deep": {"config": {"architecture": "cnn3d_small", "crop_size": 32},
                                "weights_sha256": "ef" * 32}},
        "missing": [{"cohort": c, "variable": "grade", "missing": 2, "n": n, "fraction": 2 / n}
                    for c, _r, n in COHORTS],
    }
    base_rows = _records(base)
    outcome_rows = _records(baseline_table(clin.rename(columns={"y": "ln_metastasis"}),
                                           variables=["ln_metastasis"],
                                           categorical=["ln_metastasis"], overall=False))
    results["baseline"] = base_rows + outcome_rows
    if labels:
        results["labels"] = LABELS
    if survival:
        results["survival"] = {"model": "nomogram", "cutoff": 0.4,
                               "hr_per": "1 unit of the signature score", "km": km,
                               "summary": surv}
    for k in ("performance", "threshold_metrics", "comparisons", "calibration", "subgroups"):
        results[k] = _records(pd.DataFrame(results[k]))
    return results, pred


def make_run_dir(tmp_path: Path, *, minimal: bool = False, seed: int = 7,
                 labels: bool = False) -> Path:
    """Write a run directory under ``tmp_path`` and return it.

    ``minimal=True`` writes a site-validation-like run: one external cohort,
    one model, no selection, baseline, survival, nomogram or comparisons.
    """
    results, pred = make_results(seed, survival=not minimal, labels=labels)
    if minimal:
        keep = "external_1"
        results = {k: v for k, v in results.items() if k in (
            "schema_version", "radval_version", "created", "provenance", "study", "cohorts",
            "performance", "threshold_metrics", "calibration", "curves", "models",
            "patient_flow", "warnings", "cutoffs", "extraction", "methods")}
        results.update(comparisons=[], subgroups=[], heterogeneity=[], warnings=[],
                       cutoffs={"radiomics": 0.4},
                       bundle={"path": None, "kind": "bundle (validated)"})
        results["patient_flow"] = [r for r in results["patient_flow"] if r["cohort"] == keep]
        results["cohorts"] = [c for c in results["cohorts"] if c["name"] == keep]
        results["models"] = [m for m in results["models"] if m["name"] == "radiomics"]
        for k in ("performance", "threshold_metrics", "calibration"):
            results[k] = [r for r in results[k] if r["cohort"] == keep
                          and r["model"] == "radiomics"]
        results["curves"] = {k: [r for r in v if r["cohort"] == keep and r["model"] == "radiomics"]
                             for k, v in results["curves"].items()}
        pred = pred[(pred.cohort == keep) & (pred.model == "radiomics")]
    from radval.workflow._outputs import RunFolder

    run = Path(tmp_path) / ("run_minimal" if minimal else "run_labelled" if labels else "run")
    run.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(run)
    stage = folder.stage()
    (stage / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False))
    pred.to_parquet(stage / "predictions.parquet", index=False)
    folder.commit(stage, steps=["validate"] if minimal else ["select", "fit", "evaluate"])
    return run
