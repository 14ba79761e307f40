"""Univariate imputation models, as R ``mice`` 3.15 computes them.

* :func:`estimice` / :func:`norm_draw`: the Bayesian linear-regression draw of
  ``mice:::.norm.draw`` (least squares by QR, ridge fallback for collinear designs,
  :math:`\\sigma^* = \\sqrt{RSS/\\chi^2_{df}}`, :math:`\\beta^* = \\hat\\beta +
  L z \\sigma^*` with :math:`LL^\\top = (X^\\top X)^{-1}`);
* :func:`pmm_match`: predictive mean matching (type-1 matching: observed cases get
  :math:`X\\hat\\beta`, missing cases :math:`X\\beta^*`; one of the ``donors``
  closest observed cases is drawn at random);
* :func:`augment` and :func:`fit_multinomial`: mice's ``augment()`` pseudo-observations
  against perfect prediction, and a weighted multinomial logistic regression (for two
  classes it is ``glm.fit(family = quasibinomial)`` with prior weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: mice's default ridge penalty (``estimice(ridge = 1e-05)``).
RIDGE = 1e-5


@dataclass(frozen=True)
class LeastSquares:
    """``estimice`` output: coefficients, residuals, unscaled covariance, residual df."""

    coef: FloatArray
    residuals: FloatArray
    v: FloatArray
    df: int


def _independent_columns(x: FloatArray) -> npt.NDArray[np.bool_]:
    """Columns kept by a pivoting QR that moves aliased columns to the end (``dqrdc2``)."""
    keep = np.zeros(x.shape[1], dtype=bool)
    scale = np.linalg.norm(x, axis=0)
    tol = 1e-7
    basis: list[FloatArray] = []
    for j in range(x.shape[1]):
        col = x[:, j].copy()
        for q in basis:
            col -= (q @ col) * q
        norm = np.linalg.norm(col)
        if scale[j] > 0 and norm > tol * scale[j]:
            keep[j] = True
            basis.append(col / norm)
    return keep


def estimice(x: FloatArray, y: FloatArray, *, ridge: float = RIDGE) -> LeastSquares:
    """Least squares as ``mice:::estimice(ls.meth = "qr")``.

    ``x`` includes the intercept column.  For a full-rank design, ``v`` is
    :math:`(R^\\top R)^{-1} = (X^\\top X)^{-1}`; for a rank-deficient one the aliased
    coefficients are 0 (lm.fit's NA, set to 0 by mice's ``rank.adjust``) and ``v`` is
    the ridge inverse :math:`(X^\\top X + \\mathrm{diag}(\\kappa\\, \\mathrm{diag}
    (X^\\top X)))^{-1}`.
    """
    n, p = x.shape
    df = max(n - p, 1)
    q, r = np.linalg.qr(x)
    diag = np.abs(np.diag(r))
    if n >= p and diag.min() > 1e-7 * max(diag.max(), 1e-300):
        coef = np.linalg.solve(r, q.T @ y)
        r_inv = np.linalg.solve(r, np.eye(p))
        v = r_inv @ r_inv.T
    else:
        keep = _independent_columns(x)
        coef = np.zeros(p)
        if keep.any():
            coef[keep] = np.linalg.lstsq(x[:, keep], y, rcond=None)[0]
        xtx = x.T @ x
        try:
            v = np.linalg.inv(xtx + np.diag(ridge * np.diag(xtx)))
        except np.linalg.LinAlgError:
            # an all-zero predictor column (no penalty on it): generalised inverse
            v = np.linalg.pinv(xtx + np.diag(ridge * np.diag(xtx)))
    return LeastSquares(coef=coef, residuals=y - x @ coef, v=v, df=df)


def _sym(a: FloatArray) -> FloatArray:
    return np.asarray((a + a.T) / 2.0, dtype=np.float64)


def _chol_lower(v: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.cholesky(_sym(v)), dtype=np.float64)
    except np.linalg.LinAlgError:
        # numerically indefinite: tiny jitter on the diagonal keeps the draw defined
        jitter = 1e-10 * max(float(np.max(np.abs(np.diag(v)))), 1e-300)
        return np.asarray(np.linalg.cholesky(_sym(v) + jitter * np.eye(v.shape[0])),
                          dtype=np.float64)


def norm_draw(x: FloatArray, y: FloatArray, *, chisq: float, z: FloatArray,
              ridge: float = RIDGE) -> tuple[FloatArray, FloatArray, float]:
    """``mice:::.norm.draw`` given its random numbers.

    Parameters
    ----------
    x : ndarray, shape (n_obs, p)
        Design of the observed cases, intercept included.
    y : ndarray, shape (n_obs,)
    chisq : float
        A draw from :math:`\\chi^2_{df}`, ``df = max(n_obs - p, 1)``.
    z : ndarray, shape (p,)
        Standard normal draws.

    Returns
    -------
    coef, beta_star, sigma_star
    """
    ls = estimice(x, y, ridge=ridge)
    sigma = float(np.sqrt(np.sum(ls.residuals**2) / chisq))
    beta = ls.coef + (_chol_lower(ls.v) @ z) * sigma
    return ls.coef, beta, sigma


def draw_norm(x: FloatArray, y: FloatArray, rng: np.random.Generator
              ) -> tuple[FloatArray, FloatArray, float]:
    """:func:`norm_draw` with its chi-square and normal draws taken from ``rng``."""
    df = max(x.shape[0] - x.shape[1], 1)
    chisq = float(rng.chisquare(df))
    z = np.asarray(rng.standard_normal(x.shape[1]), dtype=np.float64)
    return norm_draw(x, y, chisq=chisq, z=z)


def pmm_match(yhat_obs: FloatArray, yhat_mis: FloatArray, donors: int,
              rng: np.random.Generator) -> IntArray:
    """Index (into the observed cases) of the donor drawn for each missing case.

    The ``donors`` observed cases with the closest predicted mean are candidates and
    one is drawn uniformly; ties are broken at random (as mice's ``matchindex``).
    """
    n_obs = yhat_obs.size
    d = max(1, min(donors, n_obs))
    # a random permutation before a stable sort breaks ties in the predicted means at random
    perm = rng.permutation(n_obs)
    order = perm[np.argsort(yhat_obs[perm], kind="stable")]
    sorted_vals = yhat_obs[order]
    width = min(2 * d, n_obs)
    pos = np.searchsorted(sorted_vals, yhat_mis)
    start = np.clip(pos - d, 0, n_obs - width)
    cand = start[:, None] + np.arange(width)[None, :]
    dist = np.abs(sorted_vals[cand] - yhat_mis[:, None])
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :d]
    pick = rng.integers(0, d, size=yhat_mis.size)
    chosen = cand[np.arange(yhat_mis.size), nearest[np.arange(yhat_mis.size), pick]]
    return np.asarray(order[chosen], dtype=np.int64)


def augment(y: FloatArray, x: FloatArray, levels: IntArray
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """mice's ``augment()``: ``2 p k`` weighted pseudo-observations.

    For each predictor (column of ``x``, no intercept) and each outcome level, two
    pseudo-cases at the predictor's mean +/- half its SD (clipped to its range), other
    predictors at their means, weight :math:`(p + 1) / (2 p k)` in total per case.
    They prevent perfect prediction (separation) without noticeably moving the fit.
    ``x`` holds every case (observed and missing outcome), as in mice.

    Returns
    -------
    x_aug, y_aug, w_aug : the pseudo-observations only (to append to the observed cases).
    """
    p = x.shape[1]
    k = levels.size
    if p == 0:
        return np.empty((0, 0)), np.empty(0), np.empty(0)
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros(p)
    nr = 2 * p * k
    pattern = np.concatenate([np.tile([0.5, -0.5], k), np.zeros(nr)])
    b = np.resize(pattern, nr * p).reshape(p, nr).T   # R fills the matrix by column
    d = mean[None, :] + b * sd[None, :]
    d = np.minimum(np.maximum(d, x.min(axis=0)[None, :]), x.max(axis=0)[None, :])
    e = np.tile(np.repeat(levels.astype(np.float64), 2), p)
    return d, e, np.full(nr, (p + 1) / nr)


def _softmax_rest(eta: FloatArray) -> FloatArray:
    """Class probabilities with class 0 as baseline; ``eta`` is (n, K-1)."""
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_multinomial(x: FloatArray, y: IntArray, w: FloatArray, n_classes: int, *,
                    max_iter: int = 100, tol: float = 1e-12) -> tuple[FloatArray, FloatArray]:
    """Weighted multinomial logistic regression (baseline category 0) by Newton-Raphson.

    Parameters
    ----------
    x : ndarray, shape (n, p)
        Design with intercept.
    y : ndarray of int, shape (n,)
        Class codes ``0 .. n_classes - 1``.
    w : ndarray, shape (n,)
        Prior weights.

    Returns
    -------
    coef : ndarray, shape (p, n_classes - 1)
    cov : ndarray, shape (p (K-1), p (K-1))
        Inverse of the (weighted) information matrix, parameters ordered class by
        class (all of class 1, then class 2, ...).  For two classes this is ``glm``'s
        ``cov.unscaled``.
    """
    n, p = x.shape
    kk = n_classes - 1
    onehot = (y[:, None] == np.arange(1, n_classes)[None, :]).astype(np.float64)
    theta: FloatArray = np.zeros(p * kk)

    def loglik(th: FloatArray) -> float:
        eta = x @ th.reshape(kk, p).T
        full = np.column_stack([np.zeros(n), eta])
        lse = np.logaddexp.reduce(full, axis=1)
        return float(np.sum(w * (np.sum(onehot * eta, axis=1) - lse)))

    def info(th: FloatArray) -> tuple[FloatArray, FloatArray]:
        prob = _softmax_rest(x @ th.reshape(kk, p).T)[:, 1:]
        grad = ((onehot - prob) * w[:, None]).T @ x          # (kk, p)
        h = np.empty((p * kk, p * kk))
        for c in range(kk):
            for d in range(c, kk):
                wt = w * prob[:, c] * ((c == d) - prob[:, d])
                block = x.T @ (x * wt[:, None])
                h[c * p:(c + 1) * p, d * p:(d + 1) * p] = block
                h[d * p:(d + 1) * p, c * p:(c + 1) * p] = block
        return grad.ravel(), h

    ll = loglik(theta)
    for _ in range(max_iter):
        grad, h = info(theta)
        try:
            step = np.linalg.solve(h, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, grad, rcond=None)[0]
        new = theta + step
        ll_new = loglik(new)
        halvings = 0
        while ll_new < ll - 1e-12 * (1 + abs(ll)) and halvings < 30:
            step /= 2.0
            new = theta + step
            ll_new = loglik(new)
            halvings += 1
        theta, ll_old, ll = new, ll, ll_new
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(theta))) or \
                abs(ll - ll_old) < tol * (abs(ll) + 0.1):
            break
    _, h = info(theta)
    try:
        cov = np.asarray(np.linalg.inv(h), dtype=np.float64)
    except np.linalg.LinAlgError:
        cov = np.asarray(np.linalg.pinv(h), dtype=np.float64)
    return np.asarray(theta.reshape(kk, p).T.copy(), dtype=np.float64), cov


def categorical_probabilities(x: FloatArray, coef: FloatArray) -> FloatArray:
    """Class probabilities ``(n, K)`` of a multinomial model with ``coef`` (p, K-1)."""
    return _softmax_rest(x @ coef)


def draw_categories(prob: FloatArray, rng: np.random.Generator) -> IntArray:
    """One class per row drawn from its probabilities (inverse CDF of a uniform)."""
    u = np.asarray(rng.random(prob.shape[0]), dtype=np.float64)
    cdf: FloatArray = np.cumsum(prob, axis=1)
    cdf[:, -1] = 1.0
    return np.asarray((u[:, None] > cdf).sum(axis=1), dtype=np.int64)
