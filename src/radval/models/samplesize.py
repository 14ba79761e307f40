"""Minimum sample size for a binary-outcome prediction model (Riley et al. 2020) and EPP.

Riley RD, Ensor J, Snell KIE, et al. Calculating the sample size required for
developing a clinical prediction model. BMJ 2020;368:m441.  With ``P`` candidate
predictor parameters, outcome prevalence :math:`\\phi`, and anticipated
Cox-Snell :math:`R^2_{CS}`:

* maximum :math:`R^2_{CS}`: :math:`\\max R^2_{CS} = 1 - \\exp(2\\,\\ell_0/n)`
  with :math:`\\ell_0/n = \\phi\\ln\\phi + (1-\\phi)\\ln(1-\\phi)`;
* criterion 1 (expected uniform shrinkage :math:`S \\ge 0.9`):
  :math:`n_1 = P / ((S-1)\\ln(1 - R^2_{CS}/S))`;
* criterion 2 (optimism in Nagelkerke :math:`R^2` at most :math:`\\delta=0.05`):
  :math:`S_2 = R^2_{CS} / (R^2_{CS} + \\delta \\max R^2_{CS})`, then :math:`n_2` as in
  criterion 1 with :math:`S_2`;
* criterion 3 (overall risk within :math:`\\pm 0.05`):
  :math:`n_3 = (1.96/0.05)^2\\,\\phi(1-\\phi)`.

Each is rounded up; the minimum is the largest.  When :math:`R^2_{CS}` is not
given, the conservative default of Riley et al. is used: Nagelkerke
:math:`R^2 = 0.15`, i.e. :math:`R^2_{CS} = 0.15\\max R^2_{CS}`.
The published worked example (P = 24, prevalence 0.174, :math:`R^2_{CS}` = 0.288)
needs 623 patients by criterion 1 and 221 by criterion 3 (pmsampsize output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from radval._results import Result
from radval._validation import param_error

__all__ = ["SampleSizeResult", "max_r2_cs", "riley_sample_size"]


def max_r2_cs(prevalence: float) -> float:
    """Largest attainable Cox-Snell :math:`R^2` for outcome prevalence ``prevalence``."""
    phi = float(prevalence)
    if not 0.0 < phi < 1.0:
        raise param_error("prevalence", "max_r2_cs", "a float in (0, 1)", prevalence)
    lnl0 = phi * math.log(phi) + (1.0 - phi) * math.log(1.0 - phi)
    return 1.0 - math.exp(2.0 * lnl0)


@dataclass(frozen=True, kw_only=True)
class SampleSizeResult(Result):
    """Riley criteria and events per predictor parameter for a development cohort.

    Attributes
    ----------
    n, events : int
        Available development sample and events (``n=0`` when only planning).
    candidate_predictors : int
        ``P``, candidate predictor parameters.
    prevalence, r2_cs, max_r2_cs, r2_nagelkerke : float
    shrinkage_target, delta, margin : float
    n_criterion1, n_criterion2, n_criterion3, n_required : int
    shrinkage_criterion2 : float
    epp, epp_required : float
        Events per candidate parameter available and implied by ``n_required``.
    ok : bool
        ``n >= n_required``.
    """

    n: int
    events: int
    candidate_predictors: int
    prevalence: float
    r2_cs: float
    max_r2_cs: float
    r2_nagelkerke: float
    shrinkage_target: float
    delta: float
    margin: float
    n_criterion1: int
    n_criterion2: int
    n_criterion3: int
    shrinkage_criterion2: float
    n_required: int
    epp: float
    epp_required: float
    ok: bool


def _n_for_shrinkage(p: int, r2: float, s: float) -> float:
    return p / ((s - 1.0) * math.log(1.0 - r2 / s))


def riley_sample_size(*, candidate_predictors: int, prevalence: float,
                      r2_cs: float | None = None, r2_nagelkerke: float = 0.15,
                      shrinkage: float = 0.9, delta: float = 0.05, margin: float = 0.05,
                      n: int = 0, events: int = 0) -> SampleSizeResult:
    """Minimum development sample size (Riley et al. 2020, criteria 1-3, binary outcome).

    Parameters
    ----------
    candidate_predictors : int
        Number of candidate predictor parameters ``P`` (every feature entering selection).
    prevalence : float
        Anticipated outcome prevalence.
    r2_cs : float, optional
        Anticipated Cox-Snell :math:`R^2`; default ``r2_nagelkerke * max_r2_cs``.
    r2_nagelkerke : float, optional
        Used when ``r2_cs`` is None (default 0.15, Riley's conservative choice).
    shrinkage, delta, margin : float, optional
        Targets of criteria 1, 2 and 3 (0.9, 0.05, 0.05).
    n, events : int, optional
        The available development cohort, for ``ok`` and ``epp``.

    Returns
    -------
    SampleSizeResult
    """
    caller = "riley_sample_size"
    if isinstance(candidate_predictors, bool) or int(candidate_predictors) < 1:
        raise param_error("candidate_predictors", caller, "an integer >= 1", candidate_predictors)
    p = int(candidate_predictors)
    maxr2 = max_r2_cs(prevalence)
    if r2_cs is None:
        if not 0.0 < r2_nagelkerke < 1.0:
            raise param_error("r2_nagelkerke", caller, "a float in (0, 1)", r2_nagelkerke)
        r2 = r2_nagelkerke * maxr2
    else:
        r2 = float(r2_cs)
        if not 0.0 < r2 < maxr2:
            raise param_error("r2_cs", caller, f"a float in (0, max R2_CS = {maxr2:.4f})", r2_cs)
    if not 0.0 < shrinkage < 1.0:
        raise param_error("shrinkage", caller, "a float in (0, 1)", shrinkage)
    n1 = _n_for_shrinkage(p, r2, shrinkage)
    s2 = r2 / (r2 + delta * maxr2)
    n2 = _n_for_shrinkage(p, r2, s2)
    phi = float(prevalence)
    n3 = (1.959963984540054 / margin) ** 2 * phi * (1.0 - phi)
    c1, c2, c3 = (math.ceil(v - 1e-9) for v in (n1, n2, n3))
    need = max(c1, c2, c3)
    return SampleSizeResult(
        n=int(n), events=int(events), candidate_predictors=p, prevalence=phi, r2_cs=r2,
        max_r2_cs=maxr2, r2_nagelkerke=r2 / maxr2, shrinkage_target=float(shrinkage),
        delta=float(delta), margin=float(margin), n_criterion1=c1, n_criterion2=c2,
        n_criterion3=c3, shrinkage_criterion2=s2, n_required=need,
        epp=(events / p) if p else math.nan, epp_required=need * phi / p,
        ok=int(n) >= need,
    )
