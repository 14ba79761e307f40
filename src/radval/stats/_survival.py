"""Time-to-event statistics matching R ``survival`` (survfit, survdiff, coxph, concordance).

Used for the secondary endpoint (disease-free survival) of a signature: Kaplan-Meier
curves by risk group, the log-rank test, Cox hazard ratios and Harrell's C-index.
``time`` is the follow-up time, ``event`` is 1 for the event (recurrence or death)
and 0 for censoring.  Censoring at an event time counts the censored patient as at
risk at that time (the usual convention, and R's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from radval._results import Result
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_scores,
    param_error,
)
from radval.exceptions import ConvergenceWarning, DataError, InputError

__all__ = [
    "CIndexResult",
    "CoxResult",
    "LogrankResult",
    "concordance_index",
    "cox_ph",
    "kaplan_meier",
    "logrank_test",
]

FloatArray = npt.NDArray[np.float64]


def _check_surv(time: Any, event: Any, caller: str) -> tuple[FloatArray, FloatArray]:
    t = check_scores(time, caller=caller, param="time")
    if (t < 0).any():
        raise param_error("time", caller, "non-negative times",
                          f"{int((t < 0).sum())} negative value(s)")
    e = check_binary(event, caller=caller, param="event", require_both=False)
    check_consistent_length(caller, time=t, event=e)
    return t, e.astype(np.float64)


def _groups(group: Any, n: int, caller: str) -> tuple[npt.NDArray[np.intp], list[Any]]:
    g = pd.Series(np.asarray(group).ravel() if not isinstance(group, pd.Series)
                  else group.to_numpy())
    if g.size != n:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={n}, group={g.size} instead.")
        raise InputError(msg)
    if g.isna().any():
        raise param_error("group", caller, "free of missing values",
                          f"{int(g.isna().sum())} missing value(s)")
    codes, levels = pd.factorize(g, sort=True)
    return np.asarray(codes, dtype=np.intp), list(levels)


# --------------------------------------------------------------------------- Kaplan-Meier
def _km_one(t: FloatArray, e: FloatArray, z: float) -> pd.DataFrame:
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e, minlength=times.size)
    n_total = np.bincount(inv, minlength=times.size).astype(np.float64)
    at_risk = n_total[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / at_risk)
        inc = np.where(n_event > 0, n_event / (at_risk * (at_risk - n_event)), 0.0)
    var_log = np.cumsum(inc)  # Greenwood, on the log scale
    se = np.sqrt(var_log)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo = surv * np.exp(-z * se)
        hi = np.minimum(surv * np.exp(z * se), 1.0)
    undefined = (surv <= 0) | ~np.isfinite(se)
    lo = np.where(undefined, np.nan, lo)
    hi = np.where(undefined, np.nan, hi)
    return pd.DataFrame({"time": times, "survival": surv, "at_risk": at_risk.astype(np.int64),
                         "n_event": n_event.astype(np.int64),
                         "n_censor": (n_total - n_event).astype(np.int64),
                         "std_err": se, "ci_low": lo, "ci_high": hi})


def kaplan_meier(time: Any, event: Any, *, group: Any = None,
                 confidence_level: float = 0.95) -> pd.DataFrame:
    r"""Kaplan-Meier survival curves with Greenwood log-scale confidence intervals.

    Parameters
    ----------
    time : array-like
        Follow-up times (>= 0).
    event : array-like
        1 = event, 0 = censored.
    group : array-like, optional
        Group label per patient (e.g. signature risk group); one curve per group.
    confidence_level : float, optional
        Level of the pointwise intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group and distinct time (events and censorings, as ``survfit``):
        ``group, time, survival, at_risk, n_event, n_censor, std_err, ci_low, ci_high``.
        ``std_err`` is the standard error of :math:`-\log S(t)` (R ``summary(fit)$std.err``
        divided by ``surv``).

    Notes
    -----
    :math:`\hat S(t) = \prod_{t_i \le t} (1 - d_i / n_i)`; Greenwood
    :math:`\widehat{\mathrm{var}}\{\log \hat S(t)\} = \sum_{t_i \le t} d_i / \{n_i (n_i - d_i)\}`;
    interval :math:`\hat S(t) \exp(\pm z\,\mathrm{se})`, upper end capped at 1, as
    ``survfit(..., conf.type = "log")`` (R's default).  Undefined (NaN) once
    :math:`\hat S = 0`.
    """
    caller = "kaplan_meier"
    t, e = _check_surv(time, event, caller)
    level = check_confidence_level(confidence_level, caller=caller)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    if group is None:
        out = _km_one(t, e, z)
        out.insert(0, "group", "all")
        return out
    codes, levels = _groups(group, t.size, caller)
    parts = []
    for k, lev in enumerate(levels):
        m = codes == k
        part = _km_one(t[m], e[m], z)
        part.insert(0, "group", lev)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True, kw_only=True)
class LogrankResult(Result):
    """Log-rank test (``survdiff``, rho = 0).

    Attributes
    ----------
    statistic : float
        Chi-square statistic.
    df : int
        Degrees of freedom (number of groups - 1).
    p_value : float
        Upper-tail chi-square probability.
    table : pandas.DataFrame
        Per group: ``group, n, observed, expected``.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame = field(repr=False, compare=False)


def logrank_test(time: Any, event: Any, group: Any) -> LogrankResult:
    r"""Log-rank test of equal survival between groups, as ``survival::survdiff``.

    Notes
    -----
    At each distinct event time :math:`j` with :math:`d_j` events among :math:`n_j`
    at risk (:math:`n_{gj}` in group :math:`g`):
    :math:`E_g = \sum_j d_j n_{gj}/n_j`,
    :math:`V_{gh} = \sum_j d_j \frac{n_j - d_j}{n_j - 1} \frac{n_{gj}}{n_j}
    (\delta_{gh} - n_{hj}/n_j)`; the statistic is :math:`(O-E)^\top V^{-}(O-E)` on
    the first :math:`G-1` groups, chi-square with :math:`G-1` df.
    """
    caller = "logrank_test"
    t, e = _check_surv(time, event, caller)
    codes, levels = _groups(group, t.size, caller)
    k = len(levels)
    if k < 2:
        raise param_error("group", caller, "at least 2 groups", f"levels {levels}")
    if e.sum() == 0:
        raise DataError(f"{caller}: no events; the log-rank test is undefined")
    ev_times = np.unique(t[e == 1])
    # at risk per group at each event time: count t >= s
    n_gj = np.empty((k, ev_times.size))
    d_gj = np.empty((k, ev_times.size))
    for g in range(k):
        tg = np.sort(t[codes == g])
        n_gj[g] = tg.size - np.searchsorted(tg, ev_times, side="left")
        te = t[(codes == g) & (e == 1)]
        d_gj[g] = np.bincount(np.searchsorted(ev_times, te), minlength=ev_times.size)
    n_j = n_gj.sum(axis=0)
    d_j = d_gj.sum(axis=0)
    expected = (d_j * n_gj / n_j).sum(axis=1)
    observed = d_gj.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_j > 1, d_j * (n_j - d_j) / (n_j - 1), 0.0)
    frac = n_gj / n_j
    v = np.einsum("j,gj,hj->gh", w, frac, -frac)
    v[np.diag_indices(k)] += (w * frac).sum(axis=1)
    diff = observed - expected
    sub = v[:-1, :-1]
    stat = float(diff[:-1] @ np.linalg.pinv(sub) @ diff[:-1])
    df = int(np.linalg.matrix_rank(sub))
    table = pd.DataFrame({"group": levels, "n": np.bincount(codes, minlength=k),
                          "observed": observed, "expected": expected})
    return LogrankResult(statistic=stat, df=df, p_value=float(sps.chi2.sf(stat, df)),
                         table=table)


# --------------------------------------------------------------------------- Cox
@dataclass(frozen=True, kw_only=True)
class CoxResult(Result):
    """Cox proportional-hazards fit (``coxph``).

    Attributes
    ----------
    terms : list of str
        Covariate names.
    coef, se, hr, hr_ci_low, hr_ci_high, z, p_value : numpy.ndarray
        Per covariate: log hazard ratio, its standard error (inverse information),
        hazard ratio, its Wald interval, Wald z and two-sided p-value.
    n, events : int
        Patients and events used.
    loglik, loglik_null : float
        Partial log-likelihood at the estimate and at zero.
    lr_statistic, lr_df, lr_p_value : float, int, float
        Likelihood-ratio test of all coefficients.
    ties : str
        ``"efron"`` or ``"breslow"``.
    n_iter : int
        Newton-Raphson iterations.
    """

    terms: list[str]
    coef: FloatArray = field(repr=False, compare=False)
    se: FloatArray = field(repr=False, compare=False)
    hr: FloatArray = field(repr=False, compare=False)
    hr_ci_low: FloatArray = field(repr=False, compare=False)
    hr_ci_high: FloatArray = field(repr=False, compare=False)
    z: FloatArray = field(repr=False, compare=False)
    p_value: FloatArray = field(repr=False, compare=False)
    n: int
    events: int
    loglik: float
    loglik_null: float
    lr_statistic: float
    lr_df: int
    lr_p_value: float
    ties: str
    confidence_level: float
    n_iter: int

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate: ``term, coef, hr, se, z, p_value, hr_ci_low, hr_ci_high``."""
        return pd.DataFrame({"term": self.terms, "coef": self.coef, "hr": self.hr,
                             "se": self.se, "z": self.z, "p_value": self.p_value,
                             "hr_ci_low": self.hr_ci_low, "hr_ci_high": self.hr_ci_high,
                             "n": self.n, "events": self.events})


def _cox_loglik(beta: FloatArray, x: FloatArray, t: FloatArray, e: FloatArray,
                efron: bool) -> tuple[float, FloatArray, FloatArray]:
    """Partial log-likelihood, gradient and information matrix (x sorted by time)."""
    p = x.shape[1]
    eta = x @ beta
    eta = eta - eta.max() if eta.size else eta
    r = np.exp(eta)
    # risk-set sums for t >= s: reverse cumulative sums over time-sorted rows
    s0 = r[::-1].cumsum()[::-1]
    s1 = (r[:, None] * x)[::-1].cumsum(axis=0)[::-1]
    s2 = (r[:, None, None] * x[:, :, None] * x[:, None, :])[::-1].cumsum(axis=0)[::-1]
    ll = 0.0
    grad = np.zeros(p)
    info = np.zeros((p, p))
    ev_times = np.unique(t[e == 1])
    starts = np.searchsorted(t, ev_times, side="left")
    for s, start in zip(ev_times, starts):
        idx = np.flatnonzero((t == s) & (e == 1))
        d = idx.size
        r0, r1, r2 = s0[start], s1[start], s2[start]
        ll += float(eta[idx].sum())
        grad += x[idx].sum(axis=0)
        if efron and d > 1:
            rd = r[idx]
            d0 = rd.sum()
            d1 = (rd[:, None] * x[idx]).sum(axis=0)
            d2 = (rd[:, None, None] * x[idx][:, :, None] * x[idx][:, None, :]).sum(axis=0)
            for ell in range(d):
                f = ell / d
                a0 = r0 - f * d0
                a1 = r1 - f * d1
                a2 = r2 - f * d2
                ll -= float(np.log(a0))
                mu = a1 / a0
                grad -= mu
                info += a2 / a0 - np.outer(mu, mu)
        else:
            ll -= d * float(np.log(r0))
            mu = r1 / r0
            grad -= d * mu
            info += d * (r2 / r0 - np.outer(mu, mu))
    return ll, grad, info


def cox_ph(time: Any, event: Any, x: Any, *, ties: str = "efron",
           confidence_level: float = 0.95, max_iter: int = 50,
           tol: float = 1e-12) -> CoxResult:
    r"""Cox proportional-hazards regression, as ``survival::coxph``.

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator (1 = event).
    x : array-like or DataFrame
        One covariate (1-d) or several (2-d, columns = covariates).
    ties : {"efron", "breslow"}, optional
        Handling of tied event times (R's default is Efron).
    confidence_level : float, optional
        Level of the Wald hazard-ratio intervals.
    max_iter : int, optional
        Newton-Raphson iterations.
    tol : float, optional
        Convergence tolerance on the Newton step (max absolute change in beta).

    Returns
    -------
    CoxResult

    Notes
    -----
    Newton-Raphson from :math:`\beta = 0` on the partial log-likelihood; Efron's
    approximation replaces, for :math:`d` tied events with risk score sum
    :math:`D_0`, the denominator :math:`S_0^d` by
    :math:`\prod_{\ell=0}^{d-1} (S_0 - \tfrac{\ell}{d} D_0)`.  SE from the inverse
    information; Wald :math:`z = \hat\beta/\mathrm{se}`; HR interval
    :math:`\exp(\hat\beta \pm z_{1-\alpha/2}\,\mathrm{se})`.  R's coxph stops at a
    relative log-likelihood change below 1e-9, so its coefficients agree with this
    fully converged fit to about 1e-8 relative.
    """
    caller = "cox_ph"
    t, e = _check_surv(time, event, caller)
    ties = check_choice(ties, ("efron", "breslow"), caller=caller, param="ties")
    level = check_confidence_level(confidence_level, caller=caller)
    if isinstance(x, pd.DataFrame):
        terms = [str(c) for c in x.columns]
        xm = x.to_numpy(dtype=np.float64)
    elif isinstance(x, pd.Series):
        terms = [str(x.name) if x.name is not None else "x"]
        xm = x.to_numpy(dtype=np.float64)[:, None]
    else:
        try:
            xm = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error("x", caller, "numeric covariates", x) from exc
        if xm.ndim == 1:
            xm = xm[:, None]
        if xm.ndim != 2:
            raise param_error("x", caller, "a 1-d or 2-d array", f"shape {xm.shape}")
        terms = [f"x{j + 1}" for j in range(xm.shape[1])] if xm.shape[1] > 1 else ["x"]
    if xm.shape[0] != t.size:
        msg = (f"The arrays passed to {caller} must have the same length. "
               f"Got time={t.size}, x={xm.shape[0]} instead.")
        raise InputError(msg)
    if not np.isfinite(xm).all():
        raise param_error("x", caller, "finite (no NaN or infinity)",
                          f"{int((~np.isfinite(xm)).sum())} non-finite value(s)")
    if e.sum() == 0:
        raise DataError(f"{caller}: no events; the Cox model is undefined")
    order = np.argsort(t, kind="stable")
    ts, es, xs = t[order], e[order], xm[order]
    # centre the covariates (as coxph) for numerical stability; coefficients unchanged
    xs = xs - xs.mean(axis=0)
    efron = ties == "efron"
    beta = np.zeros(xs.shape[1])
    ll0, grad, info = _cox_loglik(beta, xs, ts, es, efron)
    ll = ll0
    it = 0
    converged = False
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as exc:
            raise DataError(f"{caller}: singular information matrix (collinear covariates "
                            "or a covariate constant among patients at risk)") from exc
        new = beta + step
        ll_new, g_new, i_new = _cox_loglik(new, xs, ts, es, efron)
        halvings = 0
        while ll_new < ll - 1e-12 * abs(ll) and halvings < 30:
            step *= 0.5
            new = beta + step
            ll_new, g_new, i_new = _cox_loglik(new, xs, ts, es, efron)
            halvings += 1
        beta, ll, grad, info = new, ll_new, g_new, i_new
        if float(np.max(np.abs(step))) < tol * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    if not converged or not np.isfinite(beta).all():
        import warnings

        warnings.warn(f"{caller}: Newton-Raphson did not converge in {max_iter} iterations "
                      "(monotone likelihood? an infinite hazard ratio?)", ConvergenceWarning,
                      stacklevel=2)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    zq = float(sps.norm.ppf(0.5 + level / 2.0))
    z = beta / se
    lr = 2.0 * (ll - ll0)
    return CoxResult(terms=terms, coef=beta, se=se, hr=np.exp(beta),
                     hr_ci_low=np.exp(beta - zq * se), hr_ci_high=np.exp(beta + zq * se),
                     z=z, p_value=2.0 * sps.norm.sf(np.abs(z)), n=int(t.size),
                     events=int(e.sum()), loglik=ll, loglik_null=ll0, lr_statistic=float(lr),
                     lr_df=int(beta.size), lr_p_value=float(sps.chi2.sf(lr, beta.size)),
                     ties=ties, confidence_level=level, n_iter=it)


# --------------------------------------------------------------------------- C-index
@dataclass(frozen=True, kw_only=True)
class CIndexResult(Result):
    r"""Harrell's concordance index.

    Attributes
    ----------
    estimate : float
        :math:`C = (n_c + n_{tx}/2) / (n_c + n_d + n_{tx})`.
    concordant, discordant, tied_score, tied_time, tied_both : int
        Pair counts as ``survival::concordance``'s ``count`` (``tied.x``,
        ``tied.y``, ``tied.xy``).
    comparable : int
        ``concordant + discordant + tied_score``.
    variance, se : float
        Infinitesimal-jackknife variance of C and its square root, as
        ``concordance(...)$var``: :math:`\sum_i (\partial C / \partial w_i)^2` with
        :math:`\partial C/\partial w_i = (a_i - C b_i)/N_{pairs}`, where :math:`a_i`
        counts the concordant (+ 1/2 tied-score) pairs and :math:`b_i` the comparable
        pairs patient :math:`i` belongs to.
    """

    estimate: float
    variance: float
    se: float
    concordant: int
    discordant: int
    tied_score: int
    tied_time: int
    tied_both: int
    comparable: int


def concordance_index(time: Any, event: Any, score: Any) -> CIndexResult:
    r"""Harrell's C-index of a risk score (higher score = higher risk = earlier event).

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator.
    score : array-like
        Risk score (e.g. the rad-score or the linear predictor of a Cox model).

    Returns
    -------
    CIndexResult

    Notes
    -----
    Equal to ``survival::concordance(Surv(time, event) ~ score, reverse = TRUE)``.
    A pair is comparable when the patient with the shorter time had an event; a
    patient censored at the same time as an event is counted as still at risk,
    so that pair is comparable too.  Pairs whose score is tied count 1/2
    (``tied.x``); pairs with tied event times (both events) are not comparable
    (``tied.y``; ``tied.xy`` when the scores are tied as well).  The pairs are
    counted exactly, in :math:`O(n^2)` time and blocks of bounded memory.
    """
    caller = "concordance_index"
    t, e = _check_surv(time, event, caller)
    s = check_scores(score, caller=caller, param="score")
    check_consistent_length(caller, time=t, score=s)
    nc = nd = ntx = nty = ntxy = 0
    n = t.size
    a_i = np.zeros(n)  # per patient: concordant + tied/2 pairs it belongs to
    b_i = np.zeros(n)  # per patient: comparable pairs it belongs to
    block = max(1, 2_000_000 // max(n, 1))
    for a in range(0, n, block):
        rows = slice(a, min(a + block, n))
        ti = t[rows, None]
        ei = e[rows, None]
        si = s[rows, None]
        # i is the earlier event: t_i < t_j, or t_i == t_j with j censored
        earlier = (ei == 1) & ((ti < t[None, :]) | ((ti == t[None, :]) & (e[None, :] == 0)))
        conc = earlier & (si > s[None, :])
        tie = earlier & (si == s[None, :])
        nc += int(conc.sum())
        nd += int(np.sum(earlier & (si < s[None, :])))
        ntx += int(tie.sum())
        score_pairs = conc + 0.5 * tie
        a_i[rows] += score_pairs.sum(axis=1)
        a_i += score_pairs.sum(axis=0)
        b_i[rows] += earlier.sum(axis=1)
        b_i += earlier.sum(axis=0)
        both = (ei == 1) & (e[None, :] == 1) & (ti == t[None, :])
        same_score = si == s[None, :]
        # count each unordered tied-time pair once (i < j)
        upper = np.arange(rows.start, rows.stop)[:, None] < np.arange(n)[None, :]
        nty += int(np.sum(both & upper & ~same_score))
        ntxy += int(np.sum(both & upper & same_score))
    comparable = nc + nd + ntx
    est = (nc + 0.5 * ntx) / comparable if comparable else float("nan")
    # infinitesimal-jackknife variance (survival::concordance's `var`)
    var = float(np.sum(((a_i - est * b_i) / comparable) ** 2)) if comparable else float("nan")
    if not comparable:
        import warnings

        from radval.exceptions import UndefinedMetricWarning

        warnings.warn(f"{caller}: no comparable pairs (no events before other follow-up "
                      "times); C is undefined", UndefinedMetricWarning, stacklevel=2)
    return CIndexResult(estimate=float(est), variance=var, se=float(np.sqrt(var)),
                        concordant=nc, discordant=nd, tied_score=ntx,
                        tied_time=nty, tied_both=ntxy, comparable=comparable)
