"""Published validations as meta-analysis inputs, rebuilt the way metamisc's ``valmeta`` does.

A validation reported in a paper gives an AUC (c-statistic) with a standard error,
a confidence interval, or only the sample size and number of events, and an
observed/expected (O/E) ratio with a standard error or interval, or the observed and
expected numbers of events.  ``valmeta`` (metamisc; ``ccalc`` and ``oecalc``) turns
each into an estimate on the scale that is pooled, with its standard error:

**AUC** on the logit scale, :math:`\\theta = \\operatorname{logit}(c)`, with the first
available of (metamisc's order)

1. standard error: :math:`\\operatorname{SE}(\\theta) = \\operatorname{SE}(c) / (c(1-c))`
   (delta method);
2. confidence interval at level :math:`\\ell` (limits transformed first):
   :math:`\\operatorname{SE}(\\theta) = \\dfrac{\\operatorname{logit}(u) -
   \\operatorname{logit}(l)}{2 z_{(1+\\ell)/2}}`;
3. sample size :math:`N` and events :math:`O`: Hanley & McNeil's variance with
   Newcombe's method 4 (:math:`m^* = n^* = N/2 - 1`, valmeta's default) or method 2
   (:math:`m^* = N - O - 1`, :math:`n^* = O - 1`):
   :math:`\\operatorname{var}(c) = c(1-c)\\{1 + n^*(1-c)/(2-c) + m^* c/(1+c)\\} /
   \\{O (N - O)\\}`, then the delta method.

**O/E** on the log scale, :math:`\\theta = \\log(O/E)`, with the first available of

1. O/E and its standard error: :math:`\\operatorname{SE}(\\theta) = \\operatorname{SE}/(O/E)`;
2. O/E and its confidence interval (on the ratio scale, as metamisc):
   :math:`\\operatorname{SE}(\\theta) = \\dfrac{u - l}{2 z_{(1+\\ell)/2}} / (O/E)`;
3. O, E and N: :math:`\\operatorname{var}(O/E) = O(1 - O/N)/E^2`, so
   :math:`\\operatorname{SE}(\\theta) = \\sqrt{(1 - O/N)/O}`;
4. O and E: :math:`\\operatorname{var}(O/E) = O/E^2`, :math:`\\operatorname{SE}(\\theta)
   = 1/\\sqrt{O}`;

with 1/2 added to O, E (and N) when E = 0, as ``oecalc(add = 1/2)``.

A confidence interval that does not contain its estimate is an error naming the
study: it is nearly always a transcription mistake.

References
----------
Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and
meta-analysis of prediction model performance. BMJ 2017;356:i6460.
Debray TPA, Damen JAAG, Riley RD, et al. A framework for meta-analysis of prediction
model studies with binary and time-to-event outcomes. Stat Methods Med Res
2019;28:2768-2786 (metamisc ``valmeta``).
Newcombe RG. Confidence intervals for an effect size measure based on the Mann-Whitney
statistic. Part 2. Stat Med 2006;25:559-573.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radval._results import Result
from radval._validation import param_error

__all__ = ["PublishedValidation", "published_auc", "published_oe", "published_validations"]


@dataclass(frozen=True, kw_only=True)
class PublishedValidation(Result):
    """One published estimate on its pooling scale.

    Attributes
    ----------
    study : str
    measure : str
        ``"auc"`` (theta = logit AUC) or ``"oe"`` (theta = log O/E).
    estimate : float
        The estimate on its natural scale (AUC, O/E).
    theta, theta_se : float
        Estimate and standard error on the pooling scale; pass ``theta`` and
        ``theta_se**2`` to :func:`radval.pool._meta_analysis`.
    source : str
        What the standard error was rebuilt from (metamisc's labels):
        ``"Standard Error"``, ``"Confidence Interval"``, ``"Newcombe (Method 4)"``
        (or 2), ``"OE and SE(OE)"``, ``"OE and CI(OE)"``, ``"O, E and N"``,
        ``"O and E"``.
    """

    study: str
    measure: str
    estimate: float
    theta: float
    theta_se: float
    source: str


def _num(value: Any, param: str, caller: str, study: str, *, low: float = -math.inf,
         high: float = math.inf, open_low: bool = True, open_high: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise param_error(param, caller, f"a number (study {study!r})", value) from exc
    ok = math.isfinite(v) and (v > low if open_low else v >= low) and \
        (v < high if open_high else v <= high)
    if not ok:
        lo_b, hi_b = ("(" if open_low else "["), (")" if open_high else "]")
        raise param_error(param, caller, f"a number in {lo_b}{low:g}, {high:g}{hi_b} "
                          f"(study {study!r})", value)
    return v


def _level(ci_level: Any, caller: str, study: str) -> float:
    return _num(ci_level, "ci_level", caller, study, low=0.0, high=1.0)


def _interval(ci: Any, estimate: float, name: str, caller: str, study: str, *, low: float,
              high: float) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in ci)
    except (TypeError, ValueError) as exc:
        raise param_error("ci", caller, f"a pair (low, high) (study {study!r})", ci) from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and low < lo < hi < high):
        raise param_error("ci", caller, f"a pair (low, high) with {low:g} < low < high < "
                          f"{high:g} (study {study!r})", ci)
    if not lo <= estimate <= hi:
        raise param_error("ci", caller, f"an interval containing the estimate of study "
                          f"{study!r} ({name} {estimate:g})", ci)
    return lo, hi


def _z(level: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2.0))


def _study(study: Any, caller: str) -> str:
    if not isinstance(study, str) or not study.strip():
        raise param_error("study", caller, "a non-empty label", study)
    return study


def published_auc(study: str, auc: float, *, se: float | None = None, ci: Any = None,
                  ci_level: float = 0.95, n: int | None = None, events: int | None = None,
                  se_method: int = 4) -> PublishedValidation:
    """A published AUC as logit AUC and its standard error (metamisc ``ccalc``).

    Parameters
    ----------
    study : str
        Label used in messages and in the pooled table.
    auc : float
        Reported AUC (c-statistic), in (0, 1).
    se : float, optional
        Its standard error.
    ci : tuple of float, optional
        Its confidence interval ``(low, high)``, which must contain ``auc``.
    ci_level : float, optional
        Level of ``ci`` (default 0.95).
    n, events : int, optional
        Sample size and number of events (used when neither ``se`` nor ``ci``
        is given).
    se_method : {4, 2}, optional
        Newcombe's method for the Hanley-McNeil variance from ``n`` and
        ``events`` (valmeta's default 4).

    Returns
    -------
    PublishedValidation

    Raises
    ------
    InputError
        AUC outside (0, 1), a CI that does not contain the AUC or lies outside
        (0, 1), ``events`` not in (0, n), nothing to rebuild the standard error
        from; every message names the study.

    Examples
    --------
    >>> r = published_auc("Smith 2020", 0.78, ci=(0.72, 0.84))
    >>> round(r.theta, 4), round(r.theta_se, 4), r.source
    (1.2657, 0.1821, 'Confidence Interval')
    """
    caller = "published_auc"
    study = _study(study, caller)
    c = _num(auc, "auc", caller, study, low=0.0, high=1.0)
    theta = math.log(c / (1.0 - c))
    deriv = c * (1.0 - c)
    if se_method not in (2, 4) or isinstance(se_method, bool):
        raise param_error("se_method", caller, "2 or 4 (Newcombe's methods)", se_method)
    if se is not None:
        s = _num(se, "se", caller, study, low=0.0)
        return PublishedValidation(study=study, measure="auc", estimate=c, theta=theta,
                                   theta_se=s / deriv, source="Standard Error")
    if ci is not None:
        lo, hi = _interval(ci, c, "AUC", caller, study, low=0.0, high=1.0)
        level = _level(ci_level, caller, study)
        width = math.log(hi / (1.0 - hi)) - math.log(lo / (1.0 - lo))
        return PublishedValidation(study=study, measure="auc", estimate=c, theta=theta,
                                   theta_se=width / (2.0 * _z(level)),
                                   source="Confidence Interval")
    if n is not None and events is not None:
        n_ = _num(n, "n", caller, study, low=0.0)
        o = _num(events, "events", caller, study, low=0.0, high=n_)
        m = n_ - o
        if se_method == 4:
            mstar = nstar = n_ / 2.0 - 1.0
        else:
            mstar, nstar = m - 1.0, o - 1.0
        var_c = c * (1.0 - c) * (1.0 + nstar * (1.0 - c) / (2.0 - c) + mstar * c / (1.0 + c)) \
            / (m * o)
        return PublishedValidation(study=study, measure="auc", estimate=c, theta=theta,
                                   theta_se=math.sqrt(var_c) / deriv,
                                   source=f"Newcombe (Method {se_method})")
    raise param_error("se", caller, "given, or 'ci', or 'n' and 'events', to rebuild the "
                      f"standard error of the AUC of study {study!r}", None)


def published_oe(study: str, *, oe: float | None = None, se: float | None = None,
                 ci: Any = None, ci_level: float = 0.95, observed: float | None = None,
                 expected: float | None = None, n: float | None = None,
                 correction: float = 0.5) -> PublishedValidation:
    """A published O/E ratio as log O/E and its standard error (metamisc ``oecalc``).

    Parameters
    ----------
    study : str
    oe : float, optional
        Reported observed/expected ratio (> 0).
    se : float, optional
        Its standard error (with ``oe``).
    ci : tuple of float, optional
        Its confidence interval ``(low, high)`` (with ``oe``), which must contain it.
    ci_level : float, optional
    observed, expected : float, optional
        Observed and expected numbers of events (used when ``oe`` with ``se`` or
        ``ci`` is not given; ``oe`` is then ``observed / expected``).
    n : float, optional
        Sample size (with ``observed`` and ``expected``: binomial variance).
    correction : float, optional
        Added to O, E and N when E = 0 (``oecalc(add = 1/2)``).

    Returns
    -------
    PublishedValidation

    Raises
    ------
    InputError
        Non-positive O/E, a CI that does not contain the ratio, observed > n,
        nothing to rebuild the standard error from; messages name the study.

    Examples
    --------
    >>> r = published_oe("Smith 2020", observed=57, expected=61.4, n=500)
    >>> round(r.theta, 4), round(r.theta_se, 4), r.source
    (-0.0744, 0.1247, 'O, E and N')
    """
    caller = "published_oe"
    study = _study(study, caller)
    if oe is not None and (se is not None or ci is not None):
        r = _num(oe, "oe", caller, study, low=0.0)
        if se is not None:
            s = _num(se, "se", caller, study, low=0.0)
            return PublishedValidation(study=study, measure="oe", estimate=r,
                                       theta=math.log(r), theta_se=s / r,
                                       source="OE and SE(OE)")
        lo, hi = _interval(ci, r, "O/E", caller, study, low=0.0, high=math.inf)
        level = _level(ci_level, caller, study)
        return PublishedValidation(study=study, measure="oe", estimate=r, theta=math.log(r),
                                   theta_se=(hi - lo) / (2.0 * _z(level)) / r,
                                   source="OE and CI(OE)")
    if observed is not None and expected is not None:
        o = _num(observed, "observed", caller, study, low=0.0, open_low=False)
        e = _num(expected, "expected", caller, study, low=0.0, open_low=False)
        add = _num(correction, "correction", caller, study, low=0.0, open_low=False)
        n_ = None if n is None else _num(n, "n", caller, study, low=0.0)
        if n_ is not None and o > n_:
            raise param_error("observed", caller, f"at most n = {n_:g} (study {study!r})",
                              observed)
        if e == 0.0:
            o, e = o + add, e + add
            n_ = None if n_ is None else n_ + add
        if o <= 0.0:
            raise param_error("observed", caller, f"> 0 for a log O/E ratio (study {study!r})",
                              observed)
        ratio = o / e
        if n_ is not None:
            var = (1.0 - o / n_) / o
            source = "O, E and N"
        else:
            var = 1.0 / o
            source = "O and E"
        return PublishedValidation(study=study, measure="oe", estimate=ratio,
                                   theta=math.log(ratio), theta_se=math.sqrt(var),
                                   source=source)
    raise param_error("oe", caller, "given with 'se' or 'ci', or 'observed' and 'expected' "
                      f"given, to rebuild the log O/E of study {study!r}", oe)


def _present(row: pd.Series, col: str) -> Any:
    if col not in row.index:
        return None
    v = row[col]
    if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
        return None
    return v


def published_validations(table: pd.DataFrame) -> pd.DataFrame:
    """Rebuild every study of a table of published validations (long format).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per study with a ``study`` column and any of ``auc, auc_se,
        auc_ci_low, auc_ci_high, auc_ci_level, n, events`` (AUC) and ``oe, oe_se,
        oe_ci_low, oe_ci_high, oe_ci_level, observed, expected`` (O/E); missing
        values are NaN.

    Returns
    -------
    pandas.DataFrame
        One row per study and measure reported: ``study, measure, estimate,
        theta, theta_se, source`` (see :func:`published_auc`,
        :func:`published_oe`).

    Raises
    ------
    InputError
        No ``study`` column, duplicated labels, or any study rejected by
        :func:`published_auc` / :func:`published_oe` (the message names it).
    """
    caller = "published_validations"
    if not isinstance(table, pd.DataFrame) or "study" not in table.columns:
        raise param_error("table", caller, "a DataFrame with a 'study' column", type(table))
    dup = table["study"][table["study"].duplicated()].tolist()
    if dup:
        raise param_error("table", caller, "one row per study", f"duplicated {dup[:3]}")
    rows: list[dict[str, Any]] = []
    for _, row in table.iterrows():
        study = str(row["study"])
        auc = _present(row, "auc")
        if auc is not None:
            lo, hi = _present(row, "auc_ci_low"), _present(row, "auc_ci_high")
            level = _present(row, "auc_ci_level")
            res = published_auc(study, auc, se=_present(row, "auc_se"),
                                ci=None if lo is None and hi is None else (lo, hi),
                                ci_level=0.95 if level is None else level,
                                n=_present(row, "n"), events=_present(row, "events"))
            rows.append(res.to_dict())
        oe = _present(row, "oe")
        obs, exp_ = _present(row, "observed"), _present(row, "expected")
        if oe is not None or (obs is not None and exp_ is not None):
            lo, hi = _present(row, "oe_ci_low"), _present(row, "oe_ci_high")
            level = _present(row, "oe_ci_level")
            res = published_oe(study, oe=oe, se=_present(row, "oe_se"),
                               ci=None if lo is None and hi is None else (lo, hi),
                               ci_level=0.95 if level is None else level, observed=obs,
                               expected=exp_, n=_present(row, "n"))
            rows.append(res.to_dict())
    return pd.DataFrame(rows, columns=["study", "measure", "estimate", "theta", "theta_se",
                                       "source"])
