"""The report's figures, composed from the typed results.

Every ``*_figure`` function takes the run's :class:`radval.report._data.ReportData` (the
typed results, the tidy frames built from them and the display names), draws one
(multi-panel) figure and saves it as SVG, PDF and 300 dpi PNG under ``out_dir`` via
:func:`save`.  It returns the PNG path, or ``None`` when that part is not in the run (the
report then says so).  Panels are drawn by the primitives of :mod:`radval.report._plots`
(tidy data and ``ax=``), and everything runs inside radval's ``matplotlib.rc_context`` on
figures of its own: pyplot, the backend and the global ``rcParams`` are never touched.
Every text from the run goes through :func:`radval.report._escape.mpl_text`.
matplotlib is imported inside the functions so that ``import radval.report`` stays light.
"""

from __future__ import annotations

import functools
import logging
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report._data import ReportData
from radval.report._escape import md_identifier, mpl_text
from radval.report._figure_files import SAVE_OPTIONS, PendingFigures, save
from radval.report._plots import (
    LINE_STYLES,
    OKABE_ITO,
    log_axis,
    new_figure,
    plot_calibration,
    plot_decision_curve,
    plot_km,
    plot_roc,
    style,
)

logger = logging.getLogger(__name__)

__all__ = [
    "OKABE_ITO",
    "PendingFigures",
    "SAVE_OPTIONS",
    "calibration_figure",
    "decision_figure",
    "draw_all",
    "flow_figure",
    "forest_figure",
    "funnel_figure",
    "icc_figure",
    "instability_figure",
    "km_figure",
    "lasso_figure",
    "lasso_label",
    "nomogram_figure",
    "roc_figure",
    "save",
    "score_distribution_figure",
    "start_figures",
]

F = TypeVar("F", bound=Callable[..., Any])
_STYLES = LINE_STYLES


def _styled(func: F) -> F:
    """Draw inside radval's style (``matplotlib.rc_context``): no global state changes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style():
            return func(*args, **kwargs)

    return cast(F, wrapper)


def _data(results: ReportData | ResultsFile | Mapping[str, Any]) -> ReportData:
    return results if isinstance(results, ReportData) else ReportData.build(results)


def _grid(n: int, ncol_max: int = 3) -> tuple[int, int]:
    ncol = min(max(n, 1), ncol_max)
    return math.ceil(max(n, 1) / ncol), ncol


def _present(d: ReportData, df: pd.DataFrame, models: Sequence[str] | None
             ) -> tuple[list[str], list[str]]:
    """(cohorts, models) of ``df`` in report order, ``models`` kept when given."""
    have_c = set(df["cohort"].astype(str)) if "cohort" in df else set()
    have_m = set(df["model"].astype(str)) if "model" in df else set()
    cohorts = [c for c in d.cohorts if c in have_c] + sorted(have_c - set(d.cohorts))
    order = list(models) if models is not None else d.models + sorted(have_m - set(d.models))
    return cohorts, [m for m in order if m in have_m]


def _model_labels(d: ReportData, models: Sequence[str]) -> dict[str, str]:
    return {m: d.labels.model(m) for m in models}


# ------------------------------------------------------------------------- participants
@_styled
def flow_figure(results: Any, out_dir: str | Path) -> Path | None:
    """Patient-flow diagram: per cohort a column of boxes, exclusions to the side."""
    d = _data(results)
    df = d.flow
    if df.empty:
        return None
    from matplotlib.patches import FancyBboxPatch

    cohorts, _ = _present(d, df, None)
    n_stage = max(len(df[df["cohort"] == c]) for c in cohorts)
    fig, ax = new_figure(figsize=(max(2.6 * len(cohorts), 5.5), 0.4 + 0.62 * n_stage))
    ax.set_xlim(0, len(cohorts))
    ax.set_ylim(-n_stage + 0.45, 0.85)
    ax.axis("off")
    for i, c in enumerate(cohorts):
        sub = df[df["cohort"] == c].reset_index(drop=True)
        prev_y = None
        for j, r in enumerate(sub.to_dict(orient="records")):
            y = -float(j)
            stage = str(r["stage"]).replace("_", " ")
            # imputed patients stay in the analysis: a side box of their own, not an exclusion
            imputed = stage == "imputed"
            excl = stage not in ("clinical table", "manifest", "analysed") and not imputed
            side = excl or imputed
            # non-breaking spaces keep "n = 12" on one line when the text is wrapped
            n_txt = f"n\u00a0=\u00a0{int(r['n'])}"
            detail = r["reason"] if side and isinstance(r["reason"], str) else ""
            if imputed:
                detail = detail.removeprefix("multiple imputation of missing predictors: ")
                head = f"Kept, predictors imputed: {n_txt}"
                detail = f"missing: {detail}" if detail else ""
            else:
                head = f"Excluded, {stage}: {n_txt}" if excl else \
                    f"{stage.capitalize()}: {n_txt}"
            # wrapped to the box width and cut to three lines, so no text leaves its box
            heads = textwrap.wrap(head, 30) if side else [head]
            lines = textwrap.wrap(detail, 30)
            if len(heads) + len(lines) > 4:
                keep = max(4 - len(heads), 1)
                lines = [*lines[:keep - 1], lines[keep - 1][:27] + "..."]
            text = "\n".join([*heads, *lines])
            lines = [*heads[1:], *lines]
            x0, w = (i + 0.3, 0.67) if side else (i + 0.06, 0.5)
            h = max(0.52, min(0.86, 0.26 + 0.15 * (1 + len(lines))))
            ax.add_patch(FancyBboxPatch((x0, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                        fc="#FBE3D6" if excl else
                                        "#E3F1E8" if imputed else "#DCEBF7",
                                        ec=OKABE_ITO[1] if excl else
                                        OKABE_ITO[2] if imputed else OKABE_ITO[0], lw=0.8))
            ax.text(x0 + w / 2, y, mpl_text(text), ha="center", va="center", fontsize=6.5)
            if not side:
                if prev_y is not None:
                    ax.annotate("", xy=(i + 0.2, y + 0.27), xytext=(i + 0.2, prev_y - 0.27),
                                arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8})
                prev_y = y
        ax.text(i + 0.5, 0.62, mpl_text(d.labels.cohort(c)), ha="center", va="center",
                fontweight="bold", fontsize=8)
    return save(fig, out_dir, "fig-flow")


# ---------------------------------------------------------------------------- selection
@_styled
def funnel_figure(results: Any, out_dir: str | Path) -> Path | None:
    """Feature-selection funnel: features kept after each step, one panel per family, on
    a logarithmic axis whose ticks suit its range (:func:`radval.report._plots.log_axis`)."""
    d = _data(results)
    fams = [(f, b) for f, b in d.families.items() if b.funnel]
    if not fams:
        return None
    from radval.report.tables import _FAMILY_LABEL, _STEP_LABEL

    fig, axes = new_figure(1, len(fams), figsize=(4.0 * len(fams), 2.4), squeeze=False)
    for k, (ax, (fam, body)) in enumerate(zip(axes[0], fams, strict=True)):
        funnel = body.funnel or []
        steps = [_STEP_LABEL.get(r.step, r.step.replace("_", " ")) for r in funnel]
        kept = np.array([max(float(r.n_out), 0.0) for r in funnel])
        ypos = np.arange(len(steps))[::-1]
        shown = np.maximum(kept, 0.8)  # a step that kept nothing still gets a stub
        ax.barh(ypos, shown, color=OKABE_ITO[0] if k == 0 else OKABE_ITO[2], height=0.6)
        for yv, kv, sv in zip(ypos, kept, shown, strict=True):
            ax.text(sv * 1.08, yv, f"{int(kv)}", va="center", fontsize=7)
        ax.set_yticks(ypos, [mpl_text(s) for s in steps] if k == 0 else [""] * len(steps))
        lo, hi = float(shown.min()), float(shown.max())
        ax.set_xlim(lo / 1.5, hi * 2.2)
        log_axis(ax, "x", low=lo, high=hi)
        ax.set_xlabel("features kept (log scale)")
        ax.set_title(mpl_text(_FAMILY_LABEL.get(fam, fam)))
    fig.tight_layout()
    return save(fig, out_dir, "fig-funnel")


@_styled
def icc_figure(results: Any, out_dir: str | Path, threshold: float | None = None) -> Path | None:
    """Histogram of the radiomic features' ICCs with the reproducibility threshold."""
    d = _data(results)
    body = d.families.get("radiomics")
    if body is None or not body.icc:
        return None
    vals = np.array([r.icc for r in body.icc if r.icc is not None], dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return None
    if threshold is None:  # the study's threshold (the default when no study is recorded)
        threshold = d.study.selection.icc_threshold if d.study is not None else 0.75
    fig, ax = new_figure(figsize=(4.2, 2.5))
    ax.hist(vals, bins=np.linspace(min(0.0, float(vals.min())), 1, 31), color=OKABE_ITO[0],
            edgecolor="white")
    ax.axvline(threshold, color=OKABE_ITO[1], ls="--")
    ax.text(threshold, ax.get_ylim()[1] * 0.95, f" ICC = {threshold:g}", color=OKABE_ITO[1],
            va="top", fontsize=7)
    ax.set_xlabel("ICC between segmentations")
    ax.set_ylabel("features")
    fig.tight_layout()
    return save(fig, out_dir, "fig-icc")


def lasso_label(family: Any) -> str:
    """Label (and file stem) of the LASSO figure of a feature family: ``fig-lasso-<slug>``."""
    return md_identifier(family, prefix="fig-lasso-")


@_styled
def lasso_figure(results: Any, out_dir: str | Path, family: str = "radiomics") -> Path | None:
    """LASSO: cross-validated deviance against log(lambda), and the coefficient path."""
    d = _data(results)
    body = d.families.get(family)
    if body is None or not body.lasso_cv:
        return None
    cv = pd.DataFrame([r.model_dump(by_alias=True) for r in body.lasso_cv])
    path = pd.DataFrame([r.model_dump(by_alias=True) for r in body.lasso_path or []])
    fig, axes = new_figure(1, 2, figsize=(8, 2.9))
    ll = np.log(cv["lambda"].astype(float))
    axes[0].errorbar(ll, cv["cvm"].astype(float), yerr=cv["cvsd"].astype(float), fmt="o",
                     ms=2.5, color=OKABE_ITO[1], ecolor="0.6", elinewidth=0.7)
    axes[0].set_xlabel("log(λ)")
    axes[0].set_ylabel("CV binomial deviance")
    for value, dash in ((body.lambda_min, "--"), (body.lambda_1se, ":")):
        if value:
            for ax in axes:
                ax.axvline(math.log(float(value)), color="0.3", ls=dash, lw=0.8)
    axes[0].set_title("Cross-validation")
    if not path.empty:
        for i, (_feat, g) in enumerate(path.groupby("feature", sort=False)):
            axes[1].plot(np.log(g["lambda"].astype(float)), g["coef"],
                         color=OKABE_ITO[i % len(OKABE_ITO)], lw=1)
        axes[1].axhline(0, color="0.5", lw=0.5)
    axes[1].set_xlabel("log(λ)")
    axes[1].set_ylabel("coefficient")
    axes[1].set_title("Coefficient path")
    fig.tight_layout()
    return save(fig, out_dir, lasso_label(family))


# -------------------------------------------------------------------------- performance
@_styled
def roc_figure(results: Any, out_dir: str | Path, models: Sequence[str] | None = None, *,
               name: str = "fig-roc") -> Path | None:
    """ROC curves, one panel per cohort, one line per model (``models``: default all),
    with the CI band of the signature model (of every model when there are at most three)."""
    d = _data(results)
    roc = d.roc
    if roc.empty:
        return None
    cohorts, models_ = _present(d, roc, models)
    if not models_:
        return None
    band, perf = d.roc_band, d.performance
    primary = d.signature_model if d.signature_model in models_ else models_[0]
    banded = list(models_) if len(models_) <= 3 else [primary]
    many = len(models_) > 4
    nrow, ncol = _grid(len(cohorts))
    fig, axes = new_figure(nrow, ncol, figsize=(3.3 * ncol, (4.3 if many else 3.4) * nrow),
                           squeeze=False)
    for k, c in enumerate(cohorts):
        p = perf[perf["cohort"] == c]
        auc = {str(r["model"]): float(r["auc"]) for r in p.to_dict(orient="records")
               if pd.notna(r["auc"])}
        sub = roc[(roc["cohort"] == c) & roc["model"].isin(models_)]
        sub = sub.assign(_o=sub["model"].map({m: i for i, m in enumerate(models_)}))
        plot_roc(sub.sort_values("_o", kind="stable"),
                 band=band[band["cohort"] == c] if len(band) else None,
                 auc=auc, labels=_model_labels(d, models_), banded=banded,
                 title=d.labels.cohort(c), legend="below" if many else "lower right",
                 ax=axes.flat[k])
    for ax in list(axes.flat)[len(cohorts):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, name)


@_styled
def calibration_figure(results: Any, out_dir: str | Path,
                       models: Sequence[str] | None = None, *,
                       name: str = "fig-calibration") -> Path | None:
    """Calibration curves (risk groups with CIs, smoothed curve), metrics on each panel;
    rows are models (``models``: default all), columns cohorts.  With more than four models
    the panels go in a grid four wide, titled model and cohort, without the metrics (they
    are in the calibration table), so that the figure fits a page."""
    d = _data(results)
    grp, smooth = d.calibration_grouped, d.calibration_smooth
    base = grp if not grp.empty else smooth
    if base.empty:
        return None
    cohorts, models_ = _present(d, base, models)
    if not models_:
        return None
    metrics = d.calibration
    pairs = [(m, c) for m in models_ for c in cohorts]
    grid = len(models_) > 4
    if grid:
        ncol = 4
        nrow = math.ceil(len(pairs) / ncol)
        fig, axes = new_figure(nrow, ncol, figsize=(1.75 * ncol, 1.75 * nrow), squeeze=False,
                               sharex=True, sharey=True)
    else:
        nrow, ncol = len(models_), len(cohorts)
        fig, axes = new_figure(nrow, ncol, figsize=(2.5 * ncol + 0.5, 2.5 * nrow),
                               squeeze=False, sharex=True, sharey=True)
    for k, (m, c) in enumerate(pairs):
        i, j = divmod(k, ncol)
        ax = axes[i, j]
        r = metrics[(metrics["cohort"] == c) & (metrics["model"] == m)]
        plot_calibration(
            grp[(grp["cohort"] == c) & (grp["model"] == m)] if not grp.empty else None,
            smooth[(smooth["cohort"] == c) & (smooth["model"] == m)]
            if not smooth.empty else None,
            metrics=None if grid or r.empty else {str(k): v for k, v in r.iloc[0].items()},
            title=(f"{d.labels.model(m)}\n{d.labels.cohort(c)}" if grid
                   else d.labels.cohort(c) if i == 0 else None), ax=ax)
        if grid:
            ax.title.set_fontsize(7)
            ax.tick_params(labelsize=6.5)
        elif j == 0:
            ax.set_ylabel(f"{mpl_text(d.labels.model(m))}\nobserved", fontsize=8)
        if not grid and i == nrow - 1:
            ax.set_xlabel("predicted probability")
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    if grid:
        fig.supxlabel("predicted probability", fontsize=8)
        fig.supylabel("observed proportion", fontsize=8)
    fig.tight_layout()
    return save(fig, out_dir, name)


@_styled
def decision_figure(results: Any, out_dir: str | Path, models: Sequence[str] | None = None,
                    *, name: str = "fig-dca") -> Path | None:
    """Decision curves (net benefit against threshold) per cohort, with treat all / none."""
    d = _data(results)
    dc = d.decision
    if dc.empty:
        return None
    cohorts, models_ = _present(d, dc, models)
    if not models_:
        return None
    nrow, ncol = _grid(len(cohorts))
    fig, axes = new_figure(nrow, ncol, figsize=(3.4 * ncol, 2.9 * nrow), squeeze=False)
    for k, c in enumerate(cohorts):
        sub = dc[(dc["cohort"] == c) & dc["model"].isin(models_)]
        sub = sub.assign(_o=sub["model"].map({m: i for i, m in enumerate(models_)}))
        plot_decision_curve(sub.sort_values("_o", kind="stable"),
                            labels=_model_labels(d, models_), legend=k == 0,
                            title=d.labels.cohort(c), ax=axes.flat[k])
        if k == 0:
            axes.flat[k].legend(frameon=False, fontsize=6.5)
    for ax in list(axes.flat)[len(cohorts):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, name)


@_styled
def forest_figure(results: Any, out_dir: str | Path, models: Sequence[str] | None = None
                  ) -> Path | None:
    """Subgroup forest plot: AUC (CI at the run's level) per cohort x subgroup level, one
    colour per model."""
    d = _data(results)
    df = d.subgroups
    if df.empty:
        return None
    cohorts, models_ = _present(d, df, models)
    col = {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(models_)}
    rows = [(c, s, lv) for c in cohorts
            for (s, lv) in dict.fromkeys(zip(df[df["cohort"] == c]["subgroup"],
                                             df[df["cohort"] == c]["level"]))]
    fig, ax = new_figure(figsize=(6.5, 0.9 + 0.3 * len(rows) * max(1, len(models_)) / 2))
    step = 0.8 / max(1, len(models_))
    ylabels = []
    drawn: set[str] = set()
    for k, (c, s, lv) in enumerate(rows):
        y0 = len(rows) - 1 - k
        ylabels.append((y0, mpl_text(f"{d.labels.cohort(c)}: {d.labels.subgroup(s)} "
                                     f"{d.labels.subgroup_level(s, lv)}")))
        for i, m in enumerate(models_):
            r = df[(df["cohort"] == c) & (df["subgroup"] == s) & (df["level"] == lv)
                   & (df["model"] == m)]
            vals = pd.to_numeric(r[["auc", "ci_low", "ci_high"]].stack(), errors="coerce")
            if r.empty or not np.isfinite(vals).all() or len(vals) < 3:
                continue
            r0 = r.iloc[0]
            y = y0 + 0.4 - (i + 0.5) * step
            ax.errorbar([r0["auc"]], [y], xerr=[[r0["auc"] - r0["ci_low"]],
                                                [r0["ci_high"] - r0["auc"]]],
                        fmt="o", ms=3, color=col[m], elinewidth=0.9,
                        label=mpl_text(d.labels.model(m)) if m not in drawn else None)
            drawn.add(m)
    ax.axvline(0.5, color="0.6", lw=0.7, ls=":")
    ax.set_yticks([y for y, _ in ylabels], [t for _, t in ylabels], fontsize=7)
    ax.set_xlabel(f"AUC ({d.ci} CI)")
    ax.set_xlim(0.0, 1.0)
    if drawn:
        ax.legend(loc="lower left", frameon=False, fontsize=6.5)
    fig.tight_layout()
    return save(fig, out_dir, "fig-forest")


@_styled
def nomogram_figure(results: Any, out_dir: str | Path) -> Path | None:
    """Nomogram from ``results.nomogram`` (rms-style points scales): each predictor is an
    axis whose tick labels are its values (levels by their labels) at their points."""
    d = _data(results)
    nomo = d.results.nomogram
    if nomo is None or not nomo.predictors:
        return None
    from matplotlib.ticker import MaxNLocator

    variables = []
    for v in nomo.predictors:
        if d.labels.has_variable(v.column):
            name = d.labels.variable(v.column)
            values = [d.labels.level(v.column, t.value) if v.kind == "categorical"
                      else t.value for t in v.ticks]
        else:
            name = d.labels.model(d.signature_model) if v.column == "signature" else v.name
            values = [t.value for t in v.ticks]
        variables.append((name, values, [float(t.points) for t in v.ticks]))
    tmax = float(nomo.total_points_max)
    total = sorted({0.0} | {float(t) for t in MaxNLocator(6).tick_values(0, tmax)
                            if 0 <= t <= tmax})
    probs = [t.probability for t in nomo.total_points]
    ppoints = [float(t.points) for t in nomo.total_points]
    n_axes = len(variables) + 3
    fig, ax = new_figure(figsize=(7.5, 0.5 * n_axes + 0.5))
    ax.axis("off")
    max_total = max(total + ppoints)

    def axis(y: float, name: str, pos: list[float], labels: list[str], scale: float) -> None:
        xs = [p / scale * 100 for p in pos]
        ax.plot([min(xs), max(xs)], [y, y], color="0.2", lw=0.8)
        shown: list[float] = []
        for x, lab in sorted(zip(xs, labels), key=lambda t: t[0]):
            ax.plot([x, x], [y, y + 0.12], color="0.2", lw=0.8)
            # labels closer than 4 % of the axis would overprint: keep the first
            if all(abs(x - o) >= 4.0 for o in shown):
                ax.text(x, y + 0.18, mpl_text(lab), ha="center", va="bottom", fontsize=6.5)
                shown.append(x)
        ax.text(-3, y, mpl_text(name), ha="right", va="center", fontsize=7.5)

    y = 0.0
    axis(y, "Points", [float(v) for v in range(0, 101, 10)],
         [str(v) for v in range(0, 101, 10)], 100.0)
    for name, values, points in variables:
        y -= 1
        axis(y, name, points, [_tick(x) for x in values], 100.0)
    y -= 1
    axis(y, "Total points", total, [_tick(t) for t in total], max_total)
    if probs and ppoints:
        y -= 1
        axis(y, "Probability", ppoints, [_tick(p) for p in probs], max_total)
    ax.set_xlim(-32, 105)
    ax.set_ylim(y - 0.5, 0.8)
    fig.tight_layout()
    return save(fig, out_dir, "fig-nomogram")


def _tick(v: Any) -> str:
    if isinstance(v, float) and not float(v).is_integer():
        return f"{v:.3g}"
    if isinstance(v, float):
        return str(int(v))
    return str(v)


@_styled
def score_distribution_figure(results: Any, predictions: pd.DataFrame | None,
                              out_dir: str | Path) -> Path | None:
    """Box-and-strip plots of each model's score by outcome within each cohort."""
    d = _data(results)
    if predictions is None or predictions.empty:
        return None
    if not {"cohort", "model", "score", "y_true"} <= set(predictions.columns):
        return None
    cohorts, models = _present(d, predictions, None)
    nrow, ncol = _grid(len(models), 4)
    fig, axes = new_figure(nrow, ncol, figsize=(2.6 * ncol, 2.4 * nrow), squeeze=False)
    rng = np.random.default_rng(0)
    outcome = d.labels.variable(d.results.study.outcome, unit=False)
    for k, m in enumerate(models):
        ax = axes.flat[k]
        sub = predictions[predictions["model"] == m]
        for yi, colr in ((0, OKABE_ITO[0]), (1, OKABE_ITO[1])):
            data, pos, xs, ys = [], [], [], []
            for ci, c in enumerate(cohorts):
                v = sub[(sub["cohort"] == c) & (sub["y_true"] == yi)]["score"].dropna()
                if v.empty:
                    continue
                x = ci * 3 + yi
                data.append(v.to_numpy())
                pos.append(x)
                xs.append(x + rng.uniform(-0.18, 0.18, len(v)))
                ys.append(v.to_numpy())
            if not data:
                continue
            ax.boxplot(data, positions=pos, widths=0.6, showfliers=False,
                       medianprops={"color": colr}, boxprops={"color": colr},
                       whiskerprops={"color": colr}, capprops={"color": colr})
            ax.scatter(np.concatenate(xs), np.concatenate(ys), s=3, color=colr, alpha=0.45,
                       lw=0)
        ax.set_xticks([ci * 3 + 0.5 for ci in range(len(cohorts))],
                      [mpl_text(d.labels.cohort(c)) for c in cohorts], fontsize=6,
                      rotation=20)
        ax.set_title(mpl_text(d.labels.model(m)), fontsize=8)
        ax.set_ylabel("score", fontsize=7)
        if k == 0:
            from matplotlib.lines import Line2D

            ax.legend(handles=[Line2D([], [], color=OKABE_ITO[0], marker="o", ls="",
                                      label=mpl_text(f"{outcome}: no")),
                               Line2D([], [], color=OKABE_ITO[1], marker="o", ls="",
                                      label=mpl_text(f"{outcome}: yes"))],
                      frameon=False, fontsize=6)
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, "fig-scores")


@_styled
def km_figure(results: Any, out_dir: str | Path) -> Path | None:
    """Kaplan-Meier curves by risk group per cohort with numbers at risk underneath."""
    d = _data(results)
    km = d.km
    if km.empty:
        return None
    cohorts, _ = _present(d, km, None)
    fig, axes = new_figure(2, len(cohorts), figsize=(3.3 * len(cohorts), 3.4),
                           squeeze=False, gridspec_kw={"height_ratios": [4, 1]})
    for j, c in enumerate(cohorts):
        plot_km(km[km["cohort"] == c], title=d.labels.cohort(c), at_risk_ax=axes[1, j],
                ax=axes[0, j])
    fig.tight_layout()
    return save(fig, out_dir, "fig-km")


@_styled
def instability_figure(results: Any, out_dir: str | Path) -> Path | None:
    """Prediction instability (Riley & Collins 2023): per development patient, the
    2.5-97.5 percentile range of the bootstrap models' predictions against the final
    model's prediction; one panel for the signature model and one for the nomogram."""
    d = _data(results)
    inst = d.instability
    if inst.empty:
        return None
    have = set(inst["model"].astype(str))
    models = [m for m in dict.fromkeys([d.signature_model, "nomogram"]) if m in have]
    if not models:
        models = [str(inst["model"].iloc[0])]
    fig, axes = new_figure(1, len(models), figsize=(3.0 * len(models), 3.0), squeeze=False)
    for ax, m in zip(axes[0], models, strict=True):
        g = inst[inst["model"].astype(str) == m].sort_values("apparent")
        x = g["apparent"].to_numpy(dtype=float)
        ax.vlines(x, g["p_low"].to_numpy(dtype=float), g["p_high"].to_numpy(dtype=float),
                  color=OKABE_ITO[0], alpha=0.35, linewidth=0.8)
        ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability, final model", fontsize=7)
        ax.set_ylabel("bootstrap models (2.5–97.5%)", fontsize=7)
        ax.set_title(f"{mpl_text(d.labels.model(m))}\nMAPE {float(g['mape'].mean()):.3f}",
                     fontsize=8)
    fig.tight_layout()
    return save(fig, out_dir, "fig-instability")


# ------------------------------------------------------------------------------ drawing
def figure_jobs(d: ReportData) -> list[tuple[str, str, dict[str, Any]]]:
    """Every figure of the report: (label, function name, keyword arguments).

    Listed in the order in which the sections use them: the worker processes draw them
    in this order while the sections are written (:class:`PendingFigures`), so the
    first section that needs a figure waits the least.
    """
    main = d.primary_models
    sig_rows = [m for m in dict.fromkeys([d.signature_model, "nomogram"]) if m in d.models]
    jobs: list[tuple[str, str, dict[str, Any]]] = [
        ("fig-flow", "flow_figure", {}), ("fig-nomogram", "nomogram_figure", {}),
        ("fig-roc", "roc_figure", {"models": main}),
        ("fig-calibration", "calibration_figure", {"models": sig_rows}),
        ("fig-dca", "decision_figure", {"models": main}),
        ("fig-km", "km_figure", {}), ("fig-funnel", "funnel_figure", {}),
        ("fig-icc", "icc_figure", {})]
    jobs += [(lasso_label(fam), "lasso_figure", {"family": str(fam)})
             for fam in d.families]
    jobs.append(("fig-instability", "instability_figure", {}))
    if d.comparison_models:
        jobs.append(("fig-roc-all", "roc_figure", {"models": d.models, "name": "fig-roc-all"}))
    jobs += [("fig-calibration-all", "calibration_figure",
              {"models": d.models, "name": "fig-calibration-all"}),
             ("fig-scores", "score_distribution_figure", {"predictions": True}),
             ("fig-forest", "forest_figure", {"models": main})]
    return jobs


_WORKER: dict[str, Any] = {}


def _init_worker(options: dict[str, Any]) -> None:
    # once per worker process (radval's: it exits with the report's process)
    SAVE_OPTIONS.update(options)


def _draw_in_worker(name: str, func: str, kwargs: dict[str, Any], out_dir: str,
                    data: tuple[str, bytes]) -> tuple[str, Path | None | str]:
    # the report's data travel with every task as the same pickled bytes (the pipe copies
    # them, ~ms) and are unpickled once per worker and report (``data[0]``).  Not in the
    # pool's initargs: those are written into the worker's start-up pipe before it has
    # imported anything, and the report's process would wait for that (~1 s per worker)
    token, blob = data
    if _WORKER.get("token") != token:
        import pickle

        _WORKER["data"] = pickle.loads(blob)  # noqa: S301 - the report's own bytes
        _WORKER["token"] = token
    return _draw_one(name, func, kwargs, _WORKER["data"], out_dir)


def _draw_one(name: str, func: str, kwargs: dict[str, Any], d: ReportData, out_dir: str
              ) -> tuple[str, Path | None | str]:
    fn = globals()[func]
    kw = dict(kwargs)
    try:
        if kw.pop("predictions", False):
            return name, fn(d, d.predictions, out_dir)
        return name, fn(d, out_dir, **kw)
    except Exception as exc:  # noqa: BLE001 - reported in the document instead
        return name, f"{type(exc).__name__}: {exc}"


def start_figures(results: ReportData | ResultsFile | Mapping[str, Any],
                  predictions: pd.DataFrame | None, out_dir: str | Path, *,
                  jobs: int | None = None) -> PendingFigures:
    """Start drawing every report figure; with ``jobs`` > 1 in worker processes.

    Parameters are those of :func:`draw_all`.  With one job the figures are drawn here,
    before this returns.  Otherwise the workers draw them in the order of
    :func:`figure_jobs` while the caller goes on (writing the sections and drawing their
    figures: the main process would otherwise wait, one core idle).
    """
    import os

    d = results if isinstance(results, ReportData) else ReportData.build(results, predictions)
    todo = figure_jobs(d)
    if jobs is not None:
        n = jobs
    else:  # worker start-up (~1-2 s) only pays off for the larger figures
        size = len(d.cohorts) * max(1, len(d.models))
        n = min(2, os.cpu_count() or 1) if size >= 4 else 1
    specs = {name: (func, kw) for name, func, kw in todo}

    def redraw(label: str) -> tuple[str, Path | None | str]:  # here, in this process
        func, kw = specs[label]
        return _draw_one(label, func, kw, d, str(out_dir))

    pool = None
    if n > 1:
        # radval's worker processes (forked from its fork server on Linux: no Python to
        # start; none when the main script would run again in them)
        from radval.features.executor import WorkerPool

        pool = WorkerPool(n, preload=("radval.report.figures",), initializer=_init_worker,
                          initargs=(dict(SAVE_OPTIONS),)).executor()
    if pool is None:
        return PendingFigures(done={name: redraw(name)[1] for name in specs})
    from concurrent.futures.process import BrokenProcessPool

    try:
        import pickle
        import uuid

        data = (uuid.uuid4().hex, pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL))
        futures = {name: pool.submit(_draw_in_worker, name, func, kw, str(out_dir), data)
                   for name, func, kw in todo}
    except BrokenProcessPool:  # a worker died while starting: draw them here
        pool.shutdown(wait=True, cancel_futures=True)
        logger.warning("report figures: a worker process died while starting; the figures "
                       "are drawn in this process")
        return PendingFigures(done={name: redraw(name)[1] for name in specs})
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return PendingFigures(futures, pool, redraw=redraw)


def draw_all(results: ReportData | ResultsFile | Mapping[str, Any],
             predictions: pd.DataFrame | None, out_dir: str | Path, *,
             jobs: int | None = None) -> dict[str, Path | None | str]:
    """Draw every report figure, in parallel processes when ``jobs`` > 1.

    Parameters
    ----------
    results : ReportData, ResultsFile or its dict form
    predictions : DataFrame, optional
        Used when ``results`` is not a :class:`ReportData` already.
    out_dir : path
    jobs : int, optional
        Processes (default: up to 2 for a run with several cohorts and models).

    Returns
    -------
    dict
        Figure label (``fig-roc`` ...) -> PNG path, ``None`` (part not in the run) or an
        error message (the figure failed; the report says so).
    """
    with start_figures(results, predictions, out_dir, jobs=jobs) as pending:
        return pending.close()
