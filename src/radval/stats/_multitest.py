"""Multiple-testing adjustment (Holm, Benjamini-Hochberg, Bonferroni).

Equal to R's ``p.adjust(p, method=c("holm", "BH", "bonferroni"))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radval._validation import check_choice, param_error

__all__ = ["adjust_pvalues"]

_METHODS = ("holm", "bh", "bonferroni", "none")


def adjust_pvalues(p_values: Any, *, method: str = "holm") -> npt.NDArray[np.float64]:
    """Adjust p-values for multiple testing.

    Parameters
    ----------
    p_values : array-like
        Raw p-values in [0, 1]; NaN values are kept as NaN and not counted
        (as R's ``p.adjust`` with ``n = sum(!is.na(p))``).
    method : {"holm", "bh", "bonferroni", "none"}, optional
        ``"holm"``: :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m-j+1) p_{(j)})`.
        ``"bh"`` (Benjamini-Hochberg FDR q-values):
        :math:`\\tilde p_{(i)} = \\min_{j \\ge i} \\min(1, m p_{(j)} / j)`.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    References
    ----------
    Holm S. Scand J Stat 1979;6:65-70.  Benjamini Y, Hochberg Y. J R Stat Soc B 1995;57:289-300.
    """
    method = check_choice(str(method).lower(), _METHODS, caller="adjust_pvalues", param="method")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise param_error("p_values", "adjust_pvalues", "values in [0, 1]", p_values)
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    if method == "bonferroni":
        out[ok] = np.minimum(1.0, q * m)
        return out
    if method == "holm":
        order = np.argsort(q, kind="mergesort")
        adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
        res = np.empty(m)
        res[order] = np.minimum(1.0, adj)
    else:  # bh
        order = np.argsort(q, kind="mergesort")[::-1]
        ranks = np.arange(m, 0, -1)
        adj = np.minimum.accumulate(m / ranks * q[order])
        res = np.empty(m)
        res[order] = np.minimum(1.0, adj)
    out[ok] = res
    return out
