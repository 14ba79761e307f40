"""A frozen imputer for deployment: fitted without the outcome, stored as JSON, no patient rows."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from radval._validation import check_choice, check_positive_int, param_error
from radval.exceptions import NotFittedError, SmallSampleWarning
from radval.impute._chained import _seed_from
from radval.impute._frame import ColumnSpec, column_specs, decode_frame, encode_values
from radval.impute._kernels import (
    augment,
    categorical_probabilities,
    draw_categories,
    estimice,
    fit_multinomial,
)

__all__ = ["DeploymentImputer"]

FloatArray = npt.NDArray[np.float64]
_FORMAT = "radval.impute.DeploymentImputer"
_FORMAT_VERSION = 1
# normal scores are kept inside the stored quantile range; this bounds Phi^-1
_Z_MAX = 8.0


class _Margin:
    """Piecewise-linear marginal CDF of a numeric variable through stored quantiles."""

    def __init__(self, levels: FloatArray, values: FloatArray) -> None:
        # tied quantiles (discrete variables) collapse to one knot at their mean level
        uniq, inv = np.unique(values, return_inverse=True)
        lev = np.bincount(inv, weights=levels) / np.bincount(inv)
        self.levels, self.values = levels, values
        self._u, self._lev = uniq, lev

    def to_z(self, x: FloatArray) -> FloatArray:
        if self._u.size == 1:
            return np.zeros_like(x)
        p = np.interp(x, self._u, self._lev)
        return np.asarray(np.clip(special.ndtri(p), -_Z_MAX, _Z_MAX), dtype=np.float64)

    def from_z(self, z: FloatArray) -> FloatArray:
        if self._u.size == 1:
            return np.full_like(z, self._u[0])
        return np.asarray(np.interp(special.ndtr(z), self._lev, self._u), dtype=np.float64)


class DeploymentImputer:
    """Impute missing predictors of new patients with models frozen at development.

    Fitted on the development predictors **without** the outcome (the outcome is
    unknown when a patient is scored), written to and read from JSON, and applied at an
    external site to patients with one or more missing predictors.

    Parameters
    ----------
    max_iter : int, optional
        Sweeps of the chained models, in fit and in :meth:`transform` (default 10).
    n_quantiles : int, optional
        Quantiles stored per numeric variable (default 100; at most the number of
        observed values).
    rng : int, numpy.random.Generator or None, optional
        Seed of the stochastic imputation used while fitting.

    Notes
    -----
    *Model.*  A Gaussian copula with chained conditional regressions.  Each numeric
    variable :math:`x` is mapped to a normal score :math:`z = \\Phi^{-1}(\\hat F(x))`,
    where :math:`\\hat F` interpolates linearly through ``n_quantiles`` stored
    quantiles at levels :math:`(i + 1/2)/K` (Hazen); tied quantiles of a discrete
    variable collapse into one knot.  For each variable a conditional model given all
    the others (numeric ones as normal scores, categorical ones as indicators) is
    fitted: a linear regression of :math:`z` (coefficients and residual SD) or a
    (multinomial) logistic regression with mice's ``augment()`` pseudo-observations.
    While fitting, missing development values are filled by ``max_iter`` sweeps of
    stochastic regression imputation, and each model is fitted on the rows where its
    variable is observed.

    *What is stored* (:meth:`to_dict`): the options; per variable its name, kind, the
    categorical levels or the numeric quantiles (interpolated order statistics at
    :math:`K` levels, never the minimum or maximum; for a discrete variable they
    coincide with values shared by several patients), whether it is integer-valued,
    its dtype; per conditional model the predictor names, coefficients and residual
    SD; and the counts of development rows and missing values.  No patient row, no
    donor, no outcome.

    *How it imputes* (:meth:`transform`): missing values start at the median
    (numeric) or the most frequent level, then ``max_iter`` sweeps over the patient's
    missing variables replace each by a draw from its conditional model given the
    current values of the others (``mode="draw"``: normal residual on the :math:`z`
    scale, category drawn from its probabilities; ``n_imputations`` independent
    draws from a seed), or by its conditional mean / most probable level
    (``mode="mean"``: one deterministic completion).  Numeric draws are mapped back
    through the stored quantiles, which keeps bounds and skew (values stay within
    the stored quantile range) and rounds integer variables.  Observed values are
    never changed, and each patient is imputed from their own values only.

    The parameters are fixed (not drawn per imputation): the imputations are for
    scoring patients (average the predicted risks over the draws), not for inference
    on the site's data, where :class:`ChainedImputer` with the site's outcome and
    Rubin's rules apply.

    References
    ----------
    .. [1] Hoogland J, van Barreveld M, Debray TPA, et al. Handling missing predictor
       values when validating and applying a prediction model to new patients. Stat
       Med. 2020;39(25):3591-3607.
    .. [2] Nijman SWJ, Groenhof TKJ, Hoogland J, et al. Real-time imputation of missing
       predictor values improved the application of prediction models in daily
       practice. J Clin Epidemiol. 2021;134:22-34.
    .. [3] Hoff PD. Extending the rank likelihood for semiparametric copula
       estimation. Ann Appl Stat. 2007;1(1):265-283.

    Examples
    --------
    >>> import json, numpy as np, pandas as pd
    >>> from radval.impute import DeploymentImputer
    >>> rng = np.random.default_rng(0)
    >>> dev = pd.DataFrame({"age": rng.normal(60, 8, 80).round(),
    ...                     "size": rng.gamma(2.0, 10.0, 80)})
    >>> imp = DeploymentImputer(rng=0).fit(dev)
    >>> site = pd.DataFrame({"age": [71.0, None], "size": [None, 12.5]})
    >>> back = DeploymentImputer.from_dict(json.loads(json.dumps(imp.to_dict())))
    >>> done = back.transform(site, mode="mean")[0]
    >>> int(done.isna().sum().sum()), float(done.loc[1, "size"])
    (0, 12.5)
    """

    def __init__(self, *, max_iter: int = 10, n_quantiles: int = 100,
                 rng: int | np.random.Generator | None = None) -> None:
        self.max_iter = max_iter
        self.n_quantiles = n_quantiles
        self.rng = rng

    # ------------------------------------------------------------------ encoding
    def _margin(self, j: int) -> _Margin:
        margin = self._margins[j]
        if margin is None:  # pragma: no cover - every numeric column has a margin
            msg = f"column {self._specs[j].name!r} has no stored quantiles"
            raise NotFittedError(msg)
        return margin

    def _z_matrix(self, values: FloatArray) -> FloatArray:
        """Working scale: numeric columns as normal scores, others as codes."""
        z = values.copy()
        for j, spec in enumerate(self._specs):
            if spec.kind == "numeric":
                ok = np.isfinite(z[:, j])
                z[ok, j] = self._margin(j).to_z(values[ok, j])
        return z

    def _predictors(self, z: FloatArray, j: int) -> FloatArray:
        cols = [np.ones(z.shape[0])]
        for i, spec in enumerate(self._specs):
            if i == j:
                continue
            if spec.kind == "numeric":
                cols.append(z[:, i])
            else:
                for lev in range(1, len(spec.levels)):
                    cols.append((z[:, i] == lev).astype(np.float64))
        return np.column_stack(cols)

    def _predictor_names(self, j: int) -> list[str]:
        names = ["(Intercept)"]
        for i, spec in enumerate(self._specs):
            if i == j:
                continue
            if spec.kind == "numeric":
                names.append(spec.name)
            else:
                names.extend(f"{spec.name}[{lev}]" for lev in spec.levels[1:])
        return names

    def _fit_model(self, z: FloatArray, obs: npt.NDArray[np.bool_], j: int) -> dict[str, Any]:
        spec = self._specs[j]
        x = self._predictors(z, j)
        if spec.kind == "numeric":
            ls = estimice(x[obs], z[obs, j])
            sigma = float(np.sqrt(np.sum(ls.residuals**2) / ls.df))
            return {"kind": "linear", "coef": ls.coef, "sigma": sigma}
        k = len(spec.levels)
        if k < 2:
            return {"kind": "constant"}
        d, e, w = augment(z[:, j], x[:, 1:], np.arange(k))
        xa = np.vstack([x[obs], np.column_stack([np.ones(e.size), d])]) if e.size else x[obs]
        ya = np.concatenate([z[obs, j], e]).astype(np.int64)
        wa = np.concatenate([np.ones(int(obs.sum())), w])
        coef, _ = fit_multinomial(xa, ya, wa, k)
        return {"kind": "multinomial", "coef": coef}

    def _predict(self, model: dict[str, Any], x: FloatArray, mode: str,
                 rng: np.random.Generator | None) -> FloatArray:
        if model["kind"] == "constant":
            return np.zeros(x.shape[0])
        if model["kind"] == "linear":
            mean = x @ model["coef"]
            if mode == "mean" or rng is None:
                return np.asarray(mean)
            return np.asarray(mean + rng.standard_normal(x.shape[0]) * model["sigma"])
        prob = categorical_probabilities(x, model["coef"])
        if mode == "mean" or rng is None:
            return np.argmax(prob, axis=1).astype(np.float64)
        return draw_categories(prob, rng).astype(np.float64)

    def _start(self, z: FloatArray, miss: npt.NDArray[np.bool_]) -> None:
        for j, spec in enumerate(self._specs):
            if miss[:, j].any():
                z[miss[:, j], j] = 0.0 if spec.kind == "numeric" else float(self._modes[j])

    def _sweeps(self, z: FloatArray, miss: npt.NDArray[np.bool_], mode: str,
                rng: np.random.Generator | None, models: list[dict[str, Any]] | None
                ) -> None:
        todo = [j for j in range(len(self._specs)) if miss[:, j].any()]
        for _ in range(self.max_iter if todo else 0):
            for j in todo:
                if models is None:
                    model = self._fit_model(z, ~self._fit_miss[:, j], j)
                else:
                    model = models[j]
                x = self._predictors(z[miss[:, j]], j)
                z[miss[:, j], j] = self._predict(model, x, mode, rng)
                if self._specs[j].kind == "numeric":
                    np.clip(z[:, j], -_Z_MAX, _Z_MAX, out=z[:, j])

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> DeploymentImputer:
        """Fit the conditional models on the development predictors (no outcome).

        Raises
        ------
        InputError
            Zero rows, a column missing for every row, an unsupported column.
        """
        caller = "DeploymentImputer.fit"
        check_positive_int(self.max_iter, caller=caller, param="max_iter")
        check_positive_int(self.n_quantiles, caller=caller, param="n_quantiles", minimum=2)
        specs = column_specs(frame, caller)
        values, miss = encode_values(frame, specs, caller)
        self._specs = specs
        self._margins: list[_Margin | None] = []
        self._modes: list[int] = []
        for j, spec in enumerate(specs):
            obs = values[~miss[:, j], j]
            if spec.kind == "numeric":
                k = min(self.n_quantiles, obs.size)
                levels = (np.arange(k) + 0.5) / k
                self._margins.append(_Margin(levels, np.quantile(obs, levels)))
                self._modes.append(0)
            else:
                self._margins.append(None)
                self._modes.append(int(np.argmax(np.bincount(obs.astype(np.int64),
                                                             minlength=len(spec.levels)))))
        if len(specs) > 1 and frame.shape[0] < 10 * len(specs):
            warnings.warn(f"{caller}: {frame.shape[0]} rows for {len(specs)} variables; the "
                          "conditional models are poorly estimated.", SmallSampleWarning,
                          stacklevel=2)
        self._fit_miss = miss
        rng = np.random.default_rng(_seed_from(self.rng, caller))
        z = self._z_matrix(values)
        self._start(z, miss)
        if len(specs) > 1:
            self._sweeps(z, miss, "draw", rng, None)
        self._models = [self._fit_model(z, ~miss[:, j], j) if len(specs) > 1
                        else self._marginal_model(j) for j in range(len(specs))]
        self.n_fit_rows_ = int(frame.shape[0])
        self.n_missing_ = {s.name: int(miss[:, j].sum()) for j, s in enumerate(specs)}
        self.columns_ = [s.name for s in specs]
        del self._fit_miss
        return self

    def _marginal_model(self, j: int) -> dict[str, Any]:
        spec = self._specs[j]
        if spec.kind == "numeric":
            return {"kind": "linear", "coef": np.zeros(1), "sigma": 1.0}
        k = len(spec.levels)
        return {"kind": "constant"} if k < 2 else {"kind": "mode"}

    # ------------------------------------------------------------------ transform
    def transform(self, frame: pd.DataFrame, *, n_imputations: int = 1, mode: str = "draw",
                  rng: int | np.random.Generator | None = None) -> list[pd.DataFrame]:
        """Complete ``frame`` (new patients) with the frozen models.

        Parameters
        ----------
        frame : pandas.DataFrame
            The fitted columns (other columns are ignored), possibly with missing values.
        n_imputations : int, optional
            Number of completed frames with ``mode="draw"`` (default 1).
        mode : {"draw", "mean"}, optional
            Random draws from the conditional models (seeded by ``rng``) or the
            deterministic conditional mean / most probable level (one frame).
        rng : int, numpy.random.Generator or None, optional

        Returns
        -------
        list of pandas.DataFrame
            Completed frames with the fitted columns and ``frame``'s index.

        Raises
        ------
        NotFittedError
            Before :meth:`fit` / :meth:`from_dict`.
        InputError
            Zero rows, a fitted column absent, a level not seen in development.
        """
        caller = "DeploymentImputer.transform"
        if not hasattr(self, "_models"):
            raise NotFittedError(f"{caller}: not fitted; call fit() or from_dict() first.")
        check_choice(mode, ("draw", "mean"), caller=caller, param="mode")
        m = check_positive_int(n_imputations, caller=caller, param="n_imputations")
        if not isinstance(frame, pd.DataFrame) or frame.shape[0] == 0:
            raise param_error("frame", caller, "a non-empty pandas DataFrame",
                              getattr(frame, "shape", type(frame).__name__))
        values, miss = encode_values(frame, self._specs, caller)
        base = self._z_matrix(values)
        if mode == "mean":
            m = 1
        children = np.random.SeedSequence(_seed_from(rng, caller)).spawn(m)
        out = []
        for child in children:
            gen = np.random.default_rng(child) if mode == "draw" else None
            z = base.copy()
            self._start(z, miss)
            if len(self._specs) > 1:
                self._sweeps(z, miss, mode, gen, self._models)
            else:
                self._impute_marginal(z, miss, mode, gen)
            done = values.copy()
            for j, spec in enumerate(self._specs):
                rows = miss[:, j]
                if not rows.any():
                    continue
                if spec.kind == "numeric":
                    v = self._margin(j).from_z(z[rows, j])
                    done[rows, j] = np.round(v) if spec.integer else v
                else:
                    done[rows, j] = z[rows, j]
            out.append(decode_frame(done, self._specs, frame.index))
        return out

    def _impute_marginal(self, z: FloatArray, miss: npt.NDArray[np.bool_], mode: str,
                         rng: np.random.Generator | None) -> None:
        rows = miss[:, 0]
        if not rows.any():
            return
        model = self._models[0]
        if model["kind"] == "linear":
            z[rows, 0] = 0.0 if mode == "mean" or rng is None else \
                rng.standard_normal(int(rows.sum()))
        else:
            z[rows, 0] = float(self._modes[0])

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The fitted imputer as a JSON-safe dict (see the class Notes for its content)."""
        if not hasattr(self, "_models"):
            raise NotFittedError("DeploymentImputer.to_dict: not fitted.")
        columns = []
        for j, spec in enumerate(self._specs):
            col: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "dtype": spec.dtype,
                                   "n_missing": self.n_missing_[spec.name]}
            if spec.kind == "numeric":
                margin = self._margin(j)
                col["integer"] = spec.integer
                col["quantile_levels"] = [float(v) for v in margin.levels]
                col["quantiles"] = [float(v) for v in margin.values]
            else:
                col["levels"] = [v.item() if isinstance(v, np.generic) else v
                                 for v in spec.levels]
                col["mode"] = spec.levels[self._modes[j]] if spec.levels else None
            columns.append(col)
        models = []
        for j, model in enumerate(self._models):
            entry: dict[str, Any] = {"target": self._specs[j].name, "kind": model["kind"]}
            if model["kind"] in ("linear", "multinomial") and len(self._specs) > 1:
                entry["predictors"] = self._predictor_names(j)
                entry["coef"] = np.asarray(model["coef"]).tolist()
            if model["kind"] == "linear":
                entry["sigma"] = float(model["sigma"])
                entry.setdefault("coef", [0.0])
            models.append(entry)
        return {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "options": {"max_iter": self.max_iter, "n_quantiles": self.n_quantiles},
                "n_fit_rows": self.n_fit_rows_, "columns": columns, "models": models}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploymentImputer:
        """Rebuild a fitted imputer from :meth:`to_dict` output."""
        caller = "DeploymentImputer.from_dict"
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise param_error("data", caller, f"a dict with format {_FORMAT!r}",
                              data.get("format") if isinstance(data, Mapping) else data)
        if data.get("format_version") != _FORMAT_VERSION:
            raise param_error("data", caller, f"format_version {_FORMAT_VERSION}",
                              data.get("format_version"))
        obj = cls(**data["options"])
        obj._specs, obj._margins, obj._modes, obj._models = [], [], [], []
        for col in data["columns"]:
            spec = ColumnSpec(name=col["name"], kind=col["kind"], dtype=col["dtype"],
                              levels=list(col.get("levels", [])),
                              integer=bool(col.get("integer", False)))
            obj._specs.append(spec)
            if spec.kind == "numeric":
                obj._margins.append(_Margin(np.asarray(col["quantile_levels"], dtype=float),
                                            np.asarray(col["quantiles"], dtype=float)))
                obj._modes.append(0)
            else:
                obj._margins.append(None)
                obj._modes.append(spec.levels.index(col["mode"]) if spec.levels else 0)
        for j, entry in enumerate(data["models"]):
            if entry["target"] != obj._specs[j].name:
                raise param_error("data", caller, "models in column order", entry["target"])
            model: dict[str, Any] = {"kind": entry["kind"]}
            if "coef" in entry:
                model["coef"] = np.asarray(entry["coef"], dtype=np.float64)
            if entry["kind"] == "linear":
                model["sigma"] = float(entry["sigma"])
            obj._models.append(model)
        obj.n_fit_rows_ = int(data["n_fit_rows"])
        obj.n_missing_ = {c["name"]: int(c["n_missing"]) for c in data["columns"]}
        obj.columns_ = [s.name for s in obj._specs]
        return obj

    def __repr__(self) -> str:
        cols = f", {len(self.columns_)} columns" if hasattr(self, "columns_") else ""
        return f"DeploymentImputer(max_iter={self.max_iter}{cols})"

