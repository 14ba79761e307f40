"""Numerical kernels: one implementation per concept, used everywhere in radval.

* :func:`expit` / :func:`logit`: the logistic function and its inverse;
* :func:`wilson_interval`: Wilson score interval of binomial proportions (vectorised);
* :func:`rank_auc`: the AUC (= Mann-Whitney U / (n1 n0), ties 1/2) from midranks,
  vectorised over columns, and :func:`auc_from_rank_sum` for callers that already have
  the rank sums (the Mann-Whitney test);
* :func:`logistic_newton`: maximum-likelihood logistic regression with an optional
  offset, by Newton-Raphson (= IRLS for the canonical link) with step halving.

Statistics modules, the models, the selection and the feature extraction import these
instead of keeping their own copies, so that a numerical fix lands in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["LogisticNewtonFit", "auc_from_rank_sum", "expit", "logistic_newton", "logit",
           "rank_auc", "wilson_interval"]

FloatArray = npt.NDArray[np.float64]


def expit(x: npt.ArrayLike) -> FloatArray:
    """The logistic function :math:`1/(1+e^{-x})` (``scipy.special.expit``: no overflow)."""
    return np.asarray(special.expit(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def logit(p: npt.ArrayLike, *, eps: float | None = None) -> FloatArray:
    """:math:`\\log(p/(1-p))`; with ``eps``, ``p`` is first clipped to ``[eps, 1-eps]``
    (a probability of exactly 0 or 1 then gives a finite value)."""
    a = np.asarray(p, dtype=np.float64)
    if eps is not None:
        a = np.clip(a, eps, 1.0 - eps)
    with np.errstate(divide="ignore"):
        return np.asarray(special.logit(a), dtype=np.float64)


def wilson_interval(k: npt.ArrayLike, n: npt.ArrayLike, *, confidence_level: float = 0.95
                    ) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval of ``k`` successes in ``n`` trials, without continuity
    correction (R ``prop.test(correct=FALSE)``, epiR ``"wilson"``), clipped to [0, 1].

    .. math::

        \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}
             {1 + z^2/n},\\qquad z = \\Phi^{-1}(1 - \\alpha/2)

    Wilson EB (1927), J Am Stat Assoc 22:209-212.  NaN where ``n`` is 0.
    """
    kk = np.asarray(k, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    z = float(special.ndtri(1.0 - (1.0 - confidence_level) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        phat = kk / nn
        denom = 1.0 + z * z / nn
        centre = (phat + z * z / (2.0 * nn)) / denom
        half = z * np.sqrt(phat * (1.0 - phat) / nn + z * z / (4.0 * nn * nn)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def auc_from_rank_sum(rank_sum_pos: npt.ArrayLike, n_pos: int, n_neg: int) -> FloatArray:
    """AUC from the sum of the positives' midranks in the pooled sample:
    :math:`(R_1 - n_1(n_1+1)/2) / (n_1 n_0)` (= U / (n1 n0), ties counted 1/2).

    Both the numerator (a sum of half-integers) and the denominator are exact in floating
    point, so the result is the correctly rounded AUC whatever the order of the data.
    """
    r = np.asarray(rank_sum_pos, dtype=np.float64)
    return (r - n_pos * (n_pos + 1) / 2.0) / (float(n_pos) * float(n_neg))


def rank_auc(y: npt.ArrayLike, scores: npt.ArrayLike) -> Any:
    """AUC (concordance, ties 1/2) of each column of ``scores`` for 0/1 ``y``.

    Parameters
    ----------
    y : array-like of {0, 1}, shape (n,)
    scores : array-like, shape (n,) or (n, k)

    Returns
    -------
    float or ndarray of shape (k,)
        NaN when one class is absent.  No input validation: callers validate.
    """
    yy = np.asarray(y).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(yy.sum())
    n_neg = yy.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan if s.ndim == 1 else np.full(s.shape[1], np.nan)
    from scipy.stats import rankdata

    ranks = rankdata(s, axis=0)
    out = auc_from_rank_sum(ranks[yy].sum(axis=0), n_pos, n_neg)
    return float(out) if s.ndim == 1 else out


@dataclass(frozen=True)
class LogisticNewtonFit:
    """A logistic fit by :func:`logistic_newton`."""

    coef: FloatArray
    cov: FloatArray
    deviance: float
    converged: bool
    n_iter: int


def logistic_newton(x: npt.ArrayLike, y: npt.ArrayLike, *,
                    offset: npt.ArrayLike | None = None, start: npt.ArrayLike | None = None,
                    tol: float = 1e-12, max_iter: int = 100,
                    criterion: str = "step") -> LogisticNewtonFit:
    r"""Maximum-likelihood logistic regression ``logit P(y=1) = offset + x @ beta``.

    Iteratively reweighted least squares (Fisher scoring = Newton-Raphson for the logit
    link), as R's ``glm.fit``: from ``start`` (default: R's start, ``mu = (y + 0.5) / 2``),
    each step solves the weighted least-squares problem of the working response
    :math:`z = \eta - o + (y - \mu)/w`, :math:`w = \mu(1-\mu)`, and a step that
    increases the deviance is halved.  It stops when

    * ``criterion="deviance"``: :math:`|D - D_{old}| / (|D| + 0.1) < tol`, R's rule
      (``glm.control(epsilon)``); under separation it stops where ``glm`` stops, with
      large finite coefficients, instead of iterating towards infinity;
    * ``criterion="step"``: the largest relative step :math:`|\delta_j|/(1 + |\beta_j|)`
      is below ``tol``; with ``tol=1e-12`` it reproduces a converged ``glm`` to ~1e-15
      (the calibration intercept and slope of ``rms::val.prob``).

    The covariance is the inverse Fisher information at the estimate (NaN when singular).

    Parameters
    ----------
    x : array-like, shape (n, p)
        Design matrix (a column of ones for an intercept).
    y : array-like of {0, 1}
    offset : array-like, optional
    start : array-like, optional
        Starting coefficients.
    tol : float
    max_iter : int
    criterion : {"step", "deviance"}

    Returns
    -------
    LogisticNewtonFit
        ``coef, cov, deviance, converged, n_iter``; no input validation (callers validate).
    """
    xm = np.asarray(x, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64).ravel()
    off = np.zeros(yy.size) if offset is None else np.asarray(offset, dtype=np.float64)

    def deviance(eta: FloatArray) -> float:
        # -2 loglik = 2 * sum(log(1 + e^eta) - y eta), stable
        return float(2.0 * np.sum(np.logaddexp(0.0, eta) - yy * eta))

    p = xm.shape[1]
    if start is None:
        mu0 = (yy + 0.5) / 2.0
        eta = np.log(mu0 / (1.0 - mu0))
        beta = np.zeros(p)
        dev_old = np.inf
    else:
        beta = np.asarray(start, dtype=np.float64).copy()
        eta = off + xm @ beta
        dev_old = deviance(eta)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - reported
        mu = expit(eta)
        w = np.clip(mu * (1.0 - mu), 1e-12, None)
        z = (eta - off) + (yy - mu) / w
        sw = np.sqrt(w)
        new = np.asarray(np.linalg.lstsq(xm * sw[:, None], z * sw, rcond=None)[0],
                         dtype=np.float64)
        if not np.all(np.isfinite(new)):
            break
        eta_new = off + xm @ new
        dev = deviance(eta_new)
        halvings = 0
        while np.isfinite(dev_old) and not dev <= dev_old + 1e-12 * (1.0 + abs(dev_old)) \
                and halvings < 30:
            new = (new + beta) / 2.0
            eta_new = off + xm @ new
            dev = deviance(eta_new)
            halvings += 1
        step = new - beta
        beta, eta = np.asarray(new, dtype=np.float64), eta_new
        if criterion == "deviance":
            done = abs(dev - dev_old) / (abs(dev) + 0.1) < tol
        else:
            done = bool(np.max(np.abs(step) / (1.0 + np.abs(beta)), initial=0.0) < tol)
        dev_old = dev
        if done:
            converged = True
            break
    mu = expit(eta)
    info = xm.T @ (xm * (mu * (1.0 - mu))[:, None])
    try:
        cov = np.asarray(np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
    return LogisticNewtonFit(coef=beta, cov=cov, deviance=deviance(eta), converged=converged,
                             n_iter=n_iter)
