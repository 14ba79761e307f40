"""Empirical-Bayes kernels of ComBat (Johnson, Li & Rabinovic 2007), as R ``sva`` codes them.

All arrays here are one batch's standardised data ``s`` of shape ``(n_batch, p)``
(samples x features) and per-feature vectors of length ``p``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radval.exceptions import ConvergenceWarning

FloatArray = npt.NDArray[np.float64]

#: sva's it.sol convergence threshold on the relative change.
IT_SOL_CONV = 1e-4
#: Safety cap; sva iterates without one (convergence takes ~5-30 iterations).
IT_SOL_MAX_ITER = 10_000


@dataclass(frozen=True)
class BatchEstimates:
    """One batch's location/scale estimates, priors and posterior (EB) values."""

    gamma_hat: FloatArray
    delta_hat: FloatArray
    gamma_bar: float
    t2: float
    a_prior: float
    b_prior: float
    gamma_star: FloatArray
    delta_star: FloatArray


def aprior(delta_hat: FloatArray) -> float:
    """Method-of-moments shape of the inverse-gamma prior on the batch variances."""
    m = float(np.mean(delta_hat))
    s2 = float(np.var(delta_hat, ddof=1))
    return (2.0 * s2 + m**2) / s2


def bprior(delta_hat: FloatArray) -> float:
    """Method-of-moments scale of the inverse-gamma prior on the batch variances."""
    m = float(np.mean(delta_hat))
    s2 = float(np.var(delta_hat, ddof=1))
    return (m * s2 + m**3) / s2


def postmean(g_hat: FloatArray, g_bar: float, n: float | FloatArray, d_star: float | FloatArray,
             t2: float) -> FloatArray:
    """Posterior mean of the additive batch effect (normal prior)."""
    return np.asarray((t2 * n * g_hat + d_star * g_bar) / (t2 * n + d_star), dtype=np.float64)


def postvar(sum2: FloatArray, n: float, a: float, b: float) -> FloatArray:
    """Posterior mean of the multiplicative batch effect (inverse-gamma prior)."""
    return np.asarray((0.5 * sum2 + b) / (n / 2.0 + a - 1.0), dtype=np.float64)


def it_sol(s: FloatArray, g_hat: FloatArray, d_hat: FloatArray, g_bar: float, t2: float,
           a: float, b: float) -> tuple[FloatArray, FloatArray]:
    """Parametric EB: iterate the two posterior means until sva's stopping rule holds.

    The change is ``max(|new - old| / old)`` over both vectors, *without* ``abs`` on the
    denominator (sva's ``it.sol``): a feature whose estimate is negative never holds the
    iteration back.  Iterating to full convergence would differ from sva by ~1e-7.
    """
    n = float(s.shape[0])
    g_old, d_old = g_hat, d_hat
    g_new, d_new = g_hat, d_hat
    change = 1.0
    count = 0
    while change > IT_SOL_CONV:
        g_new = postmean(g_hat, g_bar, n, d_old, t2)
        sum2 = ((s - g_new[None, :]) ** 2).sum(axis=0)
        d_new = postvar(sum2, n, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = float(max(np.max(np.abs(g_new - g_old) / g_old),
                               np.max(np.abs(d_new - d_old) / d_old)))
        g_old, d_old = g_new, d_new
        count += 1
        if count >= IT_SOL_MAX_ITER:
            warnings.warn(f"ComBat: the parametric empirical-Bayes iteration did not reach "
                          f"a relative change below {IT_SOL_CONV} in {count} iterations.",
                          ConvergenceWarning, stacklevel=4)
            break
    return g_new, d_new


def int_eprior(s: FloatArray, g_hat: FloatArray, d_hat: FloatArray, *,
               chunk: int = 256) -> tuple[FloatArray, FloatArray]:
    """Non-parametric EB (sva ``int.eprior``): average the other features' estimates.

    For feature ``g`` the posterior is a weighted mean of the other features'
    ``(gamma_hat_j, delta_hat_j)``, weighted by the normal likelihood of feature ``g``'s
    data under ``N(gamma_hat_j, delta_hat_j)``.  The weights are normalised in log
    space (sva multiplies raw densities, which underflow for large batches; where sva's
    do not underflow the results agree to rounding).
    """
    n, p = s.shape
    sum_x = s.sum(axis=0)
    sum_x2 = (s**2).sum(axis=0)
    log_norm = -0.5 * n * np.log(2.0 * np.pi * d_hat)
    g_star = np.empty(p)
    d_star = np.empty(p)
    for start in range(0, p, chunk):
        rows = np.arange(start, min(start + chunk, p))
        # sum_i (x_gi - g_j)^2 for every feature g of the block and every candidate j
        sum2 = (sum_x2[rows, None] - 2.0 * sum_x[rows, None] * g_hat[None, :]
                + n * g_hat[None, :] ** 2)
        log_lh = log_norm[None, :] - sum2 / (2.0 * d_hat[None, :])
        log_lh[np.arange(rows.size), rows] = -np.inf          # leave feature g out
        log_lh -= np.max(log_lh, axis=1, keepdims=True)
        w = np.exp(log_lh)
        w /= w.sum(axis=1, keepdims=True)
        g_star[rows] = w @ g_hat
        d_star[rows] = w @ d_hat
    return g_star, d_star


def estimate_batch(s: FloatArray, gamma_hat: FloatArray, *, mean_only: bool,
                   parametric: bool, empirical_bayes: bool, t2: float | None = None,
                   delta_cv2: float | None = None) -> BatchEstimates:
    """Priors and adjusted (``*_star``) parameters of one batch from its standardised data.

    ``gamma_hat`` is passed in because with a reference batch sva estimates it from the
    whole batch design; for every other case it is the column mean of ``s``.

    ``t2`` and ``delta_cv2`` override the batch's own prior dispersions (used for a new
    site with ``unseen_prior="development"``): the normal prior on the location keeps
    the batch's mean ``gamma_bar`` with variance ``t2``; the inverse-gamma prior on the
    scale keeps the batch's mean ``m`` of ``delta_hat`` with squared coefficient of
    variation ``delta_cv2``, i.e. ``a = 2 + 1/delta_cv2``, ``b = m (a - 1)`` (the
    method-of-moments relations of ``aprior``/``bprior``).
    """
    n, p = s.shape
    if mean_only:
        delta_hat = np.ones(p)
    else:
        delta_hat = s.var(axis=0, ddof=1)
    gamma_bar = float(np.mean(gamma_hat))
    if t2 is None:
        t2 = float(np.var(gamma_hat, ddof=1)) if p > 1 else float("nan")
    if mean_only:
        a = b = float("nan")
    elif delta_cv2 is not None:
        a = 2.0 + 1.0 / delta_cv2
        b = float(np.mean(delta_hat)) * (a - 1.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = aprior(delta_hat), bprior(delta_hat)
    if not empirical_bayes:
        # neuroCombat eb=False: the batch's own least-squares estimates
        g_star, d_star = gamma_hat.copy(), delta_hat.copy()
    elif parametric:
        if mean_only:
            g_star = postmean(gamma_hat, gamma_bar, 1.0, 1.0, t2)
            d_star = np.ones(p)
        else:
            g_star, d_star = it_sol(s, gamma_hat, delta_hat, gamma_bar, t2, a, b)
    else:
        g_star, d_star = int_eprior(s, gamma_hat, delta_hat)
    return BatchEstimates(gamma_hat=gamma_hat, delta_hat=delta_hat, gamma_bar=gamma_bar, t2=t2,
                          a_prior=a, b_prior=b, gamma_star=g_star, delta_star=d_star)
