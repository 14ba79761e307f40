"""What ``radval pool`` meta-analyses beyond the core measures: net benefit at chosen
thresholds and published validations taken in as sites.

**Net benefit** at threshold :math:`t` is pooled on its natural scale with the site's
multinomial standard error (``share.json`` ``net_benefit[].net_benefit_se``,
:func:`radval.stats._decision_curve._net_benefit_se`).  A site that withheld the net
benefit at :math:`t` (disclosure control: a cell of that threshold's 2x2 table below 5)
or that did not report :math:`t` is left out of that threshold, and the pooled report says
so.  Net benefit depends on the prevalence: its between-site heterogeneity includes the
differences in event rate.

**Published validations** (``--published table.csv``, one row per study) enter the AUC
and O/E meta-analyses beside the radval sites: the table is read by
:func:`radval.pool.published_validations`, which rebuilds each standard error the way
metamisc's ``valmeta`` does (logit AUC from its SE, CI, or n and events; log O/E from its
SE, CI, O and E (and N)); a CI that does not contain its estimate is an error naming the
study.  The rebuilt pooling-scale SE is carried back to the natural scale by the delta
method (:math:`\\operatorname{SE}(c) = \\operatorname{SE}(\\operatorname{logit} c)\\,c(1-c)`,
:math:`\\operatorname{SE}(O/E) = \\operatorname{SE}(\\log O/E)\\,O/E`), which
:func:`radval.pool.meta_analysis` undoes exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from radval.exceptions import DataError, InputError

__all__ = ["choose_nb_thresholds", "nb_measure_name", "published_rows", "read_published",
           "share_nb_rows"]

#: Measure of the core table -> measure of published_validations.
PUBLISHED_MEASURE = {"auc": "auc", "o_e": "oe"}
PUBLISHED_COLUMNS = ("study", "auc", "auc_se", "auc_ci_low", "auc_ci_high", "auc_ci_level",
                     "n", "events", "oe", "oe_se", "oe_ci_low", "oe_ci_high", "oe_ci_level",
                     "observed", "expected")


def nb_measure_name(threshold: float) -> str:
    """``net_benefit_<t>`` with t to 4 decimals (e.g. ``net_benefit_0.1000``)."""
    return f"net_benefit_{threshold:.4f}"


def _key(t: Any) -> float:
    return round(float(t), 6)


def choose_nb_thresholds(shares: Sequence[Mapping[str, Any]], chosen: Sequence[float] | None
                  ) -> list[float]:
    """Thresholds to pool: the chosen ones (each must lie in (0, 1)), or every threshold
    reported by at least one site."""
    if chosen is not None:
        bad = [t for t in chosen if not (math.isfinite(float(t)) and 0.0 < float(t) < 1.0)]
        if bad:
            raise InputError(f"pool: net-benefit thresholds must be in (0, 1); got "
                             f"{bad[:3]}.")
        return sorted({_key(t) for t in chosen})
    seen = {_key(e["threshold"]) for s in shares for e in s.get("net_benefit", [])
            if e.get("threshold") is not None and 0.0 < float(e["threshold"]) < 1.0}
    return sorted(seen)


def share_nb_rows(shares: Sequence[Mapping[str, Any]], threshold: float) -> pd.DataFrame:
    """One row per site for the net benefit at ``threshold``: ``site, label, n, events,
    estimate, se, used, withheld, source, note``."""
    rows = []
    for s in shares:
        entry = None
        index = None
        for i, e in enumerate(s.get("net_benefit", [])):
            if e.get("threshold") is not None and _key(e["threshold"]) == _key(threshold):
                entry, index = e, i
                break
        est = None if entry is None else entry.get("net_benefit")
        se = None if entry is None else entry.get("net_benefit_se")
        usable = est is not None and se is not None and math.isfinite(est) and \
            math.isfinite(se) and se > 0
        suppressed = set(s["suppression"]["suppressed"])
        withheld = index is not None and f"net_benefit[{index}].net_benefit" in suppressed
        note = None
        if entry is None:
            note = "threshold not reported"
        elif withheld:
            note = "withheld by the site (small cells)"
        elif est is not None and se is None:
            note = "no standard error (share.json of radval < 0.3)"
        elif not usable:
            note = "undefined (nobody treated at this threshold)"
        rows.append({"site": s["site"], "label": f"{s['site']} (n={s['n']})", "n": s["n"],
                     "events": s.get("events"), "estimate": est, "se": se,
                     "used": bool(usable), "withheld": bool(withheld), "source": "share.json",
                     "note": note})
    return pd.DataFrame(rows)


def read_published(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table of published validations and rebuild every study's estimate and SE.

    Parameters
    ----------
    path : path
        CSV (or any table :func:`radval.io.tables.read_table` reads) with a ``study``
        column and any of ``auc, auc_se, auc_ci_low, auc_ci_high, auc_ci_level, n,
        events, oe, oe_se, oe_ci_low, oe_ci_high, oe_ci_level, observed, expected``.

    Returns
    -------
    DataFrame
        :func:`radval.pool.published_validations` (``study, measure, estimate, theta,
        theta_se, source``) with the table's ``n`` and ``events``.

    Raises
    ------
    InputError
        An unknown column, or a study the rebuild rejects (a CI that does not contain
        its estimate, ...): the message names the study.
    """
    from radval.io.tables import read_table
    from radval.pool.published import published_validations

    table = read_table(path, what="published validations table", dtype={"study": str},
                       required=["study"])
    unknown = [c for c in table.columns if c not in PUBLISHED_COLUMNS]
    if unknown:
        raise InputError(f"published validations table: unknown column(s) "
                         f"{', '.join(map(repr, unknown[:5]))} (known: "
                         f"{', '.join(PUBLISHED_COLUMNS)}).")
    numeric = [c for c in table.columns if c != "study"]
    for c in numeric:
        try:
            table[c] = pd.to_numeric(table[c])
        except (TypeError, ValueError):
            raise InputError(f"published validations table: column {c!r} must hold numbers."
                             ) from None
    table["study"] = table["study"].astype(str).str.strip()
    out = published_validations(table)
    extra = table.set_index("study")
    for col in ("n", "events"):
        values: list[Any] = [extra.at[s, col] if col in extra.columns else math.nan
                             for s in out["study"]]
        out[col] = values
    return out


def _count(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def published_rows(published: pd.DataFrame, measure: str, sites: Sequence[str]
                   ) -> pd.DataFrame:
    """The published studies of one core measure (``auc`` or ``o_e``) as rows like a
    site's, the SE on the natural scale."""
    cols = ["site", "label", "n", "events", "estimate", "se", "used", "withheld", "source",
            "note"]
    kind = PUBLISHED_MEASURE.get(measure)
    if kind is None or published is None or published.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for rec in published[published["measure"] == kind].to_dict(orient="records"):
        if rec["study"] in sites:
            raise DataError(f"pool: published study {rec['study']!r} has the label of a "
                            "radval site; give it another name.")
        est = float(rec["estimate"])
        # back to the natural scale: meta_analysis applies the same delta method
        deriv = est * (1.0 - est) if kind == "auc" else est
        n: Any = rec.get("n")
        has_n = n is not None and not (isinstance(n, float) and math.isnan(n))
        rows.append({"site": rec["study"],
                     "label": f"{rec['study']} (n={int(n)}, published)" if has_n
                     else f"{rec['study']} (published)",
                     "n": int(n) if has_n else None,
                     "events": _count(rec.get("events")),
                     "estimate": est, "se": float(rec["theta_se"]) * deriv, "used": True,
                     "withheld": False, "source": f"published ({rec['source']})",
                     "note": None})
    return pd.DataFrame(rows, columns=cols)
