"""ComBat batch harmonisation, fitted once and applied unchanged to new patients and sites.

Equal to R ``sva::ComBat`` (sva 3.46) and to ``neuroCombat`` on the data it is fitted
on; adds what both lack for prediction-model validation: ``transform`` of new patients
with frozen parameters, harmonisation of a site never seen in development, and a JSON
form of the fitted parameters (no patient rows) for the signature bundle.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import check_choice, check_positive_int, param_error
from radval.exceptions import (
    DataError,
    HarmonizationWarning,
    InputError,
    NotFittedError,
)
from radval.harmonize._eb import BatchEstimates, estimate_batch

__all__ = ["ComBat"]

FloatArray = npt.NDArray[np.float64]
_FORMAT = "radval.harmonize.ComBat"
_FORMAT_VERSION = 1


def _features(x: Any, caller: str) -> tuple[FloatArray, list[str] | None]:
    names = [str(c) for c in x.columns] if isinstance(x, pd.DataFrame) else None
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise param_error("features", caller, "a numeric samples x features table", x) from exc
    if arr.ndim != 2:
        raise param_error("features", caller, "2-d (samples x features)",
                          f"an array of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise param_error("features", caller, "non-empty", f"shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        col = names[j] if names is not None else j
        raise param_error("features", caller, "free of NaN and infinity (impute or drop "
                          "first; ComBat needs complete features)",
                          f"{int(bad.sum())} non-finite value(s), e.g. row {i}, feature {col!r}")
    return arr, names


def _batch(batch: Any, n: int, caller: str) -> npt.NDArray[Any]:
    if isinstance(batch, str) or batch is None or np.ndim(batch) == 0:
        raise param_error("batch", caller, "an array of batch labels, one per row of "
                          "'features'", batch)
    arr = np.asarray(batch, dtype=object).ravel()
    if arr.size != n:
        msg = (f"The 'batch' parameter of {caller} must have one label per row of 'features'. "
               f"Got {arr.size} labels for {n} rows instead.")
        raise InputError(msg)
    missing = pd.isna(arr)
    if missing.any():
        raise param_error("batch", caller, "free of missing labels",
                          f"{int(missing.sum())} missing label(s)")
    return arr


def _covariate_frame(covariates: Any, n: int, caller: str) -> pd.DataFrame | None:
    if covariates is None:
        return None
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if not isinstance(covariates, pd.DataFrame):
        arr = np.asarray(covariates, dtype=np.float64)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        covariates = pd.DataFrame(arr, columns=[f"covariate_{j}" for j in range(arr.shape[1])])
    if len(covariates) != n:
        msg = (f"The 'covariates' parameter of {caller} must have one row per row of "
               f"'features'. Got {len(covariates)} rows for {n} instead.")
        raise InputError(msg)
    na = covariates.isna().any()
    if na.any():
        raise param_error("covariates", caller, "complete (no missing values)",
                          f"missing values in {list(na[na].index)}")
    return covariates.reset_index(drop=True)


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


class ComBat:
    """ComBat harmonisation of features across batches (scanners, sites, protocols).

    Parameters
    ----------
    parametric : bool, optional
        Parametric empirical-Bayes priors (normal for the location, inverse gamma for
        the scale; sva ``par.prior = TRUE``) or non-parametric (``FALSE``).
    empirical_bayes : bool, optional
        Shrink the per-batch estimates towards their priors (default).  ``False`` uses
        each batch's own least-squares location and scale (neuroCombat ``eb=False``).
    mean_only : bool, optional
        Adjust the location only, not the scale (sva ``mean.only``).
    reference_batch : label, optional
        A batch left unchanged; every other batch is mapped to it (sva ``ref.batch``).
        Without it, batches are mapped to the size-weighted average batch.
    min_unseen_size : int, optional
        A batch not seen in :meth:`fit` with fewer patients than this gets a
        :class:`~radval.exceptions.HarmonizationWarning` (default 20).
    unseen_prior : {"site", "development"}, optional
        Empirical-Bayes prior of a batch not seen in fit (parametric EB only).
        ``"site"`` (default): estimated from the new site's own features, exactly as
        ComBat does for every batch.  ``"development"``: centred on the site's own mean
        location and mean scale, with the dispersions (``t2`` and the coefficient of
        variation of the scales) learned in development, averaged over the development
        batches (reference excluded); more shrinkage for small sites, whose own ``t2``
        is inflated by sampling noise.

    Attributes
    ----------
    batches_ : list
        Batch labels seen in :meth:`fit`, sorted.
    n_per_batch_ : list of int
    feature_names_ : list of str or None
    grand_mean_, var_pooled_ : ndarray, shape (p,)
        Reference location and pooled residual variance of each feature.
    covariate_coef_ : ndarray, shape (q, p)
        Covariate effects (preserved by the harmonisation).
    gamma_star_, delta_star_ : ndarray, shape (k, p)
        Adjusted additive and multiplicative batch effects (standardised scale).
    gamma_hat_, delta_hat_ : ndarray, shape (k, p)
        The batches' own estimates before shrinkage.
    priors_ : pandas.DataFrame
        Per batch: ``batch, gamma_bar, t2, a_prior, b_prior``.
    adjusted_ : ndarray of bool, shape (p,)
        Features that are harmonised; a feature constant within a batch is passed
        through unchanged, as sva does.

    Notes
    -----
    Model (Johnson et al. 2007; Fortin et al. 2018): for patient :math:`j` of batch
    :math:`i` and feature :math:`g`,
    :math:`y_{ijg} = \\alpha_g + x_{ij}^\\top\\beta_g + \\gamma_{ig} +
    \\delta_{ig}\\varepsilon_{ijg}`, :math:`\\varepsilon \\sim N(0, \\sigma_g^2)`.  Fit:
    least squares on batch indicators and covariates give :math:`\\hat\\alpha_g`
    (size-weighted mean of the batch intercepts, or the reference batch's),
    :math:`\\hat\\beta_g` and :math:`\\hat\\sigma_g^2` (mean squared residual, over the
    reference batch when there is one); standardised data :math:`z = (y - \\hat\\alpha -
    x^\\top\\hat\\beta)/\\hat\\sigma` give per-batch :math:`\\hat\\gamma_{ig}` (mean) and
    :math:`\\hat\\delta_{ig}^2` (variance), which are shrunk by empirical Bayes across
    features to :math:`\\gamma^*, \\delta^*`.  Harmonised:
    :math:`\\hat\\sigma_g (z - \\gamma^*_{ig})/\\delta^*_{ig} + \\hat\\alpha_g +
    x^\\top\\hat\\beta_g`.  The parametric iteration stops with sva's rule (relative
    change below 1e-4, see ``_eb.it_sol``), which is what makes 1e-8 agreement with sva
    possible.

    *New patients of a seen batch* (:meth:`transform`): the training
    :math:`\\hat\\alpha, \\hat\\beta, \\hat\\sigma` and that batch's :math:`\\gamma^*,
    \\delta^*` are applied to the patients' own features and covariates; nothing is
    re-estimated, so each patient is harmonised independently of the others.

    *A batch never seen in fit* (a new external site): its patients are standardised
    with the frozen development :math:`\\hat\\alpha, \\hat\\beta, \\hat\\sigma`; the site's
    own :math:`\\hat\\gamma, \\hat\\delta` are estimated from its feature distribution, the
    priors of the site from its own features (ComBat's priors are per batch, with the
    features as replicates; with ``unseen_prior="development"`` their dispersions come
    from the development batches), and shrunk exactly as in fit.  No outcome is used and no
    feature leaves the site.  With a ``reference_batch`` and no covariates this equals
    what ``sva::ComBat`` would give the new site's rows if it were run on the
    development batches plus the new site with the same reference (the reference
    location and variance depend on the reference batch only).  It assumes:

    * the site's case mix is comparable to development (same covariates, similar
      distribution of everything the covariates do not capture): ComBat attributes any
      systematic difference of the site's feature means to the scanner, so a site with
      sicker patients has real signal removed;
    * enough patients for stable means and variances: below ``min_unseen_size`` (20) a
      warning is issued; a single patient cannot be harmonised (error);
    * the same features and covariates as development, and covariate values inside the
      development range (the covariate effects are extrapolated linearly).

    It is unsafe for very small sites, for sites that recruit a different population
    (e.g. only advanced disease), and when the outcome prevalence at the site differs
    markedly from development while features are associated with the outcome.

    References
    ----------
    .. [1] Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray
       expression data using empirical Bayes methods. Biostatistics. 2007;8(1):118-127.
    .. [2] Fortin JP, Cullen N, Sheline YI, et al. Harmonization of cortical thickness
       measurements across scanners and sites. NeuroImage. 2018;167:104-120.
    .. [3] Orlhac F, Eertink JJ, Cottereau AS, et al. A guide to ComBat harmonization of
       imaging biomarkers in multicenter studies. J Nucl Med. 2022;63(2):172-179.
    .. [4] Leek JT, Johnson WE, Parker HS, et al. sva: Surrogate Variable Analysis.
       R package 3.46 (``ComBat``).

    Examples
    --------
    >>> import numpy as np
    >>> from radval.harmonize import ComBat
    >>> rng = np.random.default_rng(0)
    >>> x = np.vstack([rng.normal(0, 1, (30, 5)), rng.normal(2, 2, (30, 5))])
    >>> site = ["a"] * 30 + ["b"] * 30
    >>> cb = ComBat(reference_batch="a").fit(x, site)
    >>> out = cb.transform(x, site)
    >>> bool(np.array_equal(out[:30], x[:30])), bool(abs(out[30:].mean()) < 0.5)
    (True, True)
    """

    def __init__(self, *, parametric: bool = True, empirical_bayes: bool = True,
                 mean_only: bool = False, reference_batch: Hashable | None = None,
                 min_unseen_size: int = 20, unseen_prior: str = "site") -> None:
        self.parametric = parametric
        self.empirical_bayes = empirical_bayes
        self.mean_only = mean_only
        self.reference_batch = reference_batch
        self.min_unseen_size = min_unseen_size
        self.unseen_prior = unseen_prior

    # ------------------------------------------------------------------ design
    def _check_params(self, caller: str) -> None:
        for name in ("parametric", "empirical_bayes", "mean_only"):
            if not isinstance(getattr(self, name), bool):
                raise param_error(name, caller, "a bool", getattr(self, name))
        check_positive_int(self.min_unseen_size, caller=caller, param="min_unseen_size",
                           minimum=2)
        check_choice(self.unseen_prior, ("site", "development"), caller=caller,
                     param="unseen_prior")

    def _learn_covariates(self, cov: pd.DataFrame | None) -> None:
        self._covariates: list[dict[str, Any]] = []
        if cov is None:
            return
        for name in cov.columns:
            s = cov[name]
            if _is_numeric(s):
                self._covariates.append({"name": str(name), "kind": "numeric"})
            else:
                levels = sorted(pd.unique(s).tolist(), key=lambda v: (str(type(v)), v))
                self._covariates.append({"name": str(name), "kind": "categorical",
                                         "levels": levels})

    def _covariate_design(self, cov: pd.DataFrame | None, n: int, caller: str
                          ) -> tuple[FloatArray, list[str], list[str]]:
        """Covariate columns (treatment coding, first level dropped, as ``model.matrix``)."""
        specs = getattr(self, "_covariates", [])
        if not specs:
            if cov is not None and cov.shape[1] > 0:
                raise param_error("covariates", caller, "None (ComBat was fitted without "
                                  "covariates)", list(cov.columns))
            return np.empty((n, 0)), [], []
        if cov is None:
            raise param_error("covariates", caller, "the covariates used in fit "
                              f"{[c['name'] for c in specs]}", None)
        cols: list[FloatArray] = []
        labels: list[str] = []
        owners: list[str] = []
        for spec in specs:
            name = spec["name"]
            if name not in [str(c) for c in cov.columns]:
                raise param_error("covariates", caller, f"a table with column {name!r}",
                                  list(cov.columns))
            s = cov[[c for c in cov.columns if str(c) == name][0]]
            if spec["kind"] == "numeric":
                if not _is_numeric(s):
                    raise param_error("covariates", caller, f"numeric in column {name!r}",
                                      str(s.dtype))
                cols.append(s.to_numpy(dtype=np.float64))
                labels.append(name)
                owners.append(name)
                continue
            levels = spec["levels"]
            unknown = sorted({str(v) for v in s if v not in levels})
            if unknown:
                raise param_error("covariates", caller, f"levels of {name!r} seen in fit "
                                  f"{levels}", unknown)
            for lev in levels[1:]:
                cols.append((s == lev).to_numpy(dtype=np.float64))
                labels.append(f"{name}[{lev}]")
                owners.append(name)
        return np.column_stack(cols), labels, owners

    def _check_rank(self, batch_design: FloatArray, cov_design: FloatArray,
                    owners: list[str]) -> None:
        design = np.column_stack([batch_design, cov_design])
        if np.linalg.matrix_rank(design) == design.shape[1]:
            return
        k = batch_design.shape[1]
        confounded = []
        for name in dict.fromkeys(owners):
            idx = [k + j for j, o in enumerate(owners) if o == name]
            sub = design[:, list(range(k)) + idx]
            if np.linalg.matrix_rank(sub) < sub.shape[1]:
                confounded.append(name)
        if confounded:
            msg = (f"ComBat's design is singular: covariate(s) {confounded} are confounded "
                   "with batch (constant within every batch, or a function of the batch). "
                   "Remove them from the covariates; their effect cannot be separated from "
                   "the batch effect.")
        else:
            msg = ("ComBat's design is singular: the covariates "
                   f"{list(dict.fromkeys(owners))} are jointly confounded with batch or with "
                   "each other. Remove one or more of them.")
        raise DataError(msg)

    @staticmethod
    def _warn_constant_covariates(cd: FloatArray, owners: list[str], codes: npt.NDArray[Any],
                                  levels: list[Any]) -> None:
        """Warn when a covariate does not vary within some batch (not singular, but its
        effect in that batch is extrapolated from the others)."""
        for name in dict.fromkeys(owners):
            cols = cd[:, [j for j, o in enumerate(owners) if o == name]]
            flat = [levels[i] for i in range(len(levels))
                    if np.all(np.ptp(cols[codes == i], axis=0) == 0)]
            if flat:
                warnings.warn(f"ComBat: covariate {name!r} is constant within batch(es) "
                              f"{flat}; its effect there is estimated from the other batches "
                              "only.", HarmonizationWarning, stacklevel=3)

    # ------------------------------------------------------------------ fit
    def fit(self, features: Any, batch: Any, covariates: Any = None) -> ComBat:
        """Estimate the harmonisation from development data.

        Parameters
        ----------
        features : pandas.DataFrame or array-like, shape (n, p)
            Samples x features, complete (no NaN).
        batch : array-like, shape (n,)
            Batch label of each sample (site, scanner, protocol).
        covariates : pandas.DataFrame or array-like, shape (n, q), optional
            Biological covariates whose effect is preserved (age, sex, ...).  Numeric
            columns enter linearly; other columns (str, category, bool) are coded as
            indicators of every level but the first (sorted).  Never the outcome of a
            prediction model being developed on the harmonised features.

        Returns
        -------
        ComBat
            ``self``, fitted.

        Raises
        ------
        InputError
            NaN features, length mismatches, a batch with one sample, an unknown
            reference batch, fewer than two batches.
        DataError
            Singular design: a covariate confounded with batch (named in the message).
        """
        caller = "ComBat.fit"
        self._check_params(caller)
        x, names = _features(features, caller)
        n, p = x.shape
        b = _batch(batch, n, caller)
        cov = _covariate_frame(covariates, n, caller)
        levels = sorted(pd.unique(b).tolist(), key=lambda v: (str(type(v)), v))
        if len(levels) < 2:
            raise param_error("batch", caller, "at least two batches", levels)
        codes = np.array([levels.index(v) for v in b])
        counts = np.bincount(codes, minlength=len(levels))
        if (counts < 2).any():
            ones = [levels[i] for i in np.flatnonzero(counts < 2)]
            raise param_error("batch", caller, "at least 2 samples in every batch (a batch "
                              "of one sample has no variance to harmonise)",
                              f"batch(es) {ones} with one sample")
        ref: int | None = None
        if self.reference_batch is not None:
            if self.reference_batch not in levels:
                raise param_error("reference_batch", caller, f"one of the batches {levels}",
                                  self.reference_batch)
            ref = levels.index(self.reference_batch)
        k = len(levels)
        bd = np.zeros((n, k))
        bd[np.arange(n), codes] = 1.0
        if ref is not None:
            bd[:, ref] = 1.0
        self._learn_covariates(cov)
        cd, cov_labels, owners = self._covariate_design(cov, n, caller)
        self._check_rank(bd, cd, owners)
        self._warn_constant_covariates(cd, owners, codes, levels)

        # sva leaves features constant within a batch unadjusted (and out of the priors)
        const = np.zeros(p, dtype=bool)
        for i in range(k):
            const |= np.var(x[codes == i], axis=0) == 0
        if const.any():
            shown = [names[j] if names else j for j in np.flatnonzero(const)[:5]]
            warnings.warn(f"ComBat: {int(const.sum())} feature(s) are constant within a batch "
                          f"and are not harmonised (as sva does), e.g. {shown}.",
                          HarmonizationWarning, stacklevel=2)
        keep = ~const
        xk = x[:, keep]

        design = np.column_stack([bd, cd])
        b_hat = np.linalg.solve(design.T @ design, design.T @ xk)
        if ref is not None:
            grand_mean = b_hat[ref]
            rows = codes == ref
            var_pooled = ((xk[rows] - design[rows] @ b_hat) ** 2).mean(axis=0)
        else:
            grand_mean = (counts / n) @ b_hat[:k]
            var_pooled = ((xk - design @ b_hat) ** 2).mean(axis=0)
        coef = b_hat[k:]
        stand_mean = grand_mean[None, :] + cd @ coef
        s = (xk - stand_mean) / np.sqrt(var_pooled)[None, :]
        gamma_hat = np.linalg.solve(bd.T @ bd, bd.T @ s)
        est: list[BatchEstimates] = []
        for i in range(k):
            est.append(estimate_batch(s[codes == i], gamma_hat[i], mean_only=self.mean_only,
                                      parametric=self.parametric,
                                      empirical_bayes=self.empirical_bayes))

        def full(rows: list[FloatArray], fill: float) -> FloatArray:
            out = np.full((k, p), fill)
            out[:, keep] = np.vstack(rows)
            return out

        self.batches_: list[Any] = [v.item() if isinstance(v, np.generic) else v
                                    for v in levels]
        self.n_per_batch_ = [int(c) for c in counts]
        self.feature_names_ = names
        self.n_features_ = p
        self.covariate_columns_ = cov_labels
        self.adjusted_ = keep
        self.grand_mean_ = np.zeros(p)
        self.grand_mean_[keep] = grand_mean
        self.var_pooled_ = np.ones(p)
        self.var_pooled_[keep] = var_pooled
        self.covariate_coef_ = np.zeros((cd.shape[1], p))
        self.covariate_coef_[:, keep] = coef
        self.gamma_hat_ = full([e.gamma_hat for e in est], 0.0)
        self.delta_hat_ = full([e.delta_hat for e in est], 1.0)
        gs = full([e.gamma_star for e in est], 0.0)
        ds = full([e.delta_star for e in est], 1.0)
        if ref is not None:
            gs[ref] = 0.0
            ds[ref] = 1.0
        self.gamma_star_, self.delta_star_ = gs, ds
        self.priors_ = pd.DataFrame({
            "batch": self.batches_, "gamma_bar": [e.gamma_bar for e in est],
            "t2": [e.t2 for e in est], "a_prior": [e.a_prior for e in est],
            "b_prior": [e.b_prior for e in est]})
        return self

    # ------------------------------------------------------------------ transform
    def _check_fitted(self, caller: str) -> None:
        if not hasattr(self, "gamma_star_"):
            msg = f"{caller}: this ComBat is not fitted; call fit() or from_dict() first."
            raise NotFittedError(msg)

    def _standardise(self, x: FloatArray, cd: FloatArray) -> tuple[FloatArray, FloatArray]:
        stand_mean = self.grand_mean_[None, :] + cd @ self.covariate_coef_
        return (x - stand_mean) / np.sqrt(self.var_pooled_)[None, :], stand_mean

    def transform(self, features: Any, batch: Any, covariates: Any = None) -> Any:
        """Harmonise samples with the fitted parameters.

        Samples of a batch seen in :meth:`fit` get that batch's frozen parameters;
        the reference batch's samples come back unchanged.  Samples of a batch not seen
        in fit are harmonised as a new site (see the class Notes): this needs at least
        two samples of that batch and warns below ``min_unseen_size``.

        Parameters
        ----------
        features, batch, covariates
            As in :meth:`fit` (same features in the same order; the same covariates).

        Returns
        -------
        pandas.DataFrame or numpy.ndarray
            Harmonised features, of the input's type (a DataFrame keeps its index and
            columns).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        InputError
            Other features than in fit, NaN, length mismatches, an unseen batch with one
            sample, covariate levels not seen in fit.
        """
        caller = "ComBat.transform"
        self._check_fitted(caller)
        x, names = _features(features, caller)
        if x.shape[1] != self.n_features_:
            raise param_error("features", caller, f"{self.n_features_} features as in fit",
                              f"{x.shape[1]} features")
        if names is not None and self.feature_names_ is not None \
                and names != self.feature_names_:
            diff = [a for a, b in zip(names, self.feature_names_) if a != b][:3]
            raise param_error("features", caller, "the columns of fit in the same order",
                              f"different columns, e.g. {diff}")
        n = x.shape[0]
        b = _batch(batch, n, caller)
        cov = _covariate_frame(covariates, n, caller)
        cd, _, _ = self._covariate_design(cov, n, caller)
        s, stand_mean = self._standardise(x, cd)
        gamma = np.zeros_like(x)
        delta = np.ones_like(x)
        known = {v: i for i, v in enumerate(self.batches_)}
        for label in pd.unique(b):
            rows = b == label
            if label in known:
                i = known[label]
                gamma[rows] = self.gamma_star_[i]
                delta[rows] = self.delta_star_[i]
                continue
            est = self.estimate_new_batch(x[rows], cov.loc[rows] if cov is not None else None,
                                          label=label, _caller=caller)
            gamma[rows] = est.gamma_star
            delta[rows] = est.delta_star
        out = (s - gamma) / np.sqrt(delta) * np.sqrt(self.var_pooled_)[None, :] + stand_mean
        out[:, ~self.adjusted_] = x[:, ~self.adjusted_]
        if self.reference_batch is not None:
            ref_rows = b == self.reference_batch
            out[ref_rows] = x[ref_rows]
        if isinstance(features, pd.DataFrame):
            return pd.DataFrame(out, index=features.index, columns=features.columns)
        return out

    def estimate_new_batch(self, features: Any, covariates: Any = None, *,
                           label: Hashable = "new", _caller: str = "ComBat.estimate_new_batch"
                           ) -> BatchEstimates:
        """Location/scale parameters of a batch not seen in fit, from its own features.

        Used by :meth:`transform` for unseen batches; call it directly to report a new
        site's estimated batch effects (``gamma_hat``, ``delta_hat``, priors and the
        shrunk ``gamma_star``, ``delta_star``; one value per feature).
        """
        self._check_fitted(_caller)
        x, _ = _features(features, _caller)
        n = x.shape[0]
        if n < 2:
            msg = (f"{_caller}: batch {label!r} was not seen in fit and has {n} sample; a new "
                   "site needs at least 2 samples (better 20 or more) to estimate its batch "
                   "effect. Harmonise it together with more of its patients, or leave it "
                   "unharmonised.")
            raise InputError(msg)
        if n < self.min_unseen_size:
            warnings.warn(f"ComBat: batch {label!r} was not seen in fit and has only {n} "
                          f"samples (< {self.min_unseen_size}); its estimated location and "
                          "scale are unstable and harmonisation may add error.",
                          HarmonizationWarning, stacklevel=3)
        cov = _covariate_frame(covariates, n, _caller)
        cd, _, _ = self._covariate_design(cov, n, _caller)
        s, _ = self._standardise(x, cd)
        keep = self.adjusted_
        t2, cv2 = self._development_dispersion() if self.unseen_prior == "development" \
            else (None, None)
        est = estimate_batch(s[:, keep], s[:, keep].mean(axis=0), mean_only=self.mean_only,
                             parametric=self.parametric, empirical_bayes=self.empirical_bayes,
                             t2=t2, delta_cv2=cv2)
        if keep.all():
            return est
        p = self.n_features_

        def full(v: FloatArray, fill: float) -> FloatArray:
            out = np.full(p, fill)
            out[keep] = v
            return out

        return BatchEstimates(gamma_hat=full(est.gamma_hat, 0.0),
                              delta_hat=full(est.delta_hat, 1.0), gamma_bar=est.gamma_bar,
                              t2=est.t2, a_prior=est.a_prior, b_prior=est.b_prior,
                              gamma_star=full(est.gamma_star, 0.0),
                              delta_star=full(est.delta_star, 1.0))

    def _development_dispersion(self) -> tuple[float, float | None]:
        """Prior dispersions pooled over the development batches (reference excluded)."""
        rows = [i for i, b in enumerate(self.batches_) if b != self.reference_batch]
        keep = self.adjusted_
        t2 = float(np.mean(self.priors_["t2"].to_numpy()[rows]))
        if self.mean_only:
            return t2, None
        d = self.delta_hat_[np.ix_(np.asarray(rows, dtype=np.intp), np.flatnonzero(keep))]
        cv2 = float(np.mean(d.var(axis=1, ddof=1) / d.mean(axis=1) ** 2))
        return t2, cv2

    def fit_transform(self, features: Any, batch: Any, covariates: Any = None) -> Any:
        """:meth:`fit`, then :meth:`transform` of the same data (sva ``ComBat``'s output)."""
        return self.fit(features, batch, covariates).transform(features, batch, covariates)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The fitted parameters as a JSON-safe dict (no patient rows).

        Stored: the options, batch labels and sizes, feature and covariate names (with
        the levels of categorical covariates), and per feature the grand mean, pooled
        variance, covariate coefficients, and per batch x feature the estimated and
        adjusted location/scale with the per-batch priors.  Floats are written with full
        precision (Python's shortest round-trip repr), so :meth:`from_dict` restores
        identical harmonisation.
        """
        self._check_fitted("ComBat.to_dict")

        def mat(a: FloatArray) -> list[list[float]]:
            return [[float(v) for v in row] for row in a]

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "format": _FORMAT, "format_version": _FORMAT_VERSION,
            "options": {"parametric": self.parametric, "empirical_bayes": self.empirical_bayes,
                        "mean_only": self.mean_only, "reference_batch": self.reference_batch,
                        "min_unseen_size": self.min_unseen_size,
                        "unseen_prior": self.unseen_prior},
            "batches": list(self.batches_), "n_per_batch": list(self.n_per_batch_),
            "feature_names": self.feature_names_, "n_features": self.n_features_,
            "covariates": getattr(self, "_covariates", []),
            "covariate_columns": list(self.covariate_columns_),
            "adjusted": [bool(v) for v in self.adjusted_],
            "grand_mean": [float(v) for v in self.grand_mean_],
            "var_pooled": [float(v) for v in self.var_pooled_],
            "covariate_coef": mat(self.covariate_coef_),
            "gamma_hat": mat(self.gamma_hat_), "delta_hat": mat(self.delta_hat_),
            "gamma_star": mat(self.gamma_star_), "delta_star": mat(self.delta_star_),
            "priors": [{"batch": r["batch"], **{k: num(r[k]) for k in
                                                ("gamma_bar", "t2", "a_prior", "b_prior")}}
                       for r in self.priors_.to_dict(orient="records")],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComBat:
        """Rebuild a fitted ComBat from :meth:`to_dict` output (e.g. read from a bundle)."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise param_error("data", "ComBat.from_dict", f"a dict with format {_FORMAT!r}",
                              data.get("format") if isinstance(data, Mapping) else data)
        if data.get("format_version") != _FORMAT_VERSION:
            raise param_error("data", "ComBat.from_dict",
                              f"format_version {_FORMAT_VERSION}", data.get("format_version"))
        obj = cls(**data["options"])
        p = int(data["n_features"])

        def arr(key: str, rows: int | None = None) -> FloatArray:
            a = np.asarray(data[key], dtype=np.float64)
            return a.reshape(rows, p) if rows is not None else a

        k = len(data["batches"])
        obj.batches_ = list(data["batches"])
        obj.n_per_batch_ = [int(v) for v in data["n_per_batch"]]
        names: Sequence[str] | None = data["feature_names"]
        obj.feature_names_ = list(names) if names is not None else None
        obj.n_features_ = p
        obj._covariates = [dict(c) for c in data["covariates"]]
        obj.covariate_columns_ = list(data["covariate_columns"])
        obj.adjusted_ = np.asarray(data["adjusted"], dtype=bool)
        obj.grand_mean_ = arr("grand_mean")
        obj.var_pooled_ = arr("var_pooled")
        obj.covariate_coef_ = arr("covariate_coef", len(obj.covariate_columns_))
        obj.gamma_hat_, obj.delta_hat_ = arr("gamma_hat", k), arr("delta_hat", k)
        obj.gamma_star_, obj.delta_star_ = arr("gamma_star", k), arr("delta_star", k)
        obj.priors_ = pd.DataFrame(
            [{**r, **{c: (math.nan if r[c] is None else r[c])
                      for c in ("gamma_bar", "t2", "a_prior", "b_prior")}}
             for r in data["priors"]])
        return obj

    def __repr__(self) -> str:
        opts = (f"parametric={self.parametric}, empirical_bayes={self.empirical_bayes}, "
                f"mean_only={self.mean_only}, reference_batch={self.reference_batch!r}")
        fitted = f", fitted on {len(self.batches_)} batches" if hasattr(self, "batches_") else ""
        return f"ComBat({opts}){fitted}"
