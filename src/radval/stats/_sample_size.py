"""Minimum sample size for the external validation of a binary-outcome prediction model.

Riley et al. (2021) size a validation study so that its key performance measures are
estimated precisely: the O/E ratio, the calibration slope, the C-statistic and
(optionally) the standardised net benefit at a clinical threshold.  With outcome
prevalence :math:`\\phi`, target 95% CI widths and :math:`z = 1.96` (as the paper and
``pmvalsampsize``):

1. **O/E**: :math:`\\operatorname{SE}(\\ln O/E) = \\sqrt{(1-\\phi)/(n\\phi)}`; the CI
   :math:`O/E\\,e^{\\pm z\\,SE}` has width :math:`w` when
   :math:`SE = \\operatorname{asinh}(w / (2\\,O/E)) / z`, so
   :math:`n_1 = \\lceil (1-\\phi)/(\\phi\\,SE^2) \\rceil`.
2. **Calibration slope**: with the calibration model
   :math:`\\operatorname{logit} P(Y=1) = \\beta_1 \\mathrm{LP}` (anticipated slope
   :math:`\\beta_1`, intercept 0) and :math:`p = \\operatorname{expit}(\\beta_1 \\mathrm{LP})`,
   the per-patient Fisher information has elements :math:`I_{00} = E[p(1-p)]`,
   :math:`I_{01} = E[\\mathrm{LP}\\,p(1-p)]`, :math:`I_{11} = E[\\mathrm{LP}^2 p(1-p)]` over
   the distribution of the linear predictor, and
   :math:`n_2 = \\lceil I_{00} / (SE^2 (I_{00} I_{11} - I_{01}^2)) \\rceil` with
   :math:`SE = w / (2z)`.
3. **C-statistic** (Newcombe's method 4 for the Hanley-McNeil variance):
   :math:`SE^2 = C(1-C)\\{1 + (n/2-1)\\frac{1-C}{2-C} + (n/2-1)\\frac{C}{1+C}\\} /
   \\{n^2 \\phi (1-\\phi)\\}`; :math:`n_3` is the smallest :math:`n` with
   :math:`2 z\\,SE \\le w`.
4. **Standardised net benefit** at threshold :math:`t` with sensitivity and specificity
   (given, or implied by the LP distribution: :math:`Se = E[p\\,1(p \\ge t)]/E[p]`,
   :math:`Sp = E[(1-p)\\,1(p < t)]/E[1-p]` with :math:`p = \\operatorname{expit}(\\mathrm{LP})`):
   :math:`sNB = Se - (1-Sp)\\frac{1-\\phi}{\\phi}\\frac{t}{1-t}`, :math:`w_t =
   \\frac{1-\\phi}{\\phi}\\frac{t}{1-t}` and
   :math:`n_4 = \\lceil SE^{-2}\\{Se(1-Se)/\\phi + w_t^2 Sp(1-Sp)/(1-\\phi) +
   w_t^2 (1-Sp)^2/(\\phi(1-\\phi))\\} \\rceil`, :math:`SE = w/(2z)`.

The required size is the largest of them.  Where ``pmvalsampsize`` (R 0.1.0) simulates
(one million draws for criterion 2 and for the threshold-implied Se/Sp) or searches a grid
(increments of 1e-4 for the O/E and net-benefit SEs, then rounds the net-benefit SE to
three decimals and Se/Sp to two), this module integrates and solves exactly, so it agrees
with ``pmvalsampsize`` to simulation noise (well within 1%), and exactly for criterion 3.

References
----------
Riley RD, Debray TPA, Collins GS, et al. Minimum sample size for external validation of
a clinical prediction model with a binary outcome. Stat Med 2021;40:4230-4251.
Riley RD, Archer L, Snell KIE, et al. Evaluation of clinical prediction models (part 3):
calculating the sample size required for an external validation study. BMJ
2024;384:e074821.
Newcombe RG. Confidence intervals for an effect size measure based on the Mann-Whitney
statistic. Part 2. Stat Med 2006;25:559-573.
Ensor J. pmvalsampsize: Sample Size for External Validation of a Prediction Model
(R package 0.1.0, 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radval._results import Result
from radval._validation import param_error
from radval.stats._kernels import expit, logit

__all__ = [
    "ExternalValidationSampleSizeResult",
    "SampleSizeCheckResult",
    "check_validation_sample_size",
    "external_validation_sample_size",
]

_Z = 1.96
_CALLER = "external_validation_sample_size"


@dataclass(frozen=True, kw_only=True)
class ExternalValidationSampleSizeResult(Result):
    """Minimum sample size of an external validation study (Riley et al. 2021).

    Attributes
    ----------
    n_oe, n_cslope, n_cstatistic : int
        Sample size for each criterion.
    n_net_benefit : int or None
        Criterion 4 (None without a ``threshold``).
    n_final : int
        The largest of them.
    events_oe, events_cslope, events_cstatistic, events_net_benefit, events_final : float
        Expected events, ``n * prevalence``.
    prevalence, cstatistic, oe, cslope : float
        The anticipated values used.
    se_oe, se_cslope, se_cstatistic, se_net_benefit : float
        Target standard errors (of ln O/E, the slope, C at ``n_cstatistic``, sNB).
    oe_ci_width, cslope_ci_width, cstatistic_ci_width, nb_ci_width : float
    threshold, sensitivity, specificity, standardised_net_benefit : float
        Net-benefit inputs and the implied standardised net benefit (NaN if unused).
    lp_distribution : str
        ``"normal(mean, sd)"``, ``"beta(a, b)"``, ``"cstatistic(mean non-events, sd)"``
        or ``"empirical(n)"``.
    i00, i01, i11 : float
        Per-patient Fisher information of the calibration model (criterion 2).
    """

    n_oe: int
    n_cslope: int
    n_cstatistic: int
    n_net_benefit: int | None
    n_final: int
    events_oe: float
    events_cslope: float
    events_cstatistic: float
    events_net_benefit: float
    events_final: float
    prevalence: float
    cstatistic: float
    oe: float
    cslope: float
    se_oe: float
    se_cslope: float
    se_cstatistic: float
    se_net_benefit: float
    oe_ci_width: float
    cslope_ci_width: float
    cstatistic_ci_width: float
    nb_ci_width: float
    threshold: float
    sensitivity: float
    specificity: float
    standardised_net_benefit: float
    lp_distribution: str
    i00: float
    i01: float
    i11: float

    def to_frame(self) -> pd.DataFrame:
        """One row per criterion (as pmvalsampsize's table): ``criterion, sample_size,
        events, performance, se, ci_width``, then ``final``."""
        rows = [("oe", self.n_oe, self.oe, self.se_oe, self.oe_ci_width),
                ("cslope", self.n_cslope, self.cslope, self.se_cslope, self.cslope_ci_width),
                ("cstatistic", self.n_cstatistic, self.cstatistic, self.se_cstatistic,
                 self.cstatistic_ci_width)]
        if self.n_net_benefit is not None:
            rows.append(("net_benefit", self.n_net_benefit, self.standardised_net_benefit,
                         self.se_net_benefit, self.nb_ci_width))
        out = pd.DataFrame(rows, columns=["criterion", "sample_size", "performance", "se",
                                          "ci_width"])
        out.insert(2, "events", out["sample_size"] * self.prevalence)
        final = pd.DataFrame([{"criterion": "final", "sample_size": self.n_final,
                               "events": self.events_final}])
        return pd.concat([out, final], ignore_index=True)


# ----------------------------------------------------------------------------- helpers
def _number(value: Any, name: str, caller: str, *, low: float, high: float = math.inf,
            open_low: bool = True, open_high: bool = True) -> float:
    if isinstance(value, bool):
        raise param_error(name, caller, "a number", value)
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise param_error(name, caller, "a number", value) from exc
    ok = math.isfinite(v) and (v > low if open_low else v >= low) and \
        (v < high if open_high else v <= high)
    if not ok:
        lo_b, hi_b = ("(" if open_low else "["), (")" if open_high else "]")
        raise param_error(name, caller, f"a number in {lo_b}{low:g}, {high:g}{hi_b}", value)
    return v


def _pair(value: Any, name: str, caller: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise param_error(name, caller, "a pair of numbers", value) from exc
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        raise param_error(name, caller, "a pair of finite numbers, the second > 0", value)
    return a, b


class _LP:
    """Expectations over the distribution of the linear predictor."""

    def __init__(self, expect: Callable[[Callable[[Any], Any], float | None], float],
                 label: str) -> None:
        self._expect = expect
        self.label = label

    def mean(self, f: Callable[[Any], Any], split: float | None = None) -> float:
        """E[f(LP)], integrating separately below and above ``split`` (an LP value)."""
        return self._expect(f, split)


def _normal_lp(mean: float, sd: float) -> _LP:
    from scipy import integrate

    def expect(f: Callable[[Any], Any], split: float | None) -> float:
        # standardised: E f(mean + sd Z) over |Z| <= 12 (the tails hold < 1e-32)
        def g(z: float) -> float:
            return float(f(mean + sd * z)) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

        cuts = [-12.0, 12.0]
        if split is not None:
            zs = (split - mean) / sd
            if -12.0 < zs < 12.0:
                cuts.insert(1, zs)
        return float(sum(integrate.quad(g, a, b, epsabs=1e-15, epsrel=1e-11, limit=500)[0]
                         for a, b in zip(cuts[:-1], cuts[1:], strict=True)))

    return _LP(expect, f"normal({mean:g}, {sd:g})")


def _beta_lp(a: float, b: float) -> _LP:
    from scipy import integrate, stats

    def expect(f: Callable[[Any], Any], split: float | None) -> float:
        dens = stats.beta(a, b).pdf
        cut = None if split is None else float(expit(split))
        pieces = [(0.0, 0.5), (0.5, 1.0)] if cut is None else [(0.0, cut), (cut, 1.0)]
        return float(sum(integrate.quad(lambda p: f(logit(p)) * dens(p), lo, hi,
                                        epsabs=0.0, epsrel=1e-11, limit=500)[0]
                         for lo, hi in pieces if hi > lo))

    return _LP(expect, f"beta({a:g}, {b:g})")


def _cstat_lp(cstatistic: float, prevalence: float) -> _LP:
    """Events ~ N(m + s^2, s^2), non-events ~ N(m, s^2), s^2 = 2 qnorm(C)^2 (Riley et al.),
    with m solved so that E[expit(LP)] equals the prevalence (pmvalsampsize's ``lpcstat``,
    which searches m by simulation)."""
    from scipy import optimize, stats

    var = 2.0 * float(stats.norm.ppf(cstatistic)) ** 2
    sd = math.sqrt(var)

    def mixture(m: float) -> _LP:
        lo, hi = _normal_lp(m, sd), _normal_lp(m + var, sd)

        def expect(f: Callable[[Any], Any], split: float | None) -> float:
            return (1.0 - prevalence) * lo.mean(f, split) + prevalence * hi.mean(f, split)

        return _LP(expect, f"cstatistic({m:.6g}, {sd:.6g})")

    m = float(optimize.brentq(lambda m: mixture(m).mean(expit) - prevalence, -50.0, 50.0,
                              xtol=1e-13))
    return mixture(m)


def _empirical_lp(lp: Any, caller: str) -> _LP:
    arr = np.asarray(lp, dtype=np.float64).ravel()
    if arr.size < 2 or not np.isfinite(arr).all():
        raise param_error("lp", caller, "at least 2 finite linear-predictor values", lp)

    def expect(f: Callable[[Any], Any], split: float | None) -> float:
        return float(np.mean(f(arr)))

    return _LP(expect, f"empirical({arr.size})")


def _n_cstatistic(c: float, prevalence: float, width: float) -> tuple[int, float]:
    """Smallest n with 2 z SE(C) <= width (Newcombe method 4), and SE at that n.

    ``pmvalsampsize`` scans n = 1..1e6; the quadratic in n gives the crossing, and the
    neighbouring integers are checked with the same formula so the result is identical.
    """
    a = (1.0 - c) / (2.0 - c)
    b = c / (1.0 + c)

    def se(n: float) -> float:
        v = c * (1 - c) * (1 + ((n / 2) - 1) * a + ((n / 2) - 1) * c / (1 + c)) / (
            n * n * prevalence * (1 - prevalence))
        return math.sqrt(v) if v > 0 else math.nan

    k = 4.0 * _Z * _Z * c * (1.0 - c)
    qa = width * width * prevalence * (1.0 - prevalence)
    qb = -k * (a + b) / 2.0
    qc = -k * (1.0 - (a + b))
    root = (-qb + math.sqrt(qb * qb - 4.0 * qa * qc)) / (2.0 * qa)
    n = max(1, math.ceil(root) - 2)
    while not (2 * _Z * se(n) <= width):
        n += 1
    while n > 1 and 2 * _Z * se(n - 1) <= width:
        n -= 1
    return n, se(n)


def _grid_se(width_of: Callable[[float], float], target: float) -> float:
    """pmvalsampsize's search: SE += 1e-4 until the CI is at least ``target`` wide."""
    se = width = 0.0
    while width < target:
        se = se + 0.0001
        width = width_of(se)
    return se


# ----------------------------------------------------------------------------- main
def _lp_distribution(lp_normal: Any, lp_beta: Any, cstatistic: float, prevalence: float,
                     caller: str) -> _LP:
    if lp_normal is not None and lp_beta is not None:
        raise param_error("lp_beta", caller, "None when 'lp_normal' is given (one LP "
                          "distribution)", lp_beta)
    if lp_normal is not None:
        return _normal_lp(*_pair(lp_normal, "lp_normal", caller))
    if lp_beta is not None:
        a, b = _pair(lp_beta, "lp_beta", caller)
        if a <= 0:
            raise param_error("lp_beta", caller, "two shape parameters > 0", lp_beta)
        return _beta_lp(a, b)
    return _cstat_lp(cstatistic, prevalence)


def _compute(*, prevalence: float, cstatistic: float, lp: _LP, oe: float, oe_ci_width: float,
             cslope: float, cslope_ci_width: float, cstatistic_ci_width: float,
             threshold: float | None, sensitivity: float | None, specificity: float | None,
             nb_ci_width: float, rounding: str = "exact") -> ExternalValidationSampleSizeResult:
    phi = prevalence
    compat = rounding == "pmvalsampsize"
    # 1. O/E
    if compat:
        se_oe = _grid_se(lambda se: math.exp(math.log(oe) + _Z * se)
                         - math.exp(math.log(oe) - _Z * se), oe_ci_width)
    else:
        se_oe = math.asinh(oe_ci_width / (2.0 * oe)) / _Z
    n1 = math.ceil((1.0 - phi) / (phi * se_oe * se_oe))
    # 2. calibration slope
    def info(power: int) -> Callable[[Any], Any]:
        def f(x: Any) -> Any:
            p = expit(cslope * x)
            return x**power * p * (1.0 - p)
        return f

    i00, i01, i11 = (lp.mean(info(k)) for k in (0, 1, 2))
    se_cs = cslope_ci_width / (2.0 * _Z)
    n2 = math.ceil(i00 / (se_cs * se_cs * (i00 * i11 - i01 * i01)))
    # 3. C-statistic
    n3, se_c = _n_cstatistic(cstatistic, phi, cstatistic_ci_width)
    # 4. standardised net benefit
    n4: int | None = None
    se_nb = snb = sens = spec = thr = math.nan
    if threshold is not None:
        thr = threshold
        split = math.log(thr / (1.0 - thr))
        if sensitivity is None:
            ep = lp.mean(expit)
            sens = lp.mean(lambda x: expit(x) * (x >= split), split) / ep
            spec = lp.mean(lambda x: (1.0 - expit(x)) * (x < split), split) / (1.0 - ep)
            if compat:
                sens, spec = round(sens, 2), round(spec, 2)
        else:
            sens, spec = sensitivity, float(specificity)  # type: ignore[arg-type]
        odds = thr / (1.0 - thr)
        w = (1.0 - phi) / phi * odds
        snb = sens - (1.0 - spec) * w
        if compat:
            se_nb = round(_grid_se(lambda se: (snb + _Z * se) - (snb - _Z * se), nb_ci_width),
                          3)
        else:
            se_nb = nb_ci_width / (2.0 * _Z)
        n4 = math.ceil((sens * (1.0 - sens) / phi + w * w * spec * (1.0 - spec) / (1.0 - phi)
                        + w * w * (1.0 - spec) ** 2 / (phi * (1.0 - phi))) / (se_nb * se_nb))
    n_final = max(n for n in (n1, n2, n3, n4) if n is not None)
    return ExternalValidationSampleSizeResult(
        n_oe=n1, n_cslope=n2, n_cstatistic=n3, n_net_benefit=n4, n_final=n_final,
        events_oe=n1 * phi, events_cslope=n2 * phi, events_cstatistic=n3 * phi,
        events_net_benefit=math.nan if n4 is None else n4 * phi, events_final=n_final * phi,
        prevalence=phi, cstatistic=cstatistic, oe=oe, cslope=cslope, se_oe=se_oe,
        se_cslope=se_cs, se_cstatistic=se_c, se_net_benefit=se_nb, oe_ci_width=oe_ci_width,
        cslope_ci_width=cslope_ci_width, cstatistic_ci_width=cstatistic_ci_width,
        nb_ci_width=nb_ci_width, threshold=thr, sensitivity=sens, specificity=spec,
        standardised_net_benefit=snb, lp_distribution=lp.label, i00=i00, i01=i01, i11=i11)


def _check_common(caller: str, prevalence: Any, cstatistic: Any, oe: Any, oe_ci_width: Any,
                  cslope: Any, cslope_ci_width: Any, cstatistic_ci_width: Any,
                  threshold: Any, sensitivity: Any, specificity: Any, nb_ci_width: Any
                  ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prevalence": _number(prevalence, "prevalence", caller, low=0.0, high=1.0),
        "cstatistic": _number(cstatistic, "cstatistic", caller, low=0.5, high=1.0),
        "oe": _number(oe, "oe", caller, low=0.0),
        "oe_ci_width": _number(oe_ci_width, "oe_ci_width", caller, low=0.0),
        "cslope": _number(cslope, "cslope", caller, low=0.0),
        "cslope_ci_width": _number(cslope_ci_width, "cslope_ci_width", caller, low=0.0),
        "cstatistic_ci_width": _number(cstatistic_ci_width, "cstatistic_ci_width", caller,
                                       low=0.0, high=1.0),
        "nb_ci_width": _number(nb_ci_width, "nb_ci_width", caller, low=0.0),
        "threshold": None, "sensitivity": None, "specificity": None,
    }
    if (sensitivity is None) != (specificity is None):
        raise param_error("specificity" if specificity is None else "sensitivity", caller,
                          "given together with the other (or both omitted)",
                          specificity if specificity is None else sensitivity)
    if sensitivity is not None and threshold is None:
        raise param_error("threshold", caller, "given with sensitivity and specificity",
                          threshold)
    if threshold is not None:
        out["threshold"] = _number(threshold, "threshold", caller, low=0.0, high=1.0)
    if sensitivity is not None:
        out["sensitivity"] = _number(sensitivity, "sensitivity", caller, low=0.0, high=1.0,
                                     open_low=False, open_high=False)
        out["specificity"] = _number(specificity, "specificity", caller, low=0.0, high=1.0,
                                     open_low=False, open_high=False)
    return out


def external_validation_sample_size(
        *, prevalence: float, cstatistic: float, lp_normal: tuple[float, float] | None = None,
        lp_beta: tuple[float, float] | None = None, oe: float = 1.0, oe_ci_width: float = 0.2,
        cslope: float = 1.0, cslope_ci_width: float = 0.2, cstatistic_ci_width: float = 0.1,
        threshold: float | None = None, sensitivity: float | None = None,
        specificity: float | None = None, nb_ci_width: float = 0.2,
        rounding: str = "exact") -> ExternalValidationSampleSizeResult:
    """Minimum sample size to externally validate a binary-outcome model (Riley et al. 2021).

    Parameters
    ----------
    prevalence : float
        Anticipated outcome prevalence in the validation population, in (0, 1).
    cstatistic : float
        Anticipated C-statistic (AUC), in (0.5, 1).
    lp_normal : tuple of float, optional
        ``(mean, sd)`` of a normal distribution of the model's linear predictor
        in the validation population (pmvalsampsize ``lpnormal``).
    lp_beta : tuple of float, optional
        ``(a, b)`` of a beta distribution of the predicted risks
        (pmvalsampsize ``lpbeta``).  Without either, the LP distribution is
        derived from the C-statistic and prevalence (events and non-events
        normal with equal variance :math:`2\\Phi^{-1}(C)^2`, the non-event mean
        solved so that the mean risk equals the prevalence; pmvalsampsize
        ``lpcstat``, which searches that mean by simulation).
    oe, oe_ci_width : float, optional
        Anticipated O/E (1) and target CI width (0.2).
    cslope, cslope_ci_width : float, optional
        Anticipated calibration slope (1) and target CI width (0.2).
        pmvalsampsize 0.1.0 reports ``cslope`` but always computes with a slope of
        1; here the information matrix uses the anticipated slope.
    cstatistic_ci_width : float, optional
        Target CI width of the C-statistic (0.1).
    threshold : float, optional
        Risk threshold for the net-benefit criterion (criterion 4 is skipped
        without it).
    sensitivity, specificity : float, optional
        Anticipated sensitivity and specificity at ``threshold``; if omitted,
        those implied by the LP distribution are used.
    nb_ci_width : float, optional
        Target CI width of the standardised net benefit (0.2).
    rounding : {"exact", "pmvalsampsize"}, optional
        ``"exact"`` (default): the SEs for the O/E and net-benefit widths are
        solved exactly and Se/Sp are not rounded.  ``"pmvalsampsize"``:
        reproduce pmvalsampsize 0.1.0's shortcuts (SE grids in steps of 1e-4, the
        net-benefit SE rounded to 3 decimals, threshold-implied Se/Sp rounded to
        2), so that its published numbers can be checked; its CIs can then be up
        to ~1% wider than targeted.

    Returns
    -------
    ExternalValidationSampleSizeResult
        ``n_oe, n_cslope, n_cstatistic, n_net_benefit, n_final`` and expected
        events; ``to_frame()`` is the criterion table.

    Raises
    ------
    InputError
        Values out of range, both LP distributions, sensitivity without
        specificity (or without a threshold).

    Notes
    -----
    Formulas in the module docstring.  Criterion 3 equals pmvalsampsize exactly.
    Criterion 2 is integrated (pmvalsampsize simulates 1e6 patients: its value
    moves by a few tenths of a percent with the seed).  With
    ``rounding="exact"`` criteria 1 and 4 differ from pmvalsampsize by its
    grid and rounding shortcuts: the O/E size by up to ~0.3% (906 instead of
    905 in Riley et al.'s worked example, where 905 gives a CI 1.00003 wide),
    the net-benefit size by up to ~1.5% (its SE rounded to 3 decimals and,
    from a threshold, Se/Sp rounded to 2); ``rounding="pmvalsampsize"``
    reproduces them.

    Examples
    --------
    >>> r = external_validation_sample_size(prevalence=0.018, cstatistic=0.8,
    ...                                      lp_normal=(-5, 2.5), oe_ci_width=1)
    >>> r.n_cstatistic, r.n_oe
    (4252, 906)
    """
    caller = _CALLER
    opts = _check_common(caller, prevalence, cstatistic, oe, oe_ci_width, cslope,
                         cslope_ci_width, cstatistic_ci_width, threshold, sensitivity,
                         specificity, nb_ci_width)
    from radval._validation import check_choice

    rounding = check_choice(rounding, ("exact", "pmvalsampsize"), caller=caller,
                            param="rounding")
    lp = _lp_distribution(lp_normal, lp_beta, opts["cstatistic"], opts["prevalence"], caller)
    return _compute(lp=lp, rounding=rounding, **opts)


@dataclass(frozen=True, kw_only=True)
class SampleSizeCheckResult(Result):
    """Whether a validation cohort meets the minimum sample size.

    Attributes
    ----------
    n, events : int
        The cohort's size and events.
    required : int
        ``n_final`` of the criteria computed at the cohort's prevalence and C.
    meets : bool
        ``n >= required``.
    meets_oe, meets_cslope, meets_cstatistic, meets_net_benefit : bool or None
        Per criterion (None when criterion 4 was not computed).
    criteria : ExternalValidationSampleSizeResult
    """

    n: int
    events: int
    required: int
    meets: bool
    meets_oe: bool
    meets_cslope: bool
    meets_cstatistic: bool
    meets_net_benefit: bool | None
    criteria: ExternalValidationSampleSizeResult

    def to_frame(self) -> pd.DataFrame:
        """The criterion table with the cohort's ``n`` and a ``meets`` column."""
        out = self.criteria.to_frame()
        out["n"] = self.n
        out["meets"] = self.n >= out["sample_size"]
        return out


def check_validation_sample_size(n: int, events: int, *, cstatistic: float, lp: Any = None,
                                 lp_normal: tuple[float, float] | None = None,
                                 oe: float = 1.0, oe_ci_width: float = 0.2,
                                 cslope: float = 1.0, cslope_ci_width: float = 0.2,
                                 cstatistic_ci_width: float = 0.1,
                                 threshold: float | None = None,
                                 nb_ci_width: float = 0.2) -> SampleSizeCheckResult:
    """Does a validation cohort of ``n`` patients with ``events`` meet Riley et al.'s criteria?

    The criteria are computed at the cohort's own prevalence (``events / n``) and
    observed C-statistic; for the calibration slope and net benefit the linear
    predictor distribution is the cohort's own (``lp``: the model's linear
    predictor, logit of the predicted risk, for every patient), a normal one
    (``lp_normal``, e.g. the development cohort's mean and SD when the cohort's own
    is not to be used), or the C-statistic-based one without either.

    Parameters
    ----------
    n, events : int
        Cohort size and number of events (``0 < events < n``).
    cstatistic : float
        Observed C-statistic (AUC) in the cohort, in (0.5, 1).
    lp : array-like, optional
        Linear predictor of each patient.
    lp_normal : tuple of float, optional
        ``(mean, sd)`` of a normal linear-predictor distribution instead (as
        :func:`external_validation_sample_size`); not with ``lp``.
    oe, oe_ci_width, cslope, cslope_ci_width, cstatistic_ci_width, threshold, nb_ci_width
        As :func:`external_validation_sample_size` (sensitivity and specificity
        at ``threshold`` come from ``lp``).

    Returns
    -------
    SampleSizeCheckResult

    Examples
    --------
    >>> r = check_validation_sample_size(300, 60, cstatistic=0.75)
    >>> r.meets, r.required > 300
    (False, True)
    """
    caller = "check_validation_sample_size"
    for name, v in (("n", n), ("events", events)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise param_error(name, caller, "a positive integer", v)
    if not 0 < events < n:
        raise param_error("events", caller, f"between 1 and n - 1 = {n - 1}", events)
    opts = _check_common(caller, events / n, cstatistic, oe, oe_ci_width, cslope,
                         cslope_ci_width, cstatistic_ci_width, threshold, None, None,
                         nb_ci_width)
    if lp is not None and lp_normal is not None:
        raise param_error("lp_normal", caller, "None when 'lp' is given (one LP distribution)",
                          lp_normal)
    if lp is not None:
        dist = _empirical_lp(lp, caller)
    elif lp_normal is not None:
        dist = _normal_lp(*_pair(lp_normal, "lp_normal", caller))
    else:
        dist = _cstat_lp(opts["cstatistic"], opts["prevalence"])
    crit = _compute(lp=dist, **opts)
    nb = None if crit.n_net_benefit is None else bool(n >= crit.n_net_benefit)
    return SampleSizeCheckResult(n=int(n), events=int(events), required=crit.n_final,
                                 meets=bool(n >= crit.n_final), meets_oe=bool(n >= crit.n_oe),
                                 meets_cslope=bool(n >= crit.n_cslope),
                                 meets_cstatistic=bool(n >= crit.n_cstatistic),
                                 meets_net_benefit=nb, criteria=crit)
