"""ComBat harmonisation of the imaging features inside the study workflow.

With ``harmonisation: {method: combat, batch: <column>, covariates: [...], reference:
<batch>}`` in the study file:

1. every analysed patient gets a batch label from the ``batch`` column of the clinical
   table (or, when the clinical table has no such column, of the manifest; the primary
   segmentation's row);
2. the development cohort is checked (at least two batches, none with one patient, the
   reference among them, covariates present, complete and not constant within a batch)
   and the association between batch and outcome is tested
   (:func:`radval.harmonize.batch_outcome_association`): when they are associated ComBat
   removes real signal together with the scanner effect, which is flagged
   (``BATCH_OUTCOME_ASSOCIATION``) with the test statistic;
3. :class:`radval.harmonize.ComBat` is fitted on the raw features of every enabled
   family of the development cohort (jointly: the empirical-Bayes priors borrow
   strength across all features) and applied to every cohort before feature selection,
   so the selection, the scores and the models see harmonised features.  Patients of a
   batch seen in development get its frozen parameters; a batch never seen in
   development (e.g. an external centre in the study) is harmonised from its own feature
   distribution with the development reference (:meth:`ComBat.transform`);
4. the batch separability (cross-validated AUC of predicting the batch from the
   features, :func:`radval.harmonize.batch_separability`) is reported before and after,
   in the development cohort and over all analysed patients, with principal-component
   coordinates for the plot;
5. in every optimism resample ComBat is fitted again on the resample
   (:func:`resample_features`), so the optimism includes the harmonisation;
6. the fitted parameters go into the bundle (:func:`bundle_spec`), and a site applies
   them (:func:`harmonise_site`); the dataset-shift diagnostics are reported before and
   after.

The outcome is never a ComBat covariate (the study file refuses it): it would leak into
every feature.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval.exceptions import ConfigError, DataError, HarmonizationWarning, RadvalWarning
from radval.models.guards import flag
from radval.workflow._study import HarmonisationConfig, StudyConfig

__all__ = ["HarmonisationState", "add_diagnostics", "batch_labels", "bundle_spec",
           "harmonise_data",
           "harmonise_site", "methods_sentence", "resample_features"]

logger = logging.getLogger("radval.pipeline")

#: Fewest patients of an unseen batch harmonised without a warning (ComBat's default).
MIN_UNSEEN = 20


@dataclass
class HarmonisationState:
    """The development harmonisation and what the optimism resamples need to repeat it.

    Attributes
    ----------
    config : HarmonisationConfig
    batch : Series
        Batch label (str) of every analysed patient (index ``patient_id``).
    covariates : DataFrame or None
        ComBat covariates of every analysed patient.
    raw : dict
        Family -> raw (unharmonised) features of every analysed patient.
    combat : ComBat
        Fitted on the development cohort.
    columns : dict
        Family -> harmonised columns (all the family's analysed features).
    record : dict
        The ``harmonisation`` block of results.json.
    """

    config: HarmonisationConfig
    batch: pd.Series
    covariates: pd.DataFrame | None
    raw: dict[str, pd.DataFrame]
    combat: Any
    columns: dict[str, list[str]]
    record: dict[str, Any] = field(default_factory=dict)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip() or None


def batch_labels(study: StudyConfig, patients: pd.DataFrame,
                 manifest: pd.DataFrame | None = None) -> tuple[pd.Series, str]:
    """The batch label of every analysed patient and where it came from.

    Returns
    -------
    (Series, str)
        Labels (str; index of ``patients``; a missing label outside the development
        cohort becomes ``"<cohort> (unlabelled)"``, a batch never seen in development)
        and ``"clinical table"`` or ``"manifest"``.

    Raises
    ------
    ConfigError
        The column is in neither table.
    DataError
        A development patient without a label.
    """
    col = str(study.harmonisation.batch)
    if col in patients.columns:
        raw, source = patients[col], "clinical table"
    elif manifest is not None and col in manifest.columns:
        from radval.io.coding import primary_rows

        man = primary_rows(manifest.assign(patient_id=manifest["patient_id"].astype(str)))
        raw = man.set_index("patient_id")[col].reindex(patients.index.astype(str))
        raw.index = patients.index
        source = "manifest"
    else:
        known = sorted(map(str, patients.columns))
        mcols = sorted(map(str, manifest.columns)) if manifest is not None else []
        raise ConfigError(f"harmonisation.batch: column {col!r} is in neither the clinical "
                          f"table (columns: {known}) nor the manifest"
                          + (f" (columns: {mcols})" if manifest is not None else
                             " (no manifest: the study names an extracted features table)"))
    labels = raw.map(_text)
    dev = (patients["cohort"] == study.development).to_numpy()
    miss = labels.isna().to_numpy()
    if (miss & dev).any():
        ids = list(patients.index[miss & dev].astype(str))
        raise DataError(f"harmonisation.batch: {int((miss & dev).sum())} development patient(s) "
                        f"have no {col!r} ({', '.join(ids[:10])}); every development patient "
                        "needs its batch")
    if miss.any():
        labels[miss] = patients.loc[miss, "cohort"].astype(str) + " (unlabelled)"
    return labels.astype(str), source


def _covariates(study: StudyConfig, patients: pd.DataFrame) -> pd.DataFrame | None:
    names = list(study.harmonisation.covariates)
    if not names:
        return None
    absent = [c for c in names if c not in patients.columns]
    if absent:
        raise ConfigError(f"harmonisation.covariates: {absent} are not columns of the clinical "
                          f"table (columns: {sorted(map(str, patients.columns))})")
    cov = patients[names].copy()
    na = cov.isna().any(axis=1).to_numpy()
    if na.any():
        ids = list(patients.index[na].astype(str))
        raise DataError(f"harmonisation.covariates: {int(na.sum())} analysed patient(s) miss a "
                        f"covariate ({', '.join(ids[:10])}); ComBat needs complete covariates "
                        "(impute them upstream or remove them from the covariates)")
    return cov


def check_development(study: StudyConfig, batch: pd.Series, cov: pd.DataFrame | None
                      ) -> None:
    """The development cohort's batches and covariates can be harmonised.

    Raises
    ------
    DataError
        Fewer than two batches, a batch with one patient, a covariate constant within a
        batch.
    ConfigError
        A reference batch that is not a development batch.
    """
    cfg = study.harmonisation
    counts = batch.value_counts()
    if len(counts) < 2:
        raise DataError(f"harmonisation: the development cohort {study.development!r} has one "
                        f"batch ({list(counts.index)}) in column {cfg.batch!r}; ComBat needs "
                        "at least two development batches")
    ones = sorted(counts[counts < 2].index)
    if ones:
        raise DataError(f"harmonisation: batch(es) {ones} of column {cfg.batch!r} have a single "
                        f"patient in the development cohort {study.development!r}; a batch "
                        "of one patient has no variance to estimate its scanner effect "
                        "(merge it with a similar batch or leave it out)")
    if cfg.reference is not None and cfg.reference not in set(counts.index):
        raise ConfigError(f"harmonisation.reference: {cfg.reference!r} is not a batch of the "
                          f"development cohort (batches: {sorted(counts.index)})")
    if cov is None:
        return
    for name in cov.columns:
        for b in sorted(counts.index):
            vals = cov.loc[(batch == b).to_numpy(), name]
            if vals.nunique(dropna=True) < 2:
                raise DataError(
                    f"harmonisation.covariates: {name!r} is constant within batch {b!r} of "
                    "the development cohort; its effect cannot be separated from that "
                    "batch's scanner effect (ComBat's design is singular when this holds in "
                    "every batch, and otherwise extrapolated); remove it from the covariates")


def _combat(cfg: HarmonisationConfig) -> Any:
    from radval.harmonize import ComBat

    return ComBat(parametric=cfg.parametric, empirical_bayes=cfg.empirical_bayes,
                  mean_only=cfg.mean_only, reference_batch=cfg.reference,
                  min_unseen_size=MIN_UNSEEN)


def _joined(features: Mapping[str, pd.DataFrame], columns: Mapping[str, list[str]]
            ) -> pd.DataFrame:
    return pd.concat([features[f][cols] for f, cols in columns.items()], axis=1)


def slice_combat(cb: Any, columns: list[str]) -> Any:
    """A fitted ComBat restricted to ``columns`` (a subset of its features, any order).

    Exact for patients of batches seen in fit (each feature is adjusted with its own
    parameters); for an unseen batch the priors are then estimated over ``columns``.
    """
    from radval.harmonize import ComBat

    d = cb.to_dict()
    names = list(d["feature_names"] or [])
    pos = {n: i for i, n in enumerate(names)}
    idx = [pos[c] for c in columns]
    d["feature_names"] = list(columns)
    d["n_features"] = len(columns)
    for key in ("adjusted", "grand_mean", "var_pooled"):
        d[key] = [d[key][i] for i in idx]
    for key in ("covariate_coef", "gamma_hat", "delta_hat", "gamma_star", "delta_star"):
        d[key] = [[row[i] for i in idx] for row in d[key]]
    return ComBat.from_dict(d)


def harmonise_data(study: StudyConfig, data: Any, *,
                   manifest: pd.DataFrame | None = None) -> Any:
    """Fit ComBat on the development cohort and harmonise every cohort of ``data``.

    Returns a new :class:`~radval.workflow._cohort.AnalysisData` whose features (and
    second-reader features) are harmonised, with ``harmonisation`` holding the state
    and the diagnostics; the raw features stay in the state.  Flags go to ``warnings``.
    """
    from radval.harmonize import batch_outcome_association
    from radval.workflow._cohort import AnalysisData

    cfg = study.harmonisation
    if cfg.method != "combat":
        return data
    batch, source = batch_labels(study, data.patients, manifest)
    cov = _covariates(study, data.patients)
    dev = data.cohort_mask(study.development)
    check_development(study, batch[dev], None if cov is None else cov.loc[dev])
    columns = {f: list(v.columns) for f, v in data.features.items()}
    raw = _joined(data.features, columns)
    flags: list[dict[str, Any]] = []
    y_dev = data.patients["y"].to_numpy(dtype=np.int64)[dev]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        assoc = batch_outcome_association(batch[dev].to_numpy(), y_dev)
    if assoc.associated:
        msg = (f"batch ({cfg.batch}) and outcome are associated in the development cohort "
               f"({assoc.method}, statistic {assoc.statistic:.3g}, df {assoc.df}, p = "
               f"{assoc.p_value:.3g}, Cramer's V {assoc.cramers_v:.2f}): ComBat removes part "
               "of the outcome signal together with the scanner effect")
        warnings.warn(msg, HarmonizationWarning, stacklevel=2)
        logger.warning("%s", msg)
        flags.append(flag("BATCH_OUTCOME_ASSOCIATION", msg, method=assoc.method,
                          statistic=assoc.statistic, df=assoc.df, p_value=assoc.p_value,
                          cramers_v=assoc.cramers_v))
    cb = _combat(cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HarmonizationWarning)
        cb.fit(raw.loc[dev], batch[dev].to_numpy(),
               None if cov is None else cov.loc[dev])
        harm = cb.transform(raw, batch.to_numpy(), cov)
    for w in caught:
        if issubclass(w.category, HarmonizationWarning):
            flags.append(flag("HARMONISATION", str(w.message)))
    features = {f: harm[cols] for f, cols in columns.items()}
    readers = {f: _harmonise_readers(cb, r, batch, cov, columns[f])
               for f, r in data.reader_features.items()}
    seen = set(cb.batches_)
    batches = []
    for c in study.cohorts:
        m = data.cohort_mask(c.name)
        for b, n in batch[m].value_counts().sort_index().items():
            batches.append({"cohort": c.name, "batch": str(b), "n": int(n),
                            "in_development": str(b) in seen})
    record = {
        "method": "combat", "batch": cfg.batch, "batch_source": source,
        "covariates": list(cfg.covariates), "reference": cfg.reference,
        "parametric": cfg.parametric, "empirical_bayes": cfg.empirical_bayes,
        "mean_only": cfg.mean_only, "n_features": int(raw.shape[1]),
        "n_not_adjusted": int((~cb.adjusted_).sum()), "batches": batches,
        "separability": [], "pca": [],
        "batch_outcome": {"method": assoc.method, "statistic": assoc.statistic,
                          "df": assoc.df, "p_value": assoc.p_value,
                          "cramers_v": assoc.cramers_v, "min_expected": assoc.min_expected,
                          "associated": assoc.associated, "alpha": assoc.alpha,
                          "table": assoc.table.to_dict(orient="records")},
    }
    state = HarmonisationState(config=cfg, batch=batch, covariates=cov,
                               raw=dict(data.features), combat=cb, columns=columns,
                               record=record)
    unseen = sorted({str(r["batch"]) for r in batches if not r["in_development"]})
    logger.info("harmonisation: ComBat on %d features, development batches %s%s",
                raw.shape[1], sorted(seen),
                f"; batches harmonised as new sites: {unseen}" if unseen else "")
    return AnalysisData(patients=data.patients, features=features, reader_features=readers,
                        flow=data.flow, warnings=list(data.warnings) + flags,
                        missing=data.missing, extraction=data.extraction,
                        outcome_labels=data.outcome_labels, completed=data.completed,
                        harmonisation=state)


def add_diagnostics(study: StudyConfig, data: Any) -> None:
    """Batch separability before and after harmonisation (``record["separability"]``,
    ``record["pca"]``): in the development cohort and over all analysed patients.

    Separate from :func:`harmonise_data` because it takes seconds (a cross-validated
    classifier on every feature) and only the evaluation reports it.
    """
    from radval._rng import stable_rng

    st: HarmonisationState | None = data.harmonisation
    if st is None or st.record.get("separability"):
        return
    raw = _joined(st.raw, st.columns)
    harm = _joined(data.features, st.columns)
    dev = data.cohort_mask(study.development)
    seed = int(stable_rng(study.seed, "harmonisation", "separability").integers(0, 2**31 - 1))
    sep, pca = _separability(raw, harm, st.batch, dev, data.patients["cohort"], seed)
    st.record["separability"] = sep
    st.record["pca"] = pca


def _harmonise_readers(cb: Any, frame: pd.DataFrame | None, batch: pd.Series,
                       cov: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame | None:
    """Second-reader rows (index patient_id) harmonised with their patient's batch."""
    if frame is None or frame.empty:
        return frame
    sub = slice_combat(cb, columns)
    ids = frame.index.astype(str)
    b = batch.reindex(ids).to_numpy()
    c = None if cov is None else cov.reindex(ids).reset_index(drop=True)
    out = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        out[columns] = sub.transform(frame[columns].reset_index(drop=True), b, c).to_numpy()
    return out


def _separability(raw: pd.DataFrame, harm: pd.DataFrame, batch: pd.Series,
                  dev: npt.NDArray[np.bool_], cohort: pd.Series, seed: int
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from radval.harmonize import batch_separability

    rows: list[dict[str, Any]] = []
    pca: list[dict[str, Any]] = []
    counts_all = batch.value_counts()
    scopes = [("development", dev)]
    if (~dev).any() and (counts_all >= 2).all():
        scopes.append(("all_cohorts", np.ones(len(batch), dtype=bool)))
    for scope, mask in scopes:
        for stage, x in (("before", raw), ("after", harm)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = batch_separability(x.loc[mask], batch[mask].to_numpy(), rng=seed)
            rows.append({"scope": scope, "stage": stage, "auc": r.auc,
                         "fraction_significant": r.fraction_significant,
                         "median_kruskal_h": r.median_kruskal_h, "n_samples": r.n_samples,
                         "n_features": r.n_features, "n_batches": r.n_batches})
            if scope == scopes[-1][0]:
                coh = cohort[mask].astype(str).to_numpy()
                for i, rec in enumerate(r.pca.to_dict(orient="records")):
                    pca.append({"scope": scope, "stage": stage, "batch": str(rec["batch"]),
                                "cohort": coh[i], "pc1": float(rec["pc1"]),
                                "pc2": float(rec.get("pc2", math.nan))})
    return rows, pca


def resample_features(data: Any, test_features: dict[str, pd.DataFrame],
                      reader_features: dict[str, pd.DataFrame | None],
                      idx: npt.NDArray[np.int64], refit: set[str]
                      ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame | None]]:
    """Fit ComBat on one optimism resample and harmonise the original development cohort.

    ``data`` is the development cohort (its ``harmonisation`` state holds the raw
    features of every harmonised column); ``test_features`` / ``reader_features`` are
    what the resample sees, raw for the families in ``refit`` (e.g. the features of a
    network trained on the resample).  ComBat is fitted on the resample's rows ``idx``
    (all harmonised columns, as in development) and applied to the original patients;
    the resample's own rows are the harmonised originals at ``idx`` (a seen batch is
    adjusted patient by patient).  A batch drawn fewer than twice is left out of the fit
    and its patients harmonised as a new batch.

    Returns the harmonised ``test_features`` (their columns kept) and reader features.
    """
    st: HarmonisationState = data.harmonisation
    ids = data.patients.index
    raw_fams = {}
    for fam, cols in st.columns.items():
        if fam in refit:
            raw_fams[fam] = test_features[fam]
        else:
            raw_fams[fam] = st.raw[fam].loc[ids, cols]
    columns = {f: list(v.columns) for f, v in raw_fams.items()}
    raw = _joined(raw_fams, columns)
    batch = st.batch.loc[ids]
    cov = None if st.covariates is None else st.covariates.loc[ids]
    b_res = batch.to_numpy()[idx]
    counts = pd.Series(b_res).value_counts()
    keep = np.isin(b_res, counts[counts >= 2].index)
    cb = _combat(st.config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        cb.fit(raw.iloc[idx[keep]], b_res[keep],
               None if cov is None else cov.iloc[idx[keep]])
        harm = cb.transform(raw, batch.to_numpy(), cov)
    out = {fam: harm.loc[:, list(f.columns)] for fam, f in test_features.items()
           if fam in columns}
    out.update({fam: f for fam, f in test_features.items() if fam not in columns})
    readers = dict(reader_features)
    for fam in refit:
        if readers.get(fam) is not None:
            readers[fam] = _harmonise_readers(cb, readers[fam], batch, cov, columns[fam])
    return out, readers


def methods_sentence(study: StudyConfig) -> str | None:
    """``methods.harmonisation`` of results.json."""
    cfg = study.harmonisation
    if cfg.method != "combat":
        return None
    ref = f"reference batch {cfg.reference}" if cfg.reference else \
        "mapped to the size-weighted average batch"
    cov = f", preserving {', '.join(cfg.covariates)}" if cfg.covariates else ""
    return (f"ComBat ({'parametric' if cfg.parametric else 'non-parametric'} "
            f"{'empirical Bayes' if cfg.empirical_bayes else 'without shrinkage'}"
            f"{', location only' if cfg.mean_only else ''}) on batch column {cfg.batch}, "
            f"{ref}{cov}; fitted on the development cohort before feature selection, "
            "applied to every cohort (unseen batches from their own feature distribution), "
            "refitted in every optimism resample and frozen into the bundle")


# -------------------------------------------------------------------- bundle and site
def bundle_spec(data: Any) -> dict[str, Any] | None:
    """The bundle's harmonisation entry: batch column, covariates and the fitted ComBat."""
    st: HarmonisationState | None = data.harmonisation
    if st is None:
        return None
    return {"method": "combat", "batch_column": st.config.batch,
            "covariates": list(st.config.covariates), "reference": st.config.reference,
            "min_unseen_size": MIN_UNSEEN, "combat": st.combat.to_dict()}


@dataclass
class SiteHarmonisation:
    """What :func:`harmonise_site` did at a site."""

    features: pd.DataFrame
    keep: npt.NDArray[np.bool_]
    record: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def harmonise_site(spec: Mapping[str, Any], features: pd.DataFrame,
                   clinical: pd.DataFrame, *, manifest: pd.DataFrame | None = None,
                   site: str = "site") -> SiteHarmonisation:
    """Apply the bundle's frozen ComBat to a site's features.

    Parameters
    ----------
    spec : mapping
        The bundle's ``harmonisation`` entry (:func:`bundle_spec`).
    features : DataFrame
        The site's analysed patients: ``patient_id`` and feature columns (raw).
    clinical : DataFrame
        The site's clinical table (batch labels, covariates).
    manifest : DataFrame, optional
        The site's manifest (batch labels when the clinical table has none).
    site : str
        Label of the site's batch when neither table has the batch column.

    Returns
    -------
    SiteHarmonisation
        Harmonised features (the harmonisable columns replaced), the patients kept (those
        with complete covariates), the ``harmonisation.site`` record and warnings.

    Raises
    ------
    InputError
        A batch never seen in development with a single patient (raised by ComBat).

    Notes
    -----
    The site's patients of a development batch get that batch's frozen parameters; the
    others form a new batch whose location and scale are estimated from the site's own
    features with the empirical-Bayes model of ComBat (features as replicates), over
    every harmonised feature the site has complete.  No outcome is used.  With fewer
    than 20 patients in such a batch a warning is issued (the estimates are unstable).
    """
    from radval.harmonize import ComBat

    cb_full = ComBat.from_dict(spec["combat"])
    col = str(spec.get("batch_column") or "")
    ids = features["patient_id"].astype(str)
    clin = clinical.assign(patient_id=clinical["patient_id"].astype(str)).drop_duplicates(
        "patient_id").set_index("patient_id")
    if col and col in clin.columns:
        labels, source = clin[col].reindex(ids).map(_text), "clinical table"
    elif col and manifest is not None and col in manifest.columns:
        from radval.io.coding import primary_rows

        man = primary_rows(manifest.assign(patient_id=manifest["patient_id"].astype(str)))
        labels, source = man.set_index("patient_id")[col].reindex(ids).map(_text), "manifest"
    else:
        labels, source = pd.Series([None] * len(ids), index=ids), "site label"
    label_arr = labels.fillna(site).astype(str).to_numpy()
    covs = list(spec.get("covariates") or [])
    keep = np.ones(len(ids), dtype=bool)
    cov = None
    if covs:
        absent = [c for c in covs if c not in clin.columns]
        if absent:
            raise DataError(f"the bundle harmonises with covariates {covs}; the site's clinical "
                            f"table lacks {absent}")
        cov = clin[covs].reindex(ids)
        keep = ~cov.isna().any(axis=1).to_numpy()
    names = list(cb_full.feature_names_ or [])
    present = [c for c in names if c in features.columns]
    vals = features.loc[keep, present].apply(pd.to_numeric, errors="coerce")
    finite = [c for c, ok in zip(present, np.isfinite(vals.to_numpy(dtype=float)).all(axis=0),
                                 strict=True) if ok]
    cb = slice_combat(cb_full, finite)
    out = features.copy()
    caught_records: list[dict[str, Any]] = []
    if keep.any() and finite:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", HarmonizationWarning)
            harm = cb.transform(vals[finite].reset_index(drop=True), label_arr[keep],
                                None if cov is None else cov.loc[keep].reset_index(drop=True))
        out.loc[keep, finite] = harm.to_numpy()
        for w in caught:
            if issubclass(w.category, HarmonizationWarning):
                caught_records.append({"code": "HARMONISATION", "message": str(w.message),
                                       "context": {}})
                warnings.warn(str(w.message), HarmonizationWarning, stacklevel=2)
    seen = set(map(str, cb_full.batches_))
    batches = [{"batch": str(b), "n": int(n), "seen": str(b) in seen}
               for b, n in pd.Series(label_arr[keep]).value_counts().sort_index().items()]
    record = {"batch_column": col or None, "label_source": source, "batches": batches,
              "n_harmonised": int(keep.sum()), "n_features": len(finite),
              "n_features_bundle": len(names)}
    return SiteHarmonisation(features=out, keep=keep, record=record,
                             warnings=caught_records)


def manifest_of(study: StudyConfig) -> pd.DataFrame | None:
    """The study's manifest (for batch labels kept there), or None."""
    p = study.path(study.manifest)
    if p is None or not Path(p).is_file():
        return None
    from radval.io.manifest import read_manifest

    return read_manifest(p)
