"""Figures of the time-to-event validation (:mod:`radval.report._survival_section`).

The plot functions take *tidy* data (the ``survival`` tables of
:class:`radval.report._data.ReportData`) and an optional matplotlib ``ax``, and draw in
radval's style (:func:`radval.report._plots.style`) without pyplot or global state:
:func:`td_auc_plot` (AUC(t) over the horizons), :func:`survival_calibration_plot`
(calibration at one horizon), :func:`survival_decision_plot` (net benefit at one
horizon).  One colour and line style per cohort, the same in every panel (``order``).
The ``*_figure`` functions compose them into the report's figures and save them with
:func:`radval.report.figures.save`.  Text from the results is drawn literally
(:func:`radval.report._escape.mpl_text`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radval.contracts._results import Survival
from radval.report._data import ReportData, level_percent
from radval.report._escape import mpl_text
from radval.report._plots import LINE_STYLES, OKABE_ITO, new_figure, style

#: Writes a figure under a name and returns its PNG
#: (:meth:`radval.report._sections.SectionContext.save`).
Saver = Callable[[Any, str], Path]

__all__ = ["auc_figure", "horizon_figure", "per_horizon_figure", "survival_calibration_plot",
           "survival_decision_plot", "td_auc_plot"]

# yellow (Okabe-Ito 7th) is too pale for thin lines on white
_PALETTE = tuple(c for c in OKABE_ITO if c != "#F0E442")


def _unit(surv: Survival | None) -> str:
    return str(surv.time_unit or "") if surv is not None else ""


def _h(x: Any) -> str:
    return f"{float(x):g}"


def _styles(cohorts: Sequence[str], order: Sequence[str] | None) -> dict[str, tuple[str, str]]:
    """Cohort -> (colour, line style): by position in ``order`` (then the data's order),
    so that a cohort looks the same in every panel even where another has no data."""
    names = list(dict.fromkeys([*(order or []), *cohorts]))
    return {c: (_PALETTE[i % len(_PALETTE)], LINE_STYLES[i % len(LINE_STYLES)])
            for i, c in enumerate(names)}


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _fig, new = new_figure(figsize=figsize)
    return new


def _num(series: Any) -> Any:
    return pd.to_numeric(pd.Series(series), errors="coerce").to_numpy(dtype=float)


def td_auc_plot(data: pd.DataFrame, *, labels: Mapping[str, str] | None = None,
                order: Sequence[str] | None = None, time_unit: str = "",
                legend: bool = True, confidence_level: float = 0.95, ax: Any = None) -> Any:
    """AUC(t) with its CI against the horizon, one line per cohort.

    Parameters
    ----------
    data : DataFrame
        ``cohort, horizon, auc, ci_low, ci_high`` (``ReportData.survival_auc``).
    labels : mapping, optional
        Cohort -> display name.
    order : sequence of str, optional
        Cohorts in the order that fixes their colours (default: the data's order).
    time_unit : str
        Unit of the horizons (axis label).
    legend : bool
    confidence_level : float, default 0.95
        The level ``ci_low, ci_high`` were computed at (the axis label).
    ax : matplotlib Axes, optional
        Drawn into when given; else on a new figure.

    Returns
    -------
    matplotlib Axes
    """
    labels = labels or {}
    with style():
        ax = _axes(ax, (4.2, 3.2))
        d_all = data[pd.notna(pd.to_numeric(data["auc"], errors="coerce"))]
        cohorts = list(dict.fromkeys(d_all["cohort"]))
        sty = _styles(cohorts, order)
        hs = sorted(set(_num(d_all["horizon"])))
        span = (hs[-1] - hs[0]) if len(hs) > 1 else 1.0
        low = 0.3
        for i, cohort in enumerate(cohorts):
            d = d_all[d_all["cohort"] == cohort].sort_values("horizon")
            # side by side around each horizon: the intervals do not hide each other
            x = _num(d["horizon"]) + 0.012 * span * (i - (len(cohorts) - 1) / 2)
            y, lo, hi = _num(d["auc"]), _num(d["ci_low"]), _num(d["ci_high"])
            err = [(y - lo).clip(min=0), (hi - y).clip(min=0)]
            err = [pd.Series(e).fillna(0).to_numpy() for e in err]
            colour, ls = sty[cohort]
            ax.errorbar(x, y, yerr=err, color=colour, ls=ls, marker="o", ms=4, capsize=2,
                        lw=1.2, label=mpl_text(labels.get(cohort, cohort)))
            finite = lo[pd.notna(lo)]
            if finite.size:
                low = min(low, float(finite.min()) - 0.05)
        ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
        ax.set_ylim(max(low, 0.0), 1.0)
        if hs:
            ax.set_xticks(hs, [f"{h:g}" for h in hs])
            ax.set_xlim(hs[0] - 0.15 * span, hs[-1] + 0.15 * span)
        ax.set_xlabel(f"horizon, {mpl_text(time_unit)}" if time_unit else "horizon")
        ax.set_ylabel(f"AUC(t) ({level_percent(confidence_level)} CI)")
        if legend and cohorts:
            ax.legend(frameon=False, loc="lower left")
    return ax


def survival_calibration_plot(grouped: pd.DataFrame, curve: pd.DataFrame | None = None, *,
                              labels: Mapping[str, str] | None = None,
                              order: Sequence[str] | None = None, title: str = "",
                              legend: bool = True, ax: Any = None) -> Any:
    """Observed (Kaplan-Meier) against predicted risk at one horizon, per cohort.

    Parameters
    ----------
    grouped : DataFrame
        ``cohort, mean_predicted, observed, ci_low, ci_high`` (risk groups of one
        horizon, ``ReportData.survival_calibration_grouped``).
    curve : DataFrame, optional
        ``cohort, predicted, observed`` (the flexible curve of the same horizon).
    labels : mapping, optional
        Cohort -> display name.
    order : sequence of str, optional
        Cohorts in the order that fixes their colours.
    title : str
        Panel title (e.g. the horizon).
    legend : bool
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.colors import to_rgba

    labels = labels or {}
    cur = curve if curve is not None else pd.DataFrame(columns=["cohort", "predicted",
                                                                 "observed"])
    have_curve = len(cur) > 0
    with style():
        ax = _axes(ax, (3.4, 3.4))
        cohorts = list(dict.fromkeys([*(grouped["cohort"] if len(grouped) else []),
                                      *cur["cohort"]]))
        sty = _styles(cohorts, order)
        top = 0.05
        for cohort in cohorts:
            colour, ls = sty[cohort]
            name = mpl_text(labels.get(cohort, cohort))
            g = grouped[grouped["cohort"] == cohort] if len(grouped) else grouped
            if len(g):
                x, y = _num(g["mean_predicted"]), _num(g["observed"])
                lo, hi = _num(g["ci_low"]), _num(g["ci_high"])
                err = [pd.Series((y - lo).clip(min=0)).fillna(0).to_numpy(),
                       pd.Series((hi - y).clip(min=0)).fillna(0).to_numpy()]
                # light interval bars: the small risk groups of a validation cohort have
                # wide intervals that would hide the points and the curves
                ax.errorbar(x, y, yerr=err, fmt="o", ms=3.5, capsize=1.5, elinewidth=0.7,
                            color=colour, ecolor=to_rgba(colour, 0.4), label=name)
                # the axes follow the points and curves, not the interval limits
                vals = pd.Series([*x, *y]).dropna()
                if len(vals):
                    top = max(top, float(vals.max()))
            if have_curve:
                c = cur[cur["cohort"] == cohort].sort_values("predicted")
                obs = _num(c["observed"])
                ax.plot(_num(c["predicted"]), obs, color=colour, ls=ls, lw=1.1,
                        label=None if len(g) else name)
                vals = pd.Series([*obs, *_num(c["predicted"])]).dropna()
                if len(vals):
                    top = max(top, float(vals.max()))
        lim = min(1.0, 1.1 * top)
        ax.plot([0, lim], [0, lim], color="0.6", lw=0.8, ls=":")
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim)
        ax.set_xlabel("predicted risk")
        ax.set_ylabel("observed risk (Kaplan-Meier)")
        if title:
            ax.set_title(mpl_text(title))
        if legend and cohorts:
            ax.legend(frameon=False, loc="upper left")
    return ax


def survival_decision_plot(data: pd.DataFrame, *, labels: Mapping[str, str] | None = None,
                           order: Sequence[str] | None = None, title: str = "",
                           max_threshold: float = 0.6, legend: bool = True,
                           ax: Any = None) -> Any:
    """Net benefit against the threshold probability at one horizon, per cohort, with
    treat all (thin line, same colour) and treat none (0).

    Parameters
    ----------
    data : DataFrame
        ``cohort, threshold, net_benefit, treat_all`` (one horizon of
        ``ReportData.survival_decision``).
    labels : mapping, optional
        Cohort -> display name.
    order : sequence of str, optional
        Cohorts in the order that fixes their colours.
    title : str
    max_threshold : float
        Right end of the threshold axis.
    legend : bool
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    labels = labels or {}
    with style():
        ax = _axes(ax, (3.4, 3.0))
        d_all = data[_num(data["threshold"]) <= max_threshold]
        cohorts = list(dict.fromkeys(d_all["cohort"]))
        sty = _styles(cohorts, order)
        lo, hi = 0.0, 0.0
        for cohort in cohorts:
            d = d_all[d_all["cohort"] == cohort].sort_values("threshold")
            colour, ls = sty[cohort]
            t, nb = _num(d["threshold"]), _num(d["net_benefit"])
            ax.plot(t, nb, color=colour, ls=ls, lw=1.3,
                    label=mpl_text(labels.get(cohort, cohort)))
            ax.plot(t, _num(d["treat_all"]), color=colour, lw=0.6, alpha=0.7)
            ok = pd.Series(nb).dropna()
            if len(ok):
                hi, lo = max(hi, float(ok.max())), min(lo, float(ok.min()))
        ax.axhline(0.0, color="0.3", lw=0.8)
        span = max(hi, 0.05)
        # treat all falls steeply below 0: show the model's curves, not treat all's tail
        ax.set_ylim(max(lo, -0.25 * span) - 0.02 * span, 1.1 * span)
        ax.set_xlim(0, max_threshold)
        ax.set_xlabel("threshold probability")
        ax.set_ylabel("net benefit")
        if title:
            ax.set_title(mpl_text(title))
        if legend and cohorts:
            ax.legend(frameon=False, loc="upper right")
    return ax


def _cohort_handles(d: ReportData, cohorts: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Legend entries (colour, line style and marker) of ``cohorts``, for a legend shared
    by the panels of a figure."""
    from matplotlib.lines import Line2D

    sty = _styles(cohorts, d.cohorts)
    handles = [Line2D([], [], color=sty[c][0], ls=sty[c][1], marker="o", ms=3.5, lw=1.2)
               for c in cohorts]
    return handles, [mpl_text(d.labels.cohort(c)) for c in cohorts]


def _shared_legend(fig: Any, d: ReportData, cohorts: Sequence[str]) -> None:
    handles, names = _cohort_handles(d, cohorts)
    if handles:
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(names), 4), frameon=False, fontsize=8)


def _max_threshold(dca: pd.DataFrame) -> float:
    t = _num(dca["threshold"])
    return float(min(0.6, pd.Series(t).max())) if len(t) else 0.6


def _cohorts_of(d: ReportData, *frames: pd.DataFrame) -> list[str]:
    have = {str(c) for f in frames if len(f) for c in f["cohort"]}
    return [c for c in d.cohorts if c in have] + sorted(have - set(d.cohorts))


def _at(df: pd.DataFrame, horizon: float) -> pd.DataFrame:
    if df.empty:
        return df
    return df[abs(_num(df["horizon"]) - horizon) < 1e-9]


def horizon_figure(d: ReportData, horizon: float, save: Saver) -> Path | None:
    """Main report: calibration and net benefit at one horizon, side by side."""
    grp, cur = _at(d.survival_calibration_grouped, horizon), \
        _at(d.survival_calibration_curve, horizon)
    dca = _at(d.survival_decision, horizon)
    panels = [k for k, ok in (("cal", len(grp) or len(cur)), ("dca", len(dca))) if ok]
    if not panels:
        return None
    unit = _unit(d.results.survival)
    lab = {c: d.labels.cohort(c) for c in d.cohorts}
    with style():
        fig, axes = new_figure(1, len(panels), figsize=(3.3 * len(panels), 3.2),
                               squeeze=False)
        for ax, kind in zip(axes[0], panels, strict=True):
            if kind == "cal":
                survival_calibration_plot(grp, cur if len(cur) else None, labels=lab,
                                          order=d.cohorts, legend=False, ax=ax,
                                          title=f"Calibration at {_h(horizon)} {unit}")
            else:
                survival_decision_plot(dca, labels=lab, order=d.cohorts, legend=False, ax=ax,
                                       max_threshold=_max_threshold(dca),
                                       title=f"Net benefit at {_h(horizon)} {unit}")
        fig.tight_layout()
        _shared_legend(fig, d, _cohorts_of(d, grp, cur, dca))
    return save(fig, "fig-survival-horizon")


def per_horizon_figure(d: ReportData, kind: str, save: Saver) -> Path | None:
    """Supplement: one panel per horizon (at most three a row) of the calibration or the
    decision curves."""
    if kind == "calibration":
        grp, cur = d.survival_calibration_grouped, d.survival_calibration_curve
        frames = [f for f in (grp, cur) if len(f)]
        name, size = "fig-survival-calibration", 2.5
    else:
        dca = d.survival_decision
        frames = [dca] if len(dca) else []
        name, size = "fig-survival-dca", 2.5
    if not frames:
        return None
    hs = sorted({float(h) for f in frames for h in _num(f["horizon"]) if math.isfinite(h)})
    unit = _unit(d.results.survival)
    lab = {c: d.labels.cohort(c) for c in d.cohorts}
    ncol = min(len(hs), 3)
    nrow = math.ceil(len(hs) / ncol)
    with style():
        fig, axes = new_figure(nrow, ncol, figsize=(size * ncol + 0.3, size * nrow + 0.2),
                               squeeze=False)
        for ax, hz in zip(axes.flat, hs, strict=False):
            title = f"{_h(hz)} {unit}"
            if kind == "calibration":
                g, c = _at(grp, hz), _at(cur, hz)
                survival_calibration_plot(g, c if len(c) else None, labels=lab,
                                          order=d.cohorts, legend=False, title=title, ax=ax)
            else:
                sub = _at(dca, hz)
                survival_decision_plot(sub, labels=lab, order=d.cohorts, legend=False,
                                       title=title, max_threshold=_max_threshold(sub), ax=ax)
        for k, ax in enumerate(axes.flat):
            if k >= len(hs):
                ax.axis("off")
            elif k % ncol:
                ax.set_ylabel("")  # one axis title per row
        fig.tight_layout()
        _shared_legend(fig, d, _cohorts_of(d, *frames))
    return save(fig, name)


def auc_figure(d: ReportData, save: Saver) -> Path | None:
    auc = d.survival_auc
    if auc.empty or not pd.notna(_num(auc["auc"])).any():
        return None
    with style():
        fig, ax = new_figure(figsize=(4.6, 3.2))
        td_auc_plot(auc, labels={c: d.labels.cohort(c) for c in d.cohorts}, order=d.cohorts,
                    time_unit=_unit(d.results.survival), legend=False,
                    confidence_level=d.ci_level, ax=ax)
        fig.tight_layout()
        _shared_legend(fig, d, _cohorts_of(d, auc))
    return save(fig, "fig-survival-auc")

