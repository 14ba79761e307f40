"""Plotting primitives: tidy data in, one drawn ``Axes`` out, no global state.

Each ``plot_*`` function takes a tidy DataFrame (the curve records of ``results.json``,
or a stats function's output) and an optional ``ax``; without one it makes its own
figure.  Drawing happens inside ``matplotlib.rc_context`` with radval's style, and no
function touches pyplot or the backend, so a user can put radval's ROC curve into a
figure of their own::

    fig, (a, b) = plt.subplots(1, 2)
    plot_roc(roc_records, ax=a)

Text that comes from data (model names, cohort labels) is drawn literally
(:func:`radval.report._escape.mpl_text`: no mathtext).  The palette is Okabe-Ito
(colour-blind safe); line styles differ as well, so figures survive grey-scale print.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from radval.report._data import level_percent
from radval.report._escape import mpl_text

__all__ = ["OKABE_ITO", "STYLE", "log_axis", "new_figure", "plot_calibration",
           "plot_calibration_band", "plot_decision_curve", "plot_km",
           "plot_net_benefit_difference", "plot_roc", "style"]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000")
LINE_STYLES = ("-", "--", "-.", ":")
#: radval's matplotlib settings, applied only inside :func:`style`.
STYLE: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path",
    "pdf.fonttype": 42, "svg.hashsalt": "radval", "figure.dpi": 100}


@contextmanager
def style() -> Iterator[None]:
    """radval's style for the duration of a ``with`` block (``matplotlib.rc_context``)."""
    import logging

    import matplotlib

    # fontTools logs every subsetted glyph at INFO when PDFs are written
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """A figure and its axes, without pyplot (no figure manager, no backend switch).

    Keyword arguments go to :meth:`matplotlib.figure.Figure.subplots` (``squeeze``,
    ``sharex``, ``gridspec_kw``) and :class:`~matplotlib.figure.Figure` (``figsize``).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _log_label(v: float) -> str:
    """A tick label of a log axis: ``2``, ``50``, ``1000``, ``0.8``; ``10⁵`` / ``2×10⁵``
    beyond 10⁴ and below 10⁻³ (plain text, no mathtext)."""
    if 1e-3 <= v < 1e4:
        return f"{float(f'{v:.6g}'):g}"
    k = int(np.floor(np.log10(v) + 1e-9))
    m = v / 10.0 ** k
    power = "10" + str(k).translate(_SUPERSCRIPT)
    return power if abs(m - 1) < 1e-9 else f"{m:g}×{power}"


def log_axis(ax: Any, axis: str = "x", *, low: float | None = None,
             high: float | None = None) -> Any:
    """A logarithmic axis whose tick labels never overprint, whatever its range.

    matplotlib's default log axis labels the minor ticks (2, 3, 4, ... x 10^k) when the
    range spans less than about two decades, and the labels of a narrow axis then print
    on top of each other.  Here the candidate ticks suit the range (1-2-5 steps per
    decade over up to two decades, decades beyond), and then every second, third, ...
    tick is dropped until the labels, measured at the axis' length and font size, leave
    a gap between them.  Labels are plain numbers (``2``, ``50``, ``1000``, ``10⁵``);
    minor ticks carry no label.

    Parameters
    ----------
    ax : matplotlib Axes
    axis : {"x", "y"}
    low, high : float, optional
        The data range to label (default: the current limits).

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib import rcParams
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    lim = ax.get_xlim() if axis == "x" else ax.get_ylim()
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*lim)
    vmin, vmax = max(min(lim), 1e-12), max(lim)
    lo = max(float(low if low is not None else vmin), vmin)
    hi = min(float(high if high is not None else vmax), vmax)
    hi = max(hi, lo * 1.0001)
    decades = np.log10(hi) - np.log10(lo)
    steps = (1.0, 2.0, 5.0) if decades <= 2.0 else (1.0,)
    k0, k1 = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    ticks = [m * 10.0 ** k for k in range(k0, k1 + 1) for m in steps
             if lo * (1 - 1e-9) <= m * 10.0 ** k <= hi * (1 + 1e-9)]
    if len(ticks) < 3:  # a narrow range (an O/E ratio 0.8-1.4): round numbers within it
        from matplotlib.ticker import MaxNLocator

        ticks = [float(t) for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
                 .tick_values(lo, hi) if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)] or ticks
    # the axis' length in points and each label's width at the tick font size
    size = ax.get_position().width if axis == "x" else ax.get_position().height
    length = size * (ax.figure.get_figwidth() if axis == "x" else ax.figure.get_figheight())
    length *= 72.0
    font = which.get_ticklabels()[0].get_fontsize() if which.get_ticklabels() else \
        float(rcParams["font.size"])
    span = np.log10(vmax) - np.log10(vmin)

    def fits(ts: list[float]) -> bool:
        pos = [length * (np.log10(t) - np.log10(vmin)) / span for t in ts]
        half = [0.5 * (0.62 * font * len(_log_label(t)) if axis == "x" else 1.2 * font)
                for t in ts]
        return all(p1 - h1 - (p0 + h0) >= 0.5 * font
                   for p0, h0, p1, h1 in zip(pos, half, pos[1:], half[1:]))

    every = 1
    shown = ticks
    while len(shown) > 1 and not fits(shown):
        every += 1
        shown = ticks[::every]
    which.set_major_locator(FixedLocator(shown))
    which.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10))))
    which.set_minor_formatter(NullFormatter())
    which.set_major_formatter(FuncFormatter(lambda v, _pos: _log_label(v)))
    return ax


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _fig, new = new_figure(figsize=figsize)
    return new


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(names)}


def plot_roc(curves: pd.DataFrame, *, band: pd.DataFrame | None = None,
             auc: Mapping[str, float] | None = None, labels: Mapping[str, str] | None = None,
             banded: Sequence[str] | None = None, legend: str = "lower right",
             title: str | None = None, ax: Any = None) -> Any:
    """ROC curves, one line per model, with a pointwise confidence band.

    Parameters
    ----------
    curves : DataFrame
        ``model, fpr, tpr`` (the ``curves.roc`` records of one cohort, or
        :func:`radval.stats.roc_curve` with a ``model`` column).
    band : DataFrame, optional
        ``model, fpr, tpr_low, tpr_high``.
    auc : mapping, optional
        Model -> AUC, shown in the legend.
    labels : mapping, optional
        Model -> display label.
    banded : sequence of str, optional
        Models whose band is drawn (default: all).
    legend : str
        Legend location, or ``"below"``.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    labels = labels or {}
    with style():
        ax = _axes(ax, (3.6, 3.6))
        models = list(dict.fromkeys(curves["model"]))
        col = _colors(models)
        show = set(models if banded is None else banded)
        for i, m in enumerate(models):
            g = curves[curves["model"] == m]
            if band is not None and not band.empty and m in show:
                b = band[band["model"] == m]
                if len(b):
                    ax.fill_between(b["fpr"], b["tpr_low"], b["tpr_high"], color=col[m],
                                    alpha=0.15, lw=0)
            value = auc.get(m) if auc is not None else None
            extra = f" {value:.2f}" if value is not None and np.isfinite(value) else ""
            ax.plot(g["fpr"], g["tpr"], color=col[m], ls=LINE_STYLES[i % 4], lw=1.4,
                    label=f"{mpl_text(labels.get(m, m))}{extra}")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.7)
        if title is not None:
            ax.set_title(mpl_text(title))
        ax.set_xlabel("1 − specificity")
        ax.set_ylabel("sensitivity")
        ax.set_aspect("equal")
        kw = {"title": "AUC"} if auc else {}
        if legend == "below":
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.5,
                      title_fontsize=7, frameon=False, **kw)
        else:
            ax.legend(loc=legend, frameon=False, **kw)
    return ax


def plot_calibration(grouped: pd.DataFrame | None = None, smooth: pd.DataFrame | None = None,
                     *, metrics: Mapping[str, Any] | None = None, title: str | None = None,
                     ax: Any = None) -> Any:
    """Calibration of one model: risk groups with Wilson CIs and the smoothed curve.

    Parameters
    ----------
    grouped : DataFrame, optional
        ``mean_predicted, observed, ci_low, ci_high`` (``curves.calibration_grouped``).
    smooth : DataFrame, optional
        ``predicted, observed`` (``curves.calibration_smooth``).
    metrics : mapping, optional
        ``intercept, slope, brier, ici`` printed in the corner.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    with style():
        ax = _axes(ax, (3.0, 3.0))
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.7)
        if smooth is not None and len(smooth):
            ax.plot(smooth["predicted"], smooth["observed"], color=OKABE_ITO[0], lw=1.3)
        if grouped is not None and len(grouped):
            err = np.vstack([grouped["observed"] - grouped["ci_low"],
                             grouped["ci_high"] - grouped["observed"]])
            ax.errorbar(grouped["mean_predicted"], grouped["observed"],
                        yerr=np.clip(err.astype(float), 0, None), fmt="o", ms=3,
                        color=OKABE_ITO[1], ecolor=OKABE_ITO[1], elinewidth=0.7)
        if metrics:
            def num(key: str, digits: int) -> str:
                v = metrics.get(key)
                return f"{float(v):.{digits}f}" if v is not None and np.isfinite(
                    float(v)) else "–"

            txt = (f"intercept {num('intercept', 2)}\nslope {num('slope', 2)}\n"
                   f"Brier {num('brier', 3)}\nICI {num('ici', 3)}")
            ax.text(0.03, 0.97, txt, transform=ax.transAxes, va="top", fontsize=7,
                    family="monospace")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
        if title is not None:
            ax.set_title(mpl_text(title))
    return ax


def plot_calibration_band(curves: pd.DataFrame, *, by: str | None = None,
                          labels: Mapping[str, str] | None = None,
                          corrected: pd.DataFrame | None = None, legend: bool = True,
                          note: str | None = None, title: str | None = None,
                          ax: Any = None) -> Any:
    """Flexible calibration curves with their pointwise bands (one line per group).

    Parameters
    ----------
    curves : DataFrame
        ``predicted, observed, ci_low, ci_high`` (``curves.calibration_band`` of one
        cohort x model, or :func:`radval.stats.calibration_curve`'s ``to_frame()``),
        with a column ``by`` when several curves share the panel.
    by : str, optional
        Column whose values are drawn as separate lines (e.g. ``level``).
    labels : mapping, optional
        Value of ``by`` -> legend label.
    corrected : DataFrame, optional
        ``predicted, apparent, corrected`` (a bias-corrected curve): drawn instead of
        ``curves`` as two lines, apparent dashed and corrected solid.
    legend : bool
    note : str, optional
        Text in the upper-left corner (drawn literally).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    labels = labels or {}
    with style():
        ax = _axes(ax, (3.0, 3.0))
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.7, label="ideal")
        if corrected is not None and len(corrected):
            c = corrected.sort_values("predicted")
            for col, color, ls, name in (("apparent", OKABE_ITO[1], "--", "apparent"),
                                         ("corrected", OKABE_ITO[0], "-", "bias-corrected")):
                vals = pd.to_numeric(c[col], errors="coerce").to_numpy(dtype=float)
                # an estimate outside [0, 1] is drawn at the edge, not off the panel
                ax.plot(c["predicted"], np.clip(vals, -0.02, 1.02), color=color, ls=ls,
                        lw=1.4 if ls == "-" else 1.2, label=name)
        elif curves is not None and len(curves):
            groups = list(dict.fromkeys(curves[by])) if by else [None]
            for i, g in enumerate(groups):
                d = curves if g is None else curves[curves[by] == g]
                d = d.sort_values("predicted")
                color = OKABE_ITO[i % len(OKABE_ITO)]
                lo = pd.to_numeric(d["ci_low"], errors="coerce").to_numpy(dtype=float)
                hi = pd.to_numeric(d["ci_high"], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(lo) & np.isfinite(hi)
                if ok.any():
                    ax.fill_between(d["predicted"].to_numpy(dtype=float)[ok],
                                    np.clip(lo[ok], 0, 1), np.clip(hi[ok], 0, 1),
                                    color=color, alpha=0.18, lw=0)
                legend_name = None if g is None else mpl_text(labels.get(str(g), str(g)))
                ax.plot(d["predicted"], np.clip(pd.to_numeric(d["observed"],
                                                              errors="coerce"), -0.05, 1.05),
                        color=color, ls=LINE_STYLES[i % 4], lw=1.3, label=legend_name)
        if note:
            ax.text(0.03, 0.97, mpl_text(note), transform=ax.transAxes, va="top", fontsize=6.5)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
        if title is not None:
            ax.set_title(mpl_text(title), fontsize=8)
        handles, names = ax.get_legend_handles_labels()
        if legend and len(names) > 1:
            ax.legend(loc="lower right", frameon=False, fontsize=6)
    return ax


def plot_net_benefit_difference(diff: pd.DataFrame, *, title: str | None = None,
                                ylabel: str = "difference in net benefit",
                                confidence_level: float = 0.95, ax: Any = None) -> Any:
    """Difference in net benefit between two models with its confidence band.

    Parameters
    ----------
    diff : DataFrame
        ``threshold, difference, ci_low, ci_high`` (the ``net_benefit_difference``
        records of one cohort and pair, or
        :func:`radval.stats.decision_curve_difference`).
    title, ylabel : str, optional
    confidence_level : float, default 0.95
        The level ``ci_low, ci_high`` were computed at (the band's legend entry).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    with style():
        ax = _axes(ax, (3.6, 3.0))
        d = diff.sort_values("threshold")
        t = d["threshold"].to_numpy(dtype=float)
        lo = pd.to_numeric(d["ci_low"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(d["ci_high"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.fill_between(t[ok], lo[ok], hi[ok], color=OKABE_ITO[0], alpha=0.2, lw=0,
                            label=f"{level_percent(confidence_level)} CI")
        ax.plot(t, d["difference"], color=OKABE_ITO[0], lw=1.4, label="difference")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xlim(float(np.nanmin(t)), float(np.nanmax(t)))
        if title is not None:
            ax.set_title(mpl_text(title), fontsize=8)
        ax.set_xlabel("threshold probability")
        ax.set_ylabel(ylabel)
    return ax


def plot_decision_curve(curves: pd.DataFrame, *, labels: Mapping[str, str] | None = None,
                        legend: bool = True, title: str | None = None,
                        ax: Any = None) -> Any:
    """Decision curves: net benefit against threshold, with treat all and treat none.

    Parameters
    ----------
    curves : DataFrame
        ``model, threshold, net_benefit, treat_all`` (``curves.decision`` of one cohort, or
        :func:`radval.stats.decision_curve` with a ``model`` column).
    labels : mapping, optional
    legend : bool
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    labels = labels or {}
    with style():
        ax = _axes(ax, (3.8, 3.2))
        models = list(dict.fromkeys(curves["model"]))
        col = _colors(models)
        first = curves[curves["model"] == models[0]].sort_values("threshold")
        ax.plot(first["threshold"], first["treat_all"], color="0.55", lw=1, label="treat all")
        ax.axhline(0, color="0.2", lw=0.8, label="treat none")
        top = 0.0
        for i, m in enumerate(models):
            g = curves[curves["model"] == m].sort_values("threshold")
            ax.plot(g["threshold"], g["net_benefit"], color=col[m], ls=LINE_STYLES[i % 4],
                    lw=1.3, label=mpl_text(labels.get(m, m)))
            top = max(top, float(np.nanmax(g["net_benefit"])))
        ax.set_ylim(-0.05, max(top * 1.15, 0.05))
        if title is not None:
            ax.set_title(mpl_text(title))
        ax.set_xlabel("threshold probability")
        ax.set_ylabel("net benefit")
        if legend:
            ax.legend(frameon=False)
    return ax


def plot_km(curves: pd.DataFrame, *, title: str | None = None, at_risk_ax: Any = None,
            time_label: str = "time (months); numbers at risk", ax: Any = None) -> Any:
    """Kaplan-Meier curves by group, with the numbers at risk on a second axes.

    Parameters
    ----------
    curves : DataFrame
        ``group, time, survival, at_risk`` (``survival.km`` of one cohort, or
        :func:`radval.stats.kaplan_meier` output).
    title : str, optional
    at_risk_ax : matplotlib Axes, optional
        Where the numbers at risk go (none drawn without it).
    time_label : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.ticker import MaxNLocator

    with style():
        ax = _axes(ax, (4.2, 3.4))
        groups = list(dict.fromkeys(curves["group"]))
        tmax = float(curves["time"].max())
        ticks = [t for t in MaxNLocator(5).tick_values(0, tmax) if 0 <= t <= tmax]
        for i, g in enumerate(groups):
            d = curves[curves["group"] == g].sort_values("time")
            ax.step(d["time"], d["survival"], where="post", color=OKABE_ITO[i % 8],
                    ls=LINE_STYLES[i % 4], label=mpl_text(g))
            if at_risk_ax is None:
                continue
            for t in ticks:  # at risk at t = at risk at the first time >= t (survfit)
                after = d[d["time"] >= t]
                text = str(int(after["at_risk"].iloc[0])) if len(after) else "–"
                at_risk_ax.text(t, len(groups) - 1 - i, text, ha="center", va="center",
                                fontsize=7, color=OKABE_ITO[i % 8])
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, tmax * 1.02)
        if title is not None:
            ax.set_title(mpl_text(title))
        ax.set_ylabel("event-free probability")
        ax.legend(frameon=False, fontsize=7)
        if at_risk_ax is not None:
            tab = at_risk_ax
            tab.set_xlim(ax.get_xlim())
            tab.set_ylim(-0.6, len(groups) - 0.4)
            tab.set_yticks(range(len(groups)), list(reversed([mpl_text(g) for g in groups])),
                           fontsize=7)
            tab.set_xticks(ticks, [f"{t:.0f}" for t in ticks], fontsize=7)
            tab.set_xlabel(time_label)
            for s in ("left", "bottom"):
                tab.spines[s].set_visible(False)
            tab.tick_params(length=0)
            tab.tick_params(axis="y", pad=14)
        else:
            ax.set_xlabel(time_label.split(";")[0])
    return ax
