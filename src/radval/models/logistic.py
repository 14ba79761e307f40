"""Unpenalised logistic regression (IRLS) and the design matrix of clinical predictors.

:func:`fit_logistic` maximises the binomial log-likelihood

.. math:: \\ell(\\beta) = \\sum_i y_i \\eta_i - \\log(1 + e^{\\eta_i}),\\qquad
          \\eta = X\\beta

by iteratively reweighted least squares (Fisher scoring), exactly as R's
``glm(family = binomial)`` (convergence when the relative change in deviance is
below ``1e-10``; R's default is ``1e-8``).  Standard errors come from the inverse
Fisher information :math:`(X^T W X)^{-1}`.  Under complete separation the MLE does
not exist: the fit stops after ``max_iter`` iterations and reports
``converged=False`` (a :class:`~radval.exceptions.ConvergenceWarning` is issued).

:class:`DesignSpec` turns clinical predictors into numeric columns: numeric
predictors as they are, categorical predictors as treatment (dummy) contrasts
against the first level seen in the development data (R's default
``contr.treatment`` with sorted levels).  Dummy columns are named
``"<predictor>[<level>]"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._results import Result
from radval.exceptions import ConvergenceWarning, InputError
from radval.stats._kernels import expit, logistic_newton, logit

__all__ = ["DesignSpec", "LogisticFit", "expit", "fit_logistic", "logit"]


@dataclass(frozen=True, kw_only=True)
class LogisticFit(Result):
    """A fitted logistic regression.

    Attributes
    ----------
    names : list of str
        Column names (``"(Intercept)"`` first).
    coef, se : ndarray
        Coefficients and Wald standard errors.
    cov : ndarray
        Covariance matrix (inverse Fisher information).
    deviance, null_deviance, loglik : float
    n, events, n_iter : int
    converged : bool
    """

    names: list[str]
    coef: npt.NDArray[np.float64] = field(repr=False)
    se: npt.NDArray[np.float64] = field(repr=False)
    cov: npt.NDArray[np.float64] = field(repr=False, compare=False)
    deviance: float
    null_deviance: float
    loglik: float
    n: int
    events: int
    n_iter: int
    converged: bool

    @property
    def intercept(self) -> float:
        """The intercept."""
        return float(self.coef[0])

    @property
    def slopes(self) -> npt.NDArray[np.float64]:
        """Coefficients without the intercept."""
        return np.asarray(self.coef[1:])

    def linear_predictor(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """:math:`\\beta_0 + X\\beta` for a matrix without the intercept column."""
        xm = np.asarray(x, dtype=np.float64)
        if xm.ndim == 1:
            xm = xm.reshape(-1, 1)
        return self.coef[0] + xm @ self.coef[1:]

    def table(self) -> pd.DataFrame:
        """Coefficient table: ``term, coef, se, z, p_value, odds_ratio, or_ci_low, or_ci_high``."""
        from scipy.stats import norm

        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return self._table(norm.sf)

    def _table(self, sf: Any) -> pd.DataFrame:
        z = self.coef / self.se
        return pd.DataFrame({
            "term": self.names, "coef": self.coef, "se": self.se, "z": z,
            "p_value": 2.0 * sf(np.abs(z)), "odds_ratio": np.exp(self.coef),
            "or_ci_low": np.exp(self.coef - 1.959963984540054 * self.se),
            "or_ci_high": np.exp(self.coef + 1.959963984540054 * self.se),
        })


def _deviance(y: npt.NDArray[np.float64], eta: npt.NDArray[np.float64]) -> float:
    # -2 loglik = 2 * sum(log(1+exp(eta)) - y*eta), stable
    return float(2.0 * np.sum(np.logaddexp(0.0, eta) - y * eta))


def fit_logistic(x: npt.ArrayLike, y_true: npt.ArrayLike, *,
                 names: Sequence[str] | None = None, max_iter: int = 50,
                 tol: float = 1e-10, offset: npt.ArrayLike | None = None) -> LogisticFit:
    """Fit :math:`\\operatorname{logit} P(y=1) = \\beta_0 + X\\beta` by Newton-Raphson (IRLS).

    Parameters
    ----------
    x : array-like, shape (n, p)
        Predictors (no intercept column; ``p`` may be 0).
    y_true : array-like of {0, 1}
    names : sequence of str, optional
        Names of the ``p`` columns (default ``x1..xp``).
    max_iter : int, optional
        Maximum Newton iterations.
    tol : float, optional
        Convergence: ``|dev - dev_old| / (|dev| + 0.1) < tol``, R's rule (the IRLS of
        :func:`radval.stats._kernels.logistic_newton`, the one logistic solver of radval).
    offset : array-like, optional
        A fixed offset added to the linear predictor.

    Returns
    -------
    LogisticFit

    Raises
    ------
    InputError
        Non-binary outcome, one outcome class, NaN in ``x``, mismatched lengths.
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    if y.size == 0 or not np.all(np.isin(y, (0.0, 1.0))):
        raise InputError("fit_logistic: y_true must be a non-empty array of 0/1.")
    if y.min() == y.max():
        raise InputError(f"fit_logistic: y_true holds one class only ({int(y[0])}); "
                         "a logistic model cannot be fitted.")
    xm = np.asarray(x, dtype=np.float64)
    if xm.ndim == 1:
        xm = xm.reshape(-1, 1) if xm.size else np.empty((y.size, 0))
    if xm.shape[0] != y.size:
        raise InputError(f"fit_logistic: x has {xm.shape[0]} rows but y_true has {y.size}.")
    if not np.isfinite(xm).all():
        raise InputError("fit_logistic: x contains NaN or infinite values.")
    p = xm.shape[1]
    cols = list(names) if names is not None else [f"x{j + 1}" for j in range(p)]
    if len(cols) != p:
        raise InputError(f"fit_logistic: {len(cols)} names for {p} columns.")
    off = np.zeros(y.size) if offset is None else np.asarray(offset, dtype=np.float64).ravel()
    design = np.column_stack([np.ones(y.size), xm])
    fit = logistic_newton(design, y, offset=off, tol=tol, max_iter=max_iter,
                          criterion="deviance")
    beta, cov, converged, it = fit.coef, fit.cov, fit.converged, fit.n_iter
    eta = design @ beta + off
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    dev = _deviance(y, eta)
    ybar = y.mean()
    null_dev = _deviance(y, np.full(y.size, math.log(ybar / (1 - ybar))))
    if not converged or np.max(np.abs(beta)) > 30:
        warnings.warn("fit_logistic: the fit did not converge (possible separation); "
                      "coefficients may be infinite.", ConvergenceWarning, stacklevel=2)
        converged = False
    return LogisticFit(names=["(Intercept)", *cols], coef=beta, se=se, cov=cov,
                       deviance=dev, null_deviance=null_dev, loglik=-dev / 2.0,
                       n=int(y.size), events=int(y.sum()), n_iter=it, converged=converged)


@dataclass(frozen=True)
class DesignSpec:
    """How clinical predictors become numeric columns (frozen on the development cohort).

    Attributes
    ----------
    predictors : list of (name, kind)
    levels : dict
        Categorical predictor -> sorted levels seen in development (first = reference).
    """

    predictors: list[tuple[str, str]]
    levels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, predictors: Sequence[tuple[str, str]]
                   ) -> DesignSpec:
        """Learn the levels of categorical predictors from ``frame`` (development data)."""
        levels: dict[str, list[str]] = {}
        for name, kind in predictors:
            if name not in frame.columns:
                raise InputError(f"clinical predictor {name!r} is not a column of the clinical "
                                 "table.")
            if kind == "categorical":
                vals = frame[name].dropna()
                levels[name] = sorted({_level(v) for v in vals}, key=_level_key)
                if len(levels[name]) < 2:
                    raise InputError(f"categorical predictor {name!r} has fewer than two "
                                     "levels in the development cohort.")
        return cls(predictors=[(n, k) for n, k in predictors], levels=levels)

    @property
    def columns(self) -> list[str]:
        """Names of the numeric design columns."""
        out: list[str] = []
        for name, kind in self.predictors:
            if kind == "categorical":
                out.extend(f"{name}[{lv}]" for lv in self.levels[name][1:])
            else:
                out.append(name)
        return out

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numeric design columns for ``frame`` (unknown categorical levels -> NaN)."""
        out: dict[str, Any] = {}
        for name, kind in self.predictors:
            if name not in frame.columns:
                raise InputError(f"clinical predictor {name!r} is not a column of the table.")
            col = frame[name]
            if kind == "categorical":
                lv = self.levels[name]
                txt = col.map(lambda v: None if _isna(v) else _level(v))
                unknown = ~txt.isin(lv) & txt.notna()
                undefined = (txt.isna() | unknown).to_numpy()
                for level in lv[1:]:
                    # on the array: a boolean Series as a Series key takes pandas' slow path
                    vals = (txt == level).to_numpy(dtype=float)
                    vals[undefined] = np.nan
                    out[f"{name}[{level}]"] = vals
            else:
                out[name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        return pd.DataFrame(out, index=frame.index, columns=self.columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"predictors": [list(p) for p in self.predictors], "levels": self.levels}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DesignSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(predictors=[(str(a), str(b)) for a, b in d["predictors"]],
                   levels={k: [str(x) for x in v] for k, v in d.get("levels", {}).items()})


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _level(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(int(v))
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _level_key(v: str) -> tuple[int, float, str]:
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)
