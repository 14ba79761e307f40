"""LASSO-penalised logistic regression matching R ``glmnet`` (binomial, alpha = 1).

Objective (Friedman, Hastie & Tibshirani 2010, J Stat Softw 33(1)) for one
penalty value :math:`\\lambda`, on the predictors standardised with the
population (1/N) standard deviation :math:`\\tilde x_{ij} = (x_{ij} - \\bar x_j)/s_j`:

.. math::

    \\min_{\\beta_0, \\beta}\\; -\\frac1N \\sum_i \\bigl[y_i\\eta_i - \\log(1 + e^{\\eta_i})\\bigr]
    + \\lambda \\lVert\\beta\\rVert_1, \\qquad \\eta_i = \\beta_0 + \\tilde x_i^\\top\\beta .

The intercept is not penalised.  Coefficients are returned on the original scale,
:math:`b_j = \\beta_j / s_j`, :math:`b_0 = \\beta_0 - \\sum_j b_j \\bar x_j`, exactly as
``coef(glmnet(x, y, family = "binomial", alpha = 1, standardize = TRUE, lambda = lam))``.

Algorithm.  glmnet runs coordinate descent on successive IRLS quadratic
approximations and stops at a loose tolerance (``thresh = 1e-7``).  Here each
penalty is solved to a much tighter tolerance by an active-set Newton method:
on the current support :math:`S` with signs :math:`s`, the optimality
conditions :math:`\\tilde X_S^\\top (y - p)/N = \\lambda s`,
:math:`\\sum_i (y_i - p_i) = 0` are smooth and solved by damped Newton steps
(steps are cut where a coefficient would cross zero, which removes it from the
support); predictors violating the KKT condition
:math:`|\\tilde x_j^\\top (y - p)|/N \\le \\lambda` are then added and the loop
repeats.  Penalties along a path are solved in decreasing order with warm starts.
A coordinate-descent proximal-Newton solver (glmnet's scheme) is the fallback
when the Newton iteration does not settle.  The returned solution satisfies the
KKT conditions to ``thresh`` (on the gradient scale of the objective above).

Cross-validation follows ``cv.glmnet`` (``cvstats``/``cvcompute``/``getOptcv.glmnet``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.linalg.lapack import dposv as _dposv

from radval._results import Result
from radval._validation import check_binary, check_choice, check_positive_int, param_error
from radval.exceptions import ConvergenceWarning, InputError, SmallSampleWarning
from radval.stats._kernels import expit, rank_auc

__all__ = [
    "LassoCVResult",
    "LassoPath",
    "LassoResult",
    "cv_lasso_logistic",
    "glmnet_lambda_sequence",
    "lasso_logistic",
    "lasso_path",
]

FloatArray = npt.NDArray[np.float64]

#: glmnet.control() defaults used for the path's early-stopping rules.
_FDEV = 1e-5
_DEVMAX = 0.999
_MNLAM = 5
#: cv.lognet clips predicted probabilities to [1e-5, 1 - 1e-5] for the deviance.
_PROB_MIN = 1e-5


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, kw_only=True)
class LassoResult(Result):
    """LASSO logistic fit at one penalty.

    Attributes
    ----------
    intercept : float
        Intercept on the original scale.
    coef : numpy.ndarray
        Coefficients on the original scale, one per column of ``X`` (0 for
        constant columns).
    lam : float
        The penalty :math:`\\lambda`.
    feature_names : list of str or None
        Column names when ``X`` was a DataFrame.
    n_iter : int
        Newton (or proximal-Newton) iterations used.
    converged : bool
        Whether the KKT conditions hold to ``thresh``.
    deviance : float
        Binomial deviance :math:`-2\\,\\ell` of the fit.
    null_deviance : float
        Deviance of the intercept-only model.
    dev_ratio : float
        Fraction of deviance explained, ``1 - deviance/null_deviance`` (glmnet's ``dev.ratio``).
    """

    intercept: float
    coef: FloatArray = field(repr=False, compare=False)
    lam: float
    feature_names: list[str] | None = field(default=None, repr=False, compare=False)
    n_iter: int = 0
    converged: bool = True
    deviance: float = float("nan")
    null_deviance: float = float("nan")
    dev_ratio: float = float("nan")

    @property
    def nonzero(self) -> list[int]:
        """Indices of the nonzero coefficients."""
        return [int(i) for i in np.flatnonzero(self.coef)]

    def coef_series(self) -> pd.Series:
        """Coefficients as a Series indexed by feature name, ``(Intercept)`` first."""
        names = self.feature_names or [f"x{j + 1}" for j in range(self.coef.size)]
        return pd.Series(np.concatenate([[self.intercept], self.coef]),
                         index=["(Intercept)", *names], name="coef")

    def predict_linear(self, X: Any) -> FloatArray:
        """Linear predictor :math:`b_0 + X b` for new data (columns in the fitted order)."""
        x = _as_matrix(X, "X", "LassoResult.predict_linear")[0]
        if x.shape[1] != self.coef.size:
            raise param_error("X", "LassoResult.predict_linear",
                              f"a matrix with {self.coef.size} columns", f"{x.shape[1]} columns")
        return np.asarray(self.intercept + x @ self.coef, dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class LassoPath(Result):
    """Regularisation path (glmnet's ``a0``, ``beta``, ``lambda``, ``df``, ``dev.ratio``).

    Attributes
    ----------
    lambdas : numpy.ndarray
        Decreasing penalties, shape ``(m,)``.
    coef : numpy.ndarray
        Original-scale coefficients, shape ``(m, p)`` (row k belongs to ``lambdas[k]``;
        this is the transpose of glmnet's ``beta``).
    intercepts : numpy.ndarray
        Original-scale intercepts, shape ``(m,)``.
    nzero : numpy.ndarray
        Number of nonzero coefficients per penalty (glmnet's ``df``).
    dev_ratio : numpy.ndarray
        Fraction of null deviance explained per penalty.
    null_deviance : float
        Deviance of the intercept-only model.
    feature_names : list of str or None
        Column names when ``X`` was a DataFrame.
    converged : numpy.ndarray
        Per-penalty convergence flags.
    """

    lambdas: FloatArray = field(repr=False, compare=False)
    coef: FloatArray = field(repr=False, compare=False)
    intercepts: FloatArray = field(repr=False, compare=False)
    nzero: npt.NDArray[np.int64] = field(repr=False, compare=False)
    dev_ratio: FloatArray = field(repr=False, compare=False)
    null_deviance: float
    feature_names: list[str] | None = field(default=None, repr=False, compare=False)
    converged: npt.NDArray[np.bool_] = field(repr=False, compare=False)

    @property
    def n_lambda(self) -> int:
        """Number of penalties on the path."""
        return int(self.lambdas.size)

    def at(self, k: int) -> LassoResult:
        """The fit at the ``k``-th penalty as a :class:`LassoResult`."""
        return LassoResult(intercept=float(self.intercepts[k]), coef=self.coef[k].copy(),
                           lam=float(self.lambdas[k]), feature_names=self.feature_names,
                           converged=bool(self.converged[k]),
                           null_deviance=self.null_deviance,
                           deviance=self.null_deviance * (1.0 - float(self.dev_ratio[k])),
                           dev_ratio=float(self.dev_ratio[k]))

    def predict_linear(self, X: Any) -> FloatArray:
        """Linear predictors for new data, shape ``(n, m)``."""
        x = _as_matrix(X, "X", "LassoPath.predict_linear")[0]
        return np.asarray(x @ self.coef.T + self.intercepts[None, :], dtype=np.float64)

    def to_long(self) -> pd.DataFrame:
        """Long table ``lambda, feature, coef`` (intercept excluded)."""
        names = self.feature_names or [f"x{j + 1}" for j in range(self.coef.shape[1])]
        m, p = self.coef.shape
        return pd.DataFrame({
            "lambda": np.repeat(self.lambdas, p),
            "feature": np.tile(np.asarray(names, dtype=object), m),
            "coef": self.coef.ravel(),
        })


@dataclass(frozen=True, kw_only=True)
class LassoCVResult(Result):
    """Cross-validated LASSO logistic path (``cv.glmnet``).

    Attributes
    ----------
    lambdas, cvm, cvsd, cvup, cvlo, nzero : numpy.ndarray
        As ``cv.glmnet``: penalty, mean CV error (deviance) or AUC, its standard
        error, ``cvm +/- cvsd`` and the number of nonzero coefficients of the
        full-data fit.
    lambda_min : float
        Largest penalty attaining the best ``cvm``.
    lambda_1se : float
        Largest penalty whose ``cvm`` is within one ``cvsd`` of the best.
    index_min, index_1se : int
        0-based positions of those penalties in ``lambdas``.
    foldid : numpy.ndarray
        Fold of each observation (1 .. n_folds).
    type_measure : str
        ``"deviance"`` or ``"auc"`` (after cv.glmnet's fallback to deviance).
    path : LassoPath
        The full-data path.
    """

    lambdas: FloatArray = field(repr=False, compare=False)
    cvm: FloatArray = field(repr=False, compare=False)
    cvsd: FloatArray = field(repr=False, compare=False)
    cvup: FloatArray = field(repr=False, compare=False)
    cvlo: FloatArray = field(repr=False, compare=False)
    nzero: npt.NDArray[np.int64] = field(repr=False, compare=False)
    lambda_min: float
    lambda_1se: float
    index_min: int
    index_1se: int
    foldid: npt.NDArray[np.int64] = field(repr=False, compare=False)
    type_measure: str
    n_folds: int
    path: LassoPath = field(repr=False, compare=False)

    def fit_at(self, rule: str = "1se") -> LassoResult:
        """The full-data fit at ``lambda.1se`` (``rule="1se"``) or ``lambda.min``."""
        rule = check_choice(rule, ("1se", "min"), caller="LassoCVResult.fit_at", param="rule")
        return self.path.at(self.index_1se if rule == "1se" else self.index_min)

    def to_frame(self) -> pd.DataFrame:
        """The CV curve: ``lambda, cvm, cvsd, cvup, cvlo, nzero``."""
        return pd.DataFrame({"lambda": self.lambdas, "cvm": self.cvm, "cvsd": self.cvsd,
                             "cvup": self.cvup, "cvlo": self.cvlo, "nzero": self.nzero})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the full path is summarised by its long table)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"}
        from radval._results import jsonable

        return {k: jsonable(v) for k, v in out.items()}


# --------------------------------------------------------------------------- validation
def _as_matrix(X: Any, param: str, caller: str) -> tuple[FloatArray, list[str] | None]:
    names: list[str] | None = None
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        try:
            arr = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error(param, caller, "a numeric matrix", "non-numeric columns") from exc
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error(param, caller, "a numeric matrix", X) from exc
    if arr.ndim != 2:
        raise param_error(param, caller, "a 2-d matrix (n_samples, n_features)",
                          f"an array of shape {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[0] == 0:
        raise param_error(param, caller, "a non-empty matrix", f"shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=0))
        shown = [names[j] for j in bad[:5]] if names else [int(j) for j in bad[:5]]
        raise param_error(param, caller, "finite (no NaN or infinity)",
                          f"non-finite values in column(s) {shown}")
    return np.ascontiguousarray(arr), names


def _prepare(X: Any, y: Any, caller: str) -> tuple[FloatArray, FloatArray, list[str] | None]:
    x, names = _as_matrix(X, "X", caller)
    yy = check_binary(y, caller=caller, param="y").astype(np.float64)
    if yy.size != x.shape[0]:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got X={x.shape[0]} rows, y={yy.size} instead.")
        raise InputError(msg)
    return x, yy, names


def _check_tol(value: Any, caller: str, param: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise param_error(param, caller, "a positive float", value) from exc
    if not (v > 0 and np.isfinite(v)):
        raise param_error(param, caller, "a positive float", value)
    return v


def _check_lambdas(lambdas: Any, caller: str) -> FloatArray:
    try:
        lam = np.asarray(lambdas, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise param_error("lambdas", caller, "an array of non-negative floats", lambdas) from exc
    if lam.size == 0 or not np.isfinite(lam).all() or (lam < 0).any():
        raise param_error("lambdas", caller, "a non-empty array of finite floats >= 0", lambdas)
    # glmnet sorts a user-supplied lambda in decreasing order
    return np.sort(lam)[::-1].copy()


# --------------------------------------------------------------------------- core solver
def _standardize(x: FloatArray, standardize: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return (Z, mean, sd) with the 1/N SD; constant columns get sd = 0 and Z = 0."""
    xm = x.mean(axis=0)
    xc = x - xm
    if standardize:
        xs = np.sqrt((xc * xc).mean(axis=0))
    else:
        xs = np.ones(x.shape[1])
        xs[np.ptp(x, axis=0) == 0] = 0.0
    const = xs <= 1e-12 * np.maximum(1.0, np.abs(xm))
    xs = np.where(const, 0.0, xs)
    safe = np.where(const, 1.0, xs)
    z = xc / safe
    z[:, const] = 0.0
    return np.ascontiguousarray(z), xm, xs


def _nll(eta: FloatArray, y: FloatArray) -> float:
    """Negative log-likelihood sum_i log(1+e^eta) - y eta (stable)."""
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


class _Solver:
    """Solve the penalised problem for one standardised design, warm-started."""

    def __init__(self, z: FloatArray, y: FloatArray, thresh: float, max_iter: int) -> None:
        self.z = z
        self.y = y
        self.n = z.shape[0]
        self.p = z.shape[1]
        self.thresh = thresh
        self.max_iter = max_iter
        self.usable = np.any(z != 0.0, axis=0)
        ybar = float(y.mean())
        self.b0 = float(np.log(ybar / (1.0 - ybar)))
        self.beta = np.zeros(self.p)
        self.n_fallback = 0
        self.prev_lam: float | None = None
        self._pred: tuple[npt.NDArray[np.intp], FloatArray, FloatArray] | None = None

    def predict(self, lam: float) -> None:
        """First-order predictor along the path: one Newton step with the last Jacobian.

        At the solution for the previous penalty the optimality system changes only by
        ``-n (lam - prev_lam) s`` on the support, so the step is
        ``J^{-1} n s (prev_lam - lam)``; it is skipped if a coefficient would change sign.
        """
        if self._pred is None or self.prev_lam is None:
            return
        support, signs, jac = self._pred
        if support.size == 0 or not np.array_equal(np.sort(support), np.flatnonzero(self.beta)):
            return
        rhs = np.zeros(support.size + 1)
        rhs[1:] = self.n * (self.prev_lam - lam) * signs
        _, step, info = _dposv(jac, rhs)
        if info != 0:
            return
        new = self.beta[support] + step[1:]
        if not np.isfinite(step).all() or np.any(np.sign(new) != signs):
            return
        self.b0 += float(step[0])
        self.beta[support] = new

    # -- smooth Newton on a fixed support and sign pattern ---------------------
    def _newton(self, lam: float, support: npt.NDArray[np.intp],
                signs: FloatArray) -> tuple[int, npt.NDArray[np.intp], FloatArray, int]:
        """Return (n_iter, support, signs, status).

        status 0: KKT conditions verified on all predictors; 1: a coefficient hit
        zero and was removed (call again); 2: failed (singular or no progress).

        Once the support equations are solved, the full gradient is checked and
        predictors violating the KKT condition join the support (with the sign of
        their gradient) within the same Newton loop.
        """
        z, y, n = self.z, self.y, self.n
        nlam = n * lam
        tol = self.thresh * n
        # theta = (intercept, beta_S); design with a column of ones
        theta = np.concatenate([[self.b0], self.beta[support]])
        z1 = np.column_stack([np.ones(n), z[:, support]])
        shift = np.concatenate([[0.0], nlam * signs])
        eta = z1 @ theta
        pr = expit(eta)
        jac = np.empty((1, 1))
        have_jac = False
        it = 0
        while it < self.max_iter:
            it += 1
            r = y - pr
            f = z1.T @ r
            f -= shift
            fmax = float(np.abs(f).max())
            if fmax <= tol:
                # the support equations hold: check the KKT conditions of the others
                g = z.T @ r
                viol = np.abs(g) - nlam
                viol[support] = -np.inf
                viol[~self.usable] = -np.inf
                add = np.flatnonzero(viol > tol)
                if not add.size:
                    break
                support = np.concatenate([support, add])
                signs = np.concatenate([signs, np.sign(g[add])])
                theta = np.concatenate([theta, np.zeros(add.size)])
                z1 = np.column_stack([z1, z[:, add]])
                shift = np.concatenate([shift, nlam * signs[-add.size:]])
                f = np.concatenate([f, g[add] - shift[-add.size:]])
            v = pr * (1.0 - pr)
            jac = z1.T @ (z1 * v[:, None])
            have_jac = True
            _, step, info = _dposv(jac, f)
            if info != 0 or not np.isfinite(step).all():
                return it, support, signs, 2
            ds = step[1:]
            # first zero crossing along the step
            t_max = 1.0
            j_cross = -1
            if lam > 0:
                cross = signs * ds < 0
                if cross.any():
                    tc = np.full(ds.shape, np.inf)
                    tc[cross] = -theta[1:][cross] / ds[cross]
                    j_cross = int(np.argmin(tc))
                    if tc[j_cross] < 1.0:
                        t_max = max(float(tc[j_cross]), 0.0)
                    else:
                        j_cross = -1
            dz = z1 @ step
            if t_max == 1.0 and fmax <= 1e-3 * n:
                # quadratic-convergence region: full Newton step
                t = 1.0
                eta += dz
            else:
                # backtracking on the orthant objective  nll + n*lam*s'b
                phi0 = _nll(eta, y) + float(shift @ theta)
                slope = -float(f @ step)
                t = t_max
                accepted = False
                for _ in range(60):
                    eta_t = eta + t * dz
                    phi_t = _nll(eta_t, y) + float(shift @ (theta + t * step))
                    if phi_t <= phi0 + 1e-4 * t * slope + 1e-13 * abs(phi0):
                        accepted = True
                        break
                    t *= 0.5
                if not accepted:
                    return it, support, signs, 2
                eta = eta_t
            theta += t * step
            if j_cross >= 0 and t == t_max:
                # coefficient j_cross reached zero: drop it from the support
                theta[1 + j_cross] = 0.0
                self.b0 = float(theta[0])
                self.beta[support] = theta[1:]
                keep = np.ones(support.size, dtype=bool)
                keep[j_cross] = False
                return it, support[keep], signs[keep], 1
            pr = expit(eta)
        else:
            self.b0, self.beta[support] = float(theta[0]), theta[1:]
            return it, support, signs, 2
        self.b0, self.beta[support] = float(theta[0]), theta[1:]
        if have_jac:
            self._pred = (support, signs, jac)
        return it, support, signs, 0

    def _kkt(self, lam: float) -> tuple[FloatArray, float]:
        eta = self.b0 + self.z @ self.beta
        r = self.y - expit(eta)
        g = self.z.T @ r / self.n
        return g, abs(float(r.sum())) / self.n

    def solve_newton(self, lam: float) -> tuple[bool, int]:
        support = np.flatnonzero(self.beta != 0.0)
        signs = np.sign(self.beta[support])
        total = 0
        for _ in range(4 * self.p + 50):
            it, support, signs, status = self._newton(lam, support, signs)
            total += it
            if status == 0:
                return True, total
            if status == 2:
                return False, total
        return False, total

    # -- robust fallback: proximal Newton with coordinate descent (glmnet's scheme)
    def solve_cd(self, lam: float) -> tuple[bool, int]:
        self.n_fallback += 1
        z, y, n = self.z, self.y, self.n
        nlam = n * lam
        b0, beta = self.b0, self.beta.copy()
        cols = np.flatnonzero(self.usable)
        total = 0
        for _outer in range(self.max_iter):
            total += 1
            eta = b0 + z @ beta
            pr = expit(eta)
            w = np.maximum(pr * (1.0 - pr), 1e-10)
            res = (y - pr) / w
            xv = (w[:, None] * z * z).sum(axis=0)
            for _sweep in range(10_000):
                dmax = 0.0
                for j in cols:
                    zj = z[:, j]
                    old = beta[j]
                    u = float(zj @ (w * res)) + old * xv[j]
                    new = np.sign(u) * max(abs(u) - nlam, 0.0) / xv[j]
                    if new != old:
                        res -= zj * (new - old)
                        beta[j] = new
                        dmax = max(dmax, xv[j] * (new - old) ** 2)
                d = float((w * res).sum() / w.sum())
                b0 += d
                res -= d
                dmax = max(dmax, float(w.sum()) * d * d)
                if dmax < 1e-3 * self.thresh**2 * n:
                    break
            self.b0, self.beta = b0, beta.copy()
            g, g0 = self._kkt(lam)
            kkt = np.where(beta != 0, np.abs(g - lam * np.sign(beta)),
                           np.maximum(np.abs(g) - lam, 0.0))
            if max(float(kkt.max(initial=0.0)), g0) <= self.thresh:
                return True, total
        return False, total

    def solve(self, lam: float) -> tuple[bool, int]:
        start_b0, start_beta = self.b0, self.beta.copy()
        self.predict(lam)
        self._pred = None
        ok, it = self.solve_newton(lam)
        self.prev_lam = lam
        if ok:
            return ok, it
        self.prev_lam = None
        self.b0, self.beta = start_b0, start_beta
        ok2, it2 = self.solve_cd(lam)
        if ok2:
            # polish the CD solution with Newton on its support
            ok3, it3 = self.solve_newton(lam)
            if ok3:
                return True, it + it2 + it3
        return ok2, it + it2


def _deviance(eta: FloatArray, y: FloatArray) -> float:
    return 2.0 * _nll(eta, y)


def _fit_path(x: FloatArray, y: FloatArray, lambdas: FloatArray | None, *, n_lambda: int,
              lambda_min_ratio: float | None, standardize: bool, thresh: float,
              max_iter: int, early_stop: bool) -> tuple[FloatArray, FloatArray, FloatArray,
                                                        FloatArray, npt.NDArray[np.bool_],
                                                        float, int]:
    """Fit a decreasing path.

    Returns (lambdas, b0_orig, coef_orig, dev_ratio, converged, null_deviance, n_iter).
    """
    z, xm, xs = _standardize(x, standardize)
    n, p = z.shape
    solver = _Solver(z, y, thresh, max_iter)
    null_dev = _deviance(np.full(n, solver.b0), y)
    user = lambdas is not None
    if lambdas is None:
        lambdas = _lambda_sequence(z, y, n_lambda, lambda_min_ratio)
    m = lambdas.size
    betas = np.zeros((m, p))
    b0s = np.zeros(m)
    devr = np.zeros(m)
    conv = np.ones(m, dtype=bool)
    n_iter = 0
    last = m
    for k in range(m):
        ok, it = solver.solve(float(lambdas[k]))
        n_iter += it
        conv[k] = ok
        betas[k] = solver.beta
        b0s[k] = solver.b0
        eta = solver.b0 + z @ solver.beta
        devr[k] = 1.0 - _deviance(eta, y) / null_dev
        # glmnet's early stopping (only for its own lambda sequence)
        if (early_stop and not user and k + 1 >= _MNLAM
                and (devr[k] > _DEVMAX or devr[k] - devr[k - 1] < _FDEV)):
            last = k + 1
            break
    lambdas = lambdas[:last]
    betas, b0s, devr, conv = betas[:last], b0s[:last], devr[:last], conv[:last]
    safe = np.where(xs > 0, xs, 1.0)
    coef = np.where(xs > 0, betas / safe, 0.0)
    icpt = b0s - coef @ xm
    return lambdas, icpt, coef, devr, conv, null_dev, n_iter


def _lambda_sequence(z: FloatArray, y: FloatArray, n_lambda: int,
                     lambda_min_ratio: float | None) -> FloatArray:
    n, p = z.shape
    lam_max = float(np.max(np.abs(z.T @ (y - y.mean())))) / n
    if lambda_min_ratio is None:
        lambda_min_ratio = 0.01 if n < p else 1e-4
    if n_lambda == 1:
        return np.array([lam_max])
    k = np.arange(n_lambda, dtype=np.float64)
    out: FloatArray = lam_max * np.exp(k / (n_lambda - 1) * np.log(lambda_min_ratio))
    return out


# --------------------------------------------------------------------------- public API
def glmnet_lambda_sequence(X: Any, y: Any, *, n_lambda: int = 100,
                           lambda_min_ratio: float | None = None,
                           standardize: bool = True) -> FloatArray:
    """glmnet's default penalty sequence for a binomial LASSO.

    :math:`\\lambda_{max} = \\max_j |\\tilde x_j^\\top (y - \\bar y)|/N` on the
    standardised predictors (the smallest penalty with all coefficients zero),
    then ``n_lambda`` values log-spaced down to ``lambda_min_ratio *
    lambda_max``; ``lambda_min_ratio`` defaults to 0.01 if N < p else 1e-4.
    ``glmnet`` may stop the path early (see :func:`lasso_path`).
    """
    caller = "glmnet_lambda_sequence"
    x, yy, _ = _prepare(X, y, caller)
    n_lambda = check_positive_int(n_lambda, caller=caller, param="n_lambda")
    if lambda_min_ratio is not None:
        lambda_min_ratio = _check_ratio(lambda_min_ratio, caller)
    z, _, _ = _standardize(x, standardize)
    return _lambda_sequence(z, yy, n_lambda, lambda_min_ratio)


def _check_ratio(value: Any, caller: str) -> float:
    v = _check_tol(value, caller, "lambda_min_ratio")
    if v >= 1.0:
        raise param_error("lambda_min_ratio", caller, "a float in (0, 1)", value)
    return v


def lasso_logistic(X: Any, y: Any, *, lam: float, standardize: bool = True,
                   thresh: float = 1e-10, max_iter: int = 1000) -> LassoResult:
    """LASSO logistic regression at one penalty, equal to glmnet's solution.

    Parameters
    ----------
    X : array-like or DataFrame, shape (n, p)
        Predictors (finite).  Constant columns get a zero coefficient.
    y : array-like, shape (n,)
        Binary outcome, 1 = event.
    lam : float
        Penalty :math:`\\lambda \\ge 0` on the scale of glmnet's ``lambda``.
    standardize : bool, optional
        Standardise with the 1/N SD before penalising (glmnet ``standardize=TRUE``);
        coefficients are always returned on the original scale.
    thresh : float, optional
        Tolerance on the KKT conditions (gradient of the objective, per observation).
    max_iter : int, optional
        Maximum Newton iterations per support change.

    Returns
    -------
    LassoResult

    Notes
    -----
    Equal to ``coef(glmnet(x, y, family="binomial", alpha=1, standardize=TRUE,
    lambda=lam, thresh=1e-14))``.  Measured on ``tests/reference/glmnet.json``:
    standardised coefficients agree to 2.3e-6 absolute (1.2e-6 relative) and the
    supports are identical; the difference is glmnet's: even at ``thresh=1e-14`` its
    solutions violate the KKT conditions by 1e-9..1e-8, radval's by at most 1e-11.  glmnet itself
    solves along a path from ``lambda_max``; the LASSO logistic solution is unique
    when the active predictors are in general position, so the answer does not
    depend on the route.  With complete separation and a tiny ``lam`` the
    coefficients diverge; a :class:`~radval.exceptions.ConvergenceWarning` is emitted
    if the KKT tolerance is not reached.
    """
    caller = "lasso_logistic"
    x, yy, names = _prepare(X, y, caller)
    try:
        lam_f = float(lam)
    except (TypeError, ValueError) as exc:
        raise param_error("lam", caller, "a float >= 0", lam) from exc
    if not (np.isfinite(lam_f) and lam_f >= 0):
        raise param_error("lam", caller, "a float >= 0", lam)
    thresh = _check_tol(thresh, caller, "thresh")
    max_iter = check_positive_int(max_iter, caller=caller, param="max_iter")
    # follow a short warm-start path from lambda_max (much more robust for small lam)
    z, _, _ = _standardize(x, standardize)
    lam_max = float(np.max(np.abs(z.T @ (yy - yy.mean())))) / x.shape[0]
    if lam_f < lam_max:
        n_steps = int(np.ceil(np.log(lam_max / max(lam_f, 1e-300)) / np.log(1 / 0.85)))
        n_steps = min(n_steps, 200)
        grid = np.unique(np.concatenate([
            lam_max * np.exp(-np.arange(n_steps) * np.log(1 / 0.85)), [lam_f]]))[::-1]
        grid = grid[grid >= lam_f]
    else:
        grid = np.array([lam_f])
    lams, icpt, coef, devr, conv, null_dev, n_iter = _fit_path(
        x, yy, grid, n_lambda=grid.size, lambda_min_ratio=None, standardize=standardize,
        thresh=thresh, max_iter=max_iter, early_stop=False)
    converged = bool(conv[-1])
    if not converged:
        import warnings

        warnings.warn(f"lasso_logistic did not reach the KKT tolerance {thresh:g} at "
                      f"lam={lam_f:g} (separable data or tiny penalty?)",
                      ConvergenceWarning, stacklevel=2)
    return LassoResult(intercept=float(icpt[-1]), coef=coef[-1].copy(), lam=lam_f,
                       feature_names=names, n_iter=n_iter, converged=converged,
                       null_deviance=null_dev, deviance=null_dev * (1.0 - float(devr[-1])),
                       dev_ratio=float(devr[-1]))


def lasso_path(X: Any, y: Any, *, lambdas: Any = None, n_lambda: int = 100,
               lambda_min_ratio: float | None = None, standardize: bool = True,
               thresh: float = 1e-10, max_iter: int = 1000) -> LassoPath:
    """LASSO logistic regularisation path with glmnet's penalty sequence and warm starts.

    Parameters
    ----------
    X, y
        As :func:`lasso_logistic`.
    lambdas : array-like, optional
        Penalties (sorted decreasing, as glmnet does).  When given, no early stopping.
    n_lambda : int, optional
        Length of the default sequence (see :func:`glmnet_lambda_sequence`).
    lambda_min_ratio : float, optional
        Smallest penalty as a fraction of ``lambda_max``; default 0.01 if N < p else 1e-4.
    standardize, thresh, max_iter
        As :func:`lasso_logistic`.

    Returns
    -------
    LassoPath

    Notes
    -----
    With the default sequence glmnet stops the path early (``glmnet.control``:
    ``mnlam=5``, ``fdev=1e-5``, ``devmax=0.999``): from the 5th penalty on, it stops after
    the first penalty whose deviance ratio exceeds 0.999 or improves on the previous
    one by less than 1e-5.  The same rules are applied here.
    """
    caller = "lasso_path"
    x, yy, names = _prepare(X, y, caller)
    n_lambda = check_positive_int(n_lambda, caller=caller, param="n_lambda")
    if lambda_min_ratio is not None:
        lambda_min_ratio = _check_ratio(lambda_min_ratio, caller)
    lam_arr = None if lambdas is None else _check_lambdas(lambdas, caller)
    thresh = _check_tol(thresh, caller, "thresh")
    max_iter = check_positive_int(max_iter, caller=caller, param="max_iter")
    lams, icpt, coef, devr, conv, null_dev, _ = _fit_path(
        x, yy, lam_arr, n_lambda=n_lambda, lambda_min_ratio=lambda_min_ratio,
        standardize=standardize, thresh=thresh, max_iter=max_iter, early_stop=True)
    if not conv.all():
        import warnings

        warnings.warn(f"lasso_path: {int((~conv).sum())} of {conv.size} penalties did not reach "
                      f"the KKT tolerance {thresh:g}", ConvergenceWarning, stacklevel=2)
    return LassoPath(lambdas=lams, coef=coef, intercepts=icpt,
                     nzero=(coef != 0).sum(axis=1).astype(np.int64), dev_ratio=devr,
                     null_deviance=null_dev, feature_names=names, converged=conv)


def _interp_path(lk: FloatArray, icpt: FloatArray, coef: FloatArray,
                 s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Coefficients at penalties ``s`` by glmnet's ``lambda.interp``.

    Linear interpolation in lambda between the neighbouring path penalties, with
    ``s`` clamped to the range of the path.
    """
    if lk.size == 1:
        return np.full(s.size, icpt[0]), np.repeat(coef[:1], s.size, axis=0)
    xs = lk[::-1]  # increasing
    ic = np.interp(s, xs, icpt[::-1])
    cf = np.empty((s.size, coef.shape[1]))
    for j in range(coef.shape[1]):
        cf[:, j] = np.interp(s, xs, coef[::-1, j])
    return ic, cf


def _single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread if threadpoolctl is installed (small matrices, shared cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _fold_ids(n: int, n_folds: int, rng: Any) -> npt.NDArray[np.int64]:
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    base = np.resize(np.arange(1, n_folds + 1, dtype=np.int64), n)
    return np.asarray(gen.permutation(base), dtype=np.int64)


def cv_lasso_logistic(X: Any, y: Any, *, n_folds: int = 10, foldid: Any = None,
                      type_measure: str = "deviance", rng: Any = None, lambdas: Any = None,
                      n_lambda: int = 100, lambda_min_ratio: float | None = None,
                      standardize: bool = True, thresh: float = 1e-10,
                      max_iter: int = 1000) -> LassoCVResult:
    """K-fold cross-validated LASSO logistic path, as ``cv.glmnet``.

    Parameters
    ----------
    X, y
        As :func:`lasso_logistic`.
    n_folds : int, optional
        Number of folds (ignored when ``foldid`` is given).
    foldid : array-like of int, optional
        Fold of each observation, values 1..K (R's ``foldid``); reproduces an R run.
    type_measure : {"deviance", "auc"}, optional
        CV loss.  As cv.glmnet, ``"auc"`` falls back to ``"deviance"`` (with a
        :class:`~radval.exceptions.SmallSampleWarning`) when N/K < 10.
    rng : int or numpy.random.Generator, optional
        Seed for the fold assignment ``permutation(resize(1..K, N))`` (the analogue of
        R's ``sample(rep(seq(nfolds), length = N))``).
    lambdas : array-like, optional
        Penalty sequence; default: the full-data glmnet sequence (after early stopping).
    n_lambda, lambda_min_ratio, standardize, thresh, max_iter
        As :func:`lasso_path`.

    Returns
    -------
    LassoCVResult

    Notes
    -----
    As ``cv.glmnet``: without ``lambdas`` each fold's model is fitted on the other
    folds along its *own* default glmnet sequence (with early stopping) and
    evaluated at the full-data penalties by glmnet's ``lambda.interp`` (linear
    interpolation of the coefficients in lambda, clamped to the fold's range); with
    ``lambdas`` every fold uses exactly those penalties.  The held-out linear
    predictors give, per fold
    :math:`k` and penalty, the mean binomial deviance
    :math:`-2\\,\\overline{[y\\log\\hat p + (1-y)\\log(1-\\hat p)]}` with
    :math:`\\hat p` clipped to :math:`[10^{-5}, 1-10^{-5}]`, or the fold AUC (ties
    1/2).  With fold sizes :math:`n_k` as weights,
    :math:`\\mathrm{cvm} = \\sum_k n_k e_k / \\sum_k n_k` and
    :math:`\\mathrm{cvsd} = \\sqrt{\\sum_k n_k (e_k - \\mathrm{cvm})^2 / \\sum_k n_k / (K-1)}`.
    ``lambda_min`` is the largest penalty attaining the minimum (AUC: maximum) and
    ``lambda_1se`` the largest penalty with ``cvm <= cvm_min + cvsd_min`` (AUC:
    ``cvm >= cvm_max - cvsd_max``), as ``getOptcv.glmnet``.
    """
    caller = "cv_lasso_logistic"
    x, yy, names = _prepare(X, y, caller)
    n = x.shape[0]
    type_measure = check_choice(type_measure, ("deviance", "auc"), caller=caller,
                                param="type_measure")
    thresh = _check_tol(thresh, caller, "thresh")
    max_iter = check_positive_int(max_iter, caller=caller, param="max_iter")
    n_lambda = check_positive_int(n_lambda, caller=caller, param="n_lambda")
    if lambda_min_ratio is not None:
        lambda_min_ratio = _check_ratio(lambda_min_ratio, caller)
    if foldid is None:
        n_folds = check_positive_int(n_folds, caller=caller, param="n_folds", minimum=3)
        if n_folds > n:
            raise param_error("n_folds", caller, f"at most the number of observations ({n})",
                              n_folds)
        folds = _fold_ids(n, n_folds, rng)
    else:
        try:
            folds = np.asarray(foldid).astype(np.int64).ravel()
        except (TypeError, ValueError) as exc:
            raise param_error("foldid", caller, "integers 1..K", foldid) from exc
        if folds.size != n:
            raise param_error("foldid", caller, f"of length {n} (one fold per observation)",
                              f"length {folds.size}")
        k_max = int(folds.max())
        if folds.min() < 1 or set(np.unique(folds).tolist()) != set(range(1, k_max + 1)):
            raise param_error("foldid", caller, "integers covering 1..K", np.unique(folds))
        n_folds = k_max
        if n_folds < 3:
            raise param_error("foldid", caller, "at least 3 folds", f"{n_folds} fold(s)")
    lam_arr = None if lambdas is None else _check_lambdas(lambdas, caller)
    with _single_thread_blas():
        return _cv_core(x, yy, names, folds, n_folds, type_measure, lam_arr, n_lambda,
                        lambda_min_ratio, standardize, thresh, max_iter)


def _cv_core(x: FloatArray, yy: FloatArray, names: list[str] | None,
             folds: npt.NDArray[np.int64], n_folds: int, type_measure: str,
             lam_arr: FloatArray | None, n_lambda: int, lambda_min_ratio: float | None,
             standardize: bool, thresh: float, max_iter: int) -> LassoCVResult:
    n = x.shape[0]
    full = lasso_path(x, yy, lambdas=lam_arr, n_lambda=n_lambda,
                      lambda_min_ratio=lambda_min_ratio, standardize=standardize,
                      thresh=thresh, max_iter=max_iter)
    if names is not None:
        full = dataclasses.replace(full, feature_names=names)
    lams = full.lambdas
    m = lams.size
    if type_measure == "auc" and n / n_folds < 10:
        import warnings

        warnings.warn("Too few (< 10) observations per fold for type_measure='auc'; "
                      "changed to type_measure='deviance' (as cv.glmnet)",
                      SmallSampleWarning, stacklevel=2)
        type_measure = "deviance"
    cvraw = np.empty((n_folds, m))
    wts = np.empty(n_folds)
    for k in range(1, n_folds + 1):
        test = folds == k
        train = ~test
        ytr = yy[train]
        if ytr.min() == ytr.max():
            raise InputError(f"cv_lasso_logistic: the training data of fold {k} hold one "
                             "outcome class; use fewer folds or stratified fold ids")
        if lam_arr is None:
            # cv.glmnet without `lambda`: each fold fits its own default sequence and is
            # predicted at the full-data penalties by glmnet's lambda.interp
            lk, icpt, coef, _, _, _, _ = _fit_path(
                x[train], ytr, None, n_lambda=n_lambda, lambda_min_ratio=lambda_min_ratio,
                standardize=standardize, thresh=thresh, max_iter=max_iter, early_stop=True)
            icpt, coef = _interp_path(lk, icpt, coef, lams)
        else:
            lk, icpt, coef, _, _, _, _ = _fit_path(
                x[train], ytr, lams, n_lambda=m, lambda_min_ratio=None,
                standardize=standardize, thresh=thresh, max_iter=max_iter, early_stop=False)
        eta = x[test] @ coef.T + icpt[None, :]
        prob = expit(eta)
        yt = yy[test]
        wts[k - 1] = test.sum()
        if type_measure == "deviance":
            pc = np.clip(prob, _PROB_MIN, 1.0 - _PROB_MIN)
            dev = -2.0 * (yt[:, None] * np.log(pc) + (1.0 - yt[:, None]) * np.log1p(-pc))
            cvraw[k - 1] = dev.mean(axis=0)
        else:
            cvraw[k - 1] = rank_auc(yt, prob)
    ok = np.isfinite(cvraw)
    wmat = np.where(ok, wts[:, None], 0.0)
    raw0 = np.where(ok, cvraw, 0.0)
    cvm = (wmat * raw0).sum(axis=0) / wmat.sum(axis=0)
    n_good = ok.sum(axis=0)
    cvsd = np.sqrt((wmat * (raw0 - cvm) ** 2).sum(axis=0) / wmat.sum(axis=0) / (n_good - 1))
    crit = -cvm if type_measure == "auc" else cvm
    best = float(np.nanmin(crit))
    idx_min = int(np.flatnonzero(crit <= best)[0])  # lambdas decrease: first = largest
    semin = crit[idx_min] + cvsd[idx_min]
    idx_1se = int(np.flatnonzero(crit <= semin)[0])
    return LassoCVResult(lambdas=lams, cvm=cvm, cvsd=cvsd, cvup=cvm + cvsd, cvlo=cvm - cvsd,
                         nzero=full.nzero, lambda_min=float(lams[idx_min]),
                         lambda_1se=float(lams[idx_1se]), index_min=idx_min,
                         index_1se=idx_1se, foldid=folds, type_measure=type_measure,
                         n_folds=n_folds, path=full)
