"""The report's figures, composed from results.json records.

Every ``*_figure`` function takes the parsed ``results`` dict (and ``predictions``
where needed), draws one (multi-panel) figure and saves it as SVG, PDF and 300 dpi PNG
under ``out_dir`` via :func:`save`.  It returns the PNG path, or ``None`` when that part
is not in the run (the report then says so).  The panels are drawn by the primitives of
:mod:`radval.report._plots` (tidy data and ``ax=``), and everything runs inside
radval's ``matplotlib.rc_context`` on figures of its own: pyplot, the backend and the
global ``rcParams`` are never touched.  matplotlib is imported inside the functions so
that ``import radval.report`` stays light.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from radval.report._escape import md_identifier, mpl_text
from radval.report._plots import (
    LINE_STYLES,
    OKABE_ITO,
    new_figure,
    plot_calibration,
    plot_decision_curve,
    plot_km,
    plot_roc,
    style,
)
from radval.report.tables import as_mapping, cohort_order, fmt_num, frame, model_labels

__all__ = [
    "OKABE_ITO",
    "SAVE_OPTIONS",
    "calibration_figure",
    "decision_figure",
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
    "draw_all",
    "save",
    "score_distribution_figure",
]

_STYLES = LINE_STYLES
F = TypeVar("F", bound=Callable[..., Any])


def _styled(func: F) -> F:
    """Draw inside radval's style (``matplotlib.rc_context``): no global state changes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style():
            return func(*args, **kwargs)

    return cast(F, wrapper)


#: Formats written by :func:`save` and the PNG resolution (changed only by tests).
SAVE_OPTIONS: dict[str, Any] = {"formats": ("svg", "pdf", "png"), "dpi": 300}


def save(fig: Any, out_dir: str | Path, name: str) -> Path:
    """Save ``fig`` as ``name.svg``, ``name.pdf`` and ``name.png`` (300 dpi).

    The formats and dpi come from :data:`SAVE_OPTIONS`; the PNG is always written
    because the report embeds it (HTML / typst use the SVG when it exists).
    """
    out = Path(out_dir)
    name = md_identifier(name)  # a plain file-name stem whatever the caller passed
    out.mkdir(parents=True, exist_ok=True)
    formats = set(SAVE_OPTIONS["formats"]) | {"png"}
    # one layout pass for the tight bounding box, shared by the outputs
    with style():
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)  # a figure of its own: no pyplot, no backend switch
        bbox = fig.get_tightbbox(canvas.get_renderer()).padded(0.08)
        if "svg" in formats:
            fig.savefig(out / f"{name}.svg", bbox_inches=bbox, metadata={"Date": None})
        if "pdf" in formats:
            fig.savefig(out / f"{name}.pdf", bbox_inches=bbox,
                        metadata={"CreationDate": None})
        fig.savefig(out / f"{name}.png", dpi=int(SAVE_OPTIONS["dpi"]), bbox_inches=bbox)
    return out / f"{name}.png"


def _colors(names: list[str]) -> dict[str, str]:
    return {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(names)}


def _grid(n: int, ncol_max: int = 3) -> tuple[int, int]:
    ncol = min(n, ncol_max)
    return math.ceil(n / ncol), ncol


def _models(results: Mapping[str, Any], df: pd.DataFrame) -> list[str]:
    named = [m for m in model_labels(results) if "model" in df and m in set(df["model"])]
    rest = [m for m in dict.fromkeys(df["model"]) if m not in named] if "model" in df else []
    return named + rest


def _cohorts(results: Mapping[str, Any], df: pd.DataFrame) -> list[str]:
    present = set(df["cohort"].astype(str)) if "cohort" in df else set()
    return [c for c in cohort_order(results) if c in present] + sorted(
        present - set(cohort_order(results)))


@_styled
def flow_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Patient-flow diagram: per cohort, a column of boxes (assessed -> exclusions -> analysed)."""
    df = frame(results, "patient_flow")
    if df.empty:
        return None
    from matplotlib.patches import FancyBboxPatch

    cohorts = _cohorts(results, df)
    n_stage = max(len(df[df["cohort"] == c]) for c in cohorts)
    fig, ax = new_figure(figsize=(max(3.2 * len(cohorts), 6), 1.0 + 0.9 * n_stage))
    ax.set_xlim(0, len(cohorts))
    ax.set_ylim(-n_stage + 0.3, 1.0)
    ax.axis("off")
    for i, c in enumerate(cohorts):
        sub = df[df["cohort"] == c].reset_index(drop=True)
        prev_y = None
        for j, (_, r) in enumerate(sub.iterrows()):
            y = -float(j)
            stage = str(r["stage"]).replace("_", " ")
            excl = any(w in stage for w in ("fail", "missing", "exclu", "duplicate", "drop",
                                            "invalid", "removed"))
            n_txt = int(r["n"]) if pd.notna(r["n"]) else "?"
            text = (f"Excluded: {stage}\nn = {n_txt}" + (f"\n({r['reason']})"
                                                          if r.get("reason") else "")
                    if excl else f"{stage.capitalize()}\nn = {n_txt}")
            x0 = i + (0.30 if excl else 0.08)
            w = 0.64 if excl else 0.6
            box = FancyBboxPatch((x0, y - 0.32), w, 0.62, boxstyle="round,pad=0.02",
                                 fc="#FBE3D6" if excl else "#DCEBF7",
                                 ec=OKABE_ITO[1] if excl else OKABE_ITO[0], lw=1)
            ax.add_patch(box)
            ax.text(x0 + w / 2, y, mpl_text(text), ha="center", va="center", fontsize=7.5)
            if prev_y is not None:
                ax.annotate("", xy=(i + 0.2, y + 0.31), xytext=(i + 0.2, prev_y - 0.33),
                            arrowprops={"arrowstyle": "->", "color": "0.3"})
            if not excl:
                prev_y = y
        ax.text(i + 0.5, 0.75, mpl_text(c), ha="center", va="center", fontweight="bold")
    return save(fig, out_dir, "fig-flow")


@_styled
def funnel_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Feature-selection funnel: features kept after each step, one panel per family."""
    sel = results.get("selection")
    if not isinstance(sel, Mapping):
        return None
    fams = [(f, b) for f, b in sel.items() if isinstance(b, Mapping) and b.get("funnel")]
    if not fams:
        return None
    fig, axes = new_figure(1, len(fams), figsize=(4.2 * len(fams), 2.8), squeeze=False)
    for ax, (fam, body) in zip(axes[0], fams):
        steps = [str(r["step"]) for r in body["funnel"]]
        kept = [float(r["n_out"]) for r in body["funnel"]]
        ypos = np.arange(len(steps))[::-1]
        ax.barh(ypos, kept, color=OKABE_ITO[0] if fam == "radiomics" else OKABE_ITO[2])
        for yv, k in zip(ypos, kept):
            ax.text(k, yv, f" {int(k)}", va="center", fontsize=8)
        ax.set_yticks(ypos, [mpl_text(s.replace("_", " ")) for s in steps])
        ax.set_xscale("log")
        ax.set_xlabel("features kept (log scale)")
        ax.set_title(mpl_text(fam))
    fig.tight_layout()
    return save(fig, out_dir, "fig-funnel")


@_styled
def icc_figure(results: Mapping[str, Any], out_dir: str | Path,
               threshold: float = 0.75) -> Path | None:
    """Histogram of feature ICCs with the reproducibility threshold."""
    df = frame(results, "selection", "radiomics", "icc")
    if df.empty or "icc" not in df:
        return None
    fig, ax = new_figure(figsize=(5, 3))
    vals = pd.to_numeric(df["icc"], errors="coerce").dropna()
    ax.hist(vals, bins=np.linspace(min(0.0, float(vals.min())), 1, 31), color=OKABE_ITO[0],
            edgecolor="white")
    ax.axvline(threshold, color=OKABE_ITO[1], ls="--")
    ax.text(threshold, ax.get_ylim()[1] * 0.95, f" ICC = {threshold}", color=OKABE_ITO[1],
            va="top")
    ax.set_xlabel("ICC between segmentations")
    ax.set_ylabel("features")
    fig.tight_layout()
    return save(fig, out_dir, "fig-icc")


def lasso_label(family: Any) -> str:
    """Label (and file stem) of the LASSO figure of a feature family: ``fig-lasso-<slug>``."""
    return md_identifier(family, prefix="fig-lasso-")


@_styled
def lasso_figure(results: Mapping[str, Any], out_dir: str | Path,
                 family: str = "radiomics") -> Path | None:
    """LASSO: cross-validated deviance against log(lambda), and the coefficient path."""
    body = (results.get("selection") or {}).get(family)
    if not isinstance(body, Mapping) or not body.get("lasso_cv"):
        return None
    cv = pd.DataFrame(body["lasso_cv"])
    path = pd.DataFrame(body.get("lasso_path") or [])
    fig, axes = new_figure(1, 2, figsize=(9, 3.4))
    ll = np.log(cv["lambda"].astype(float))
    axes[0].errorbar(ll, cv["cvm"], yerr=cv.get("cvsd"), fmt="o", ms=3, color=OKABE_ITO[1],
                     ecolor="0.6", elinewidth=0.8)
    axes[0].set_xlabel("log(λ)")
    axes[0].set_ylabel("CV binomial deviance")
    for key, dash in (("lambda_min", "--"), ("lambda_1se", ":")):
        if body.get(key):
            for ax in axes:
                ax.axvline(math.log(float(body[key])), color="0.3", ls=dash, lw=0.8)
    axes[0].set_title("Cross-validation")
    if not path.empty:
        for i, (_feat, g) in enumerate(path.groupby("feature", sort=False)):
            axes[1].plot(np.log(g["lambda"].astype(float)), g["coef"],
                         color=OKABE_ITO[i % len(OKABE_ITO)], lw=1)
        axes[1].axhline(0, color="0.5", lw=0.5)
    axes[1].set_xlabel("log(λ)")
    axes[1].set_ylabel("coefficient (standardised)")
    axes[1].set_title("Coefficient path")
    fig.tight_layout()
    return save(fig, out_dir, lasso_label(family))


@_styled
def roc_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """ROC curves, one panel per cohort, one line per model, with the CI band where stored.

    With more than three models only the study's signature model (or the first
    model) gets its band; with more than four the legend goes below the panel.
    """
    roc = frame(results, "curves", "roc")
    if roc.empty:
        return None
    band = frame(results, "curves", "roc_band")
    perf = frame(results, "performance")
    if "subgroup" in perf:
        perf = perf[perf["subgroup"].fillna("all") == "all"]
    labels = model_labels(results)
    cohorts, models = _cohorts(results, roc), _models(results, roc)
    # with many models the bands would hide each other: band only for the signature
    study_raw = results.get("study")
    study: Mapping[str, Any] = study_raw if isinstance(study_raw, Mapping) else {}
    primary = str(study.get("signature_model") or models[0]) if models else ""
    banded = set(models) if len(models) <= 3 else {primary}
    many = len(models) > 4
    nrow, ncol = _grid(len(cohorts))
    fig, axes = new_figure(nrow, ncol, figsize=(3.6 * ncol, (4.6 if many else 3.6) * nrow),
                             squeeze=False)
    for k, c in enumerate(cohorts):
        p = perf[perf["cohort"] == c] if not perf.empty else perf
        auc = {str(r["model"]): float(r["auc"]) for r in p.to_dict(orient="records")
               if r.get("auc") is not None}
        plot_roc(roc[roc["cohort"] == c], band=band[band["cohort"] == c] if len(band) else None,
                 auc=auc, labels=labels, banded=sorted(banded), title=c,
                 legend="below" if many else "lower right", ax=axes.flat[k])
    for ax in list(axes.flat)[len(cohorts):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, "fig-roc")


@_styled
def calibration_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Calibration curves (grouped with CIs + smoothed), metrics printed on each panel.

    Rows are models, columns cohorts.  With more than five models the
    comparison classifiers (kind ``"sklearn"``) are left out of the figure;
    their calibration metrics stay in the calibration table.
    """
    grp = frame(results, "curves", "calibration_grouped")
    smooth = frame(results, "curves", "calibration_smooth")
    base = grp if not grp.empty else smooth
    if base.empty:
        return None
    metrics = frame(results, "calibration")
    labels = model_labels(results)
    cohorts, models = _cohorts(results, base), _models(results, base)
    kinds = {str(m.get("name")): str(m.get("kind")) for m in results.get("models") or []
             if isinstance(m, Mapping)}
    main = [m for m in models if kinds.get(m) != "sklearn"]
    if len(models) > 5 and main:  # comparison classifiers: metrics in the table only
        models = main
    fig, axes = new_figure(len(models), len(cohorts),
                             figsize=(2.9 * len(cohorts) + 0.4, 2.9 * len(models)),
                             squeeze=False, sharex=True, sharey=True)
    for i, m in enumerate(models):
        for j, c in enumerate(cohorts):
            ax = axes[i, j]
            r = metrics[(metrics["cohort"] == c) & (metrics["model"] == m)] \
                if not metrics.empty else metrics
            plot_calibration(
                grp[(grp["cohort"] == c) & (grp["model"] == m)] if not grp.empty else None,
                smooth[(smooth["cohort"] == c) & (smooth["model"] == m)]
                if not smooth.empty else None,
                metrics={str(k): v for k, v in r.iloc[0].items()} if len(r) else None,
                title=c if i == 0 else None, ax=ax)
            if j == 0:
                ax.set_ylabel(f"{mpl_text(labels.get(m, m))}\nobserved", fontsize=8)
            if i == len(models) - 1:
                ax.set_xlabel("predicted probability")
    fig.tight_layout()
    return save(fig, out_dir, "fig-calibration")


@_styled
def decision_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Decision curves (net benefit against threshold) per cohort, with treat-all / none."""
    dc = frame(results, "curves", "decision")
    if dc.empty:
        return None
    labels = model_labels(results)
    cohorts, models = _cohorts(results, dc), _models(results, dc)
    nrow, ncol = _grid(len(cohorts))
    fig, axes = new_figure(nrow, ncol, figsize=(3.8 * ncol, 3.2 * nrow), squeeze=False)
    for k, c in enumerate(cohorts):
        sub = dc[dc["cohort"] == c]
        sub = sub[sub["model"].isin(models)].assign(
            _order=lambda d: d["model"].map({m: i for i, m in enumerate(models)}))
        plot_decision_curve(sub.sort_values("_order", kind="stable"), labels=labels,
                            legend=k == 0, title=c, ax=axes.flat[k])
    for ax in list(axes.flat)[len(cohorts):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, "fig-dca")


@_styled
def forest_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Subgroup forest plot: AUC (95% CI) per cohort x subgroup level, one colour per model."""
    df = frame(results, "subgroups")
    if df.empty:
        return None
    labels = model_labels(results)
    cohorts, models = _cohorts(results, df), _models(results, df)
    col = _colors(models)
    rows = [(c, s, lv) for c in cohorts
            for (s, lv) in dict.fromkeys(zip(df[df["cohort"] == c]["subgroup"],
                                             df[df["cohort"] == c]["level"]))]
    fig, ax = new_figure(figsize=(7, 0.9 + 0.32 * len(rows) * max(1, len(models)) / 2))
    step = 0.8 / max(1, len(models))
    ylabels = []
    for k, (c, s, lv) in enumerate(rows):
        y0 = len(rows) - 1 - k
        ylabels.append((y0, mpl_text(f"{c}: {s} {lv}")))
        for i, m in enumerate(models):
            r = df[(df["cohort"] == c) & (df["subgroup"] == s) & (df["level"] == lv)
                   & (df["model"] == m)]
            if r.empty or not np.isfinite(pd.to_numeric(r["auc"], errors="coerce")).all():
                continue
            y = y0 + 0.4 - (i + 0.5) * step
            r0 = r.iloc[0]
            ax.errorbar([r0["auc"]], [y], xerr=[[r0["auc"] - r0["ci_low"]],
                                                [r0["ci_high"] - r0["auc"]]],
                        fmt="o", ms=3.5, color=col[m], elinewidth=1,
                        label=mpl_text(labels.get(m, m)) if k == 0 else None)
    ax.axvline(0.5, color="0.6", lw=0.7, ls=":")
    ax.set_yticks([y for y, _ in ylabels], [t for _, t in ylabels])
    ax.set_xlabel("AUC (95% CI)")
    ax.set_xlim(0.3, 1.0)
    ax.legend(loc="lower left", frameon=False, fontsize=7)
    fig.tight_layout()
    return save(fig, out_dir, "fig-forest")


@_styled
def nomogram_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Nomogram from ``results["nomogram"]`` points scales (rms-style).

    Expected keys: ``variables`` (or ``predictors``): list of ``{name, values,
    points}``; ``total_points`` and ``probability`` (+ ``probability_points``)
    for the bottom axes.  Each variable is drawn as an axis whose tick labels
    are its values placed at their points.
    """
    nomo = results.get("nomogram")
    if not isinstance(nomo, Mapping):
        return None
    variables: list[dict[str, Any]] = []
    for v in nomo.get("predictors") or nomo.get("variables") or []:
        if not isinstance(v, Mapping):
            continue
        if v.get("ticks"):  # radval pipeline: ticks = [{value, points}]
            ticks = [t for t in v["ticks"] if isinstance(t, Mapping)]
            variables.append({"name": v.get("name"), "values": [t["value"] for t in ticks],
                              "points": [t["points"] for t in ticks]})
        elif v.get("points"):
            variables.append(dict(v))
    if not variables:
        return None
    tp = nomo.get("total_points") or []
    if tp and isinstance(tp[0], Mapping):  # [{points, probability}] + total_points_max
        tmax = float(nomo.get("total_points_max") or max(float(t["points"]) for t in tp))
        from matplotlib.ticker import MaxNLocator

        total = [float(t) for t in MaxNLocator(6).tick_values(0, tmax) if 0 <= t <= tmax]
        probs = [t["probability"] for t in tp]
        ppoints = [float(t["points"]) for t in tp]
        total = sorted(set(total) | {0.0})
    else:
        total = [float(t) for t in tp]
        probs = nomo.get("probability") or []
        ppoints = nomo.get("probability_points") or []
    n_axes = len(variables) + 1 + (1 if total else 0) + (1 if probs and ppoints else 0)
    fig, ax = new_figure(figsize=(8, 0.55 * n_axes + 0.6))
    ax.axis("off")
    max_total = max(total + [float(p) for p in ppoints]) if total else 100.0

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
        ax.text(-3, y, mpl_text(name), ha="right", va="center", fontsize=8)

    y = 0.0
    axis(y, "Points", [float(v) for v in range(0, 101, 10)], [str(v) for v in range(0, 101, 10)],
         100.0)
    for v in variables:
        y -= 1
        axis(y, str(v.get("label") or v["name"]), [float(p) for p in v["points"]],
             [_tick(x) for x in v.get("values") or []], 100.0)
    if total:
        y -= 1
        axis(y, "Total points", total, [_tick(t) for t in total], max_total)
    if probs and ppoints:
        y -= 1
        axis(y, "Probability", [float(p) for p in ppoints], [_tick(p) for p in probs],
             max_total)
    ax.set_xlim(-30, 105)
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
def score_distribution_figure(results: Mapping[str, Any], predictions: pd.DataFrame | None,
                              out_dir: str | Path) -> Path | None:
    """Box-and-strip plots of each model's score by outcome within each cohort."""
    if predictions is None or predictions.empty:
        return None
    need = {"cohort", "model", "score", "y_true"}
    if not need <= set(predictions.columns):
        return None
    labels = model_labels(results)
    cohorts, models = _cohorts(results, predictions), _models(results, predictions)
    nrow, ncol = _grid(len(models), 2)
    fig, axes = new_figure(nrow, ncol, figsize=(4.6 * ncol, 3.0 * nrow), squeeze=False)
    rng = np.random.default_rng(0)
    for k, m in enumerate(models):
        ax = axes.flat[k]
        sub = predictions[predictions["model"] == m]
        for yi, (yv, colr) in enumerate(((0, OKABE_ITO[0]), (1, OKABE_ITO[1]))):
            data, pos, xs, ys = [], [], [], []
            for ci, c in enumerate(cohorts):
                v = sub[(sub["cohort"] == c) & (sub["y_true"] == yv)]["score"].dropna()
                if v.empty:
                    continue
                x = ci * 3 + yi
                data.append(v.to_numpy())
                pos.append(x)
                xs.append(x + rng.uniform(-0.18, 0.18, len(v)))
                ys.append(v.to_numpy())
            if not data:
                continue
            # one boxplot / scatter call per outcome class (much faster than per box)
            ax.boxplot(data, positions=pos, widths=0.6, showfliers=False,
                       medianprops={"color": colr}, boxprops={"color": colr},
                       whiskerprops={"color": colr}, capprops={"color": colr})
            ax.scatter(np.concatenate(xs), np.concatenate(ys), s=4, color=colr, alpha=0.45,
                       lw=0, rasterized=False)
        ax.set_xticks([ci * 3 + 0.5 for ci in range(len(cohorts))],
                      [mpl_text(c) for c in cohorts], fontsize=7)
        ax.set_title(mpl_text(labels.get(m, m)))
        ax.set_ylabel("score")
        if k == 0:
            from matplotlib.lines import Line2D

            ax.legend(handles=[Line2D([], [], color=OKABE_ITO[0], marker="o", ls="",
                                      label="no event"),
                               Line2D([], [], color=OKABE_ITO[1], marker="o", ls="",
                                      label="event")], frameon=False, fontsize=7)
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, out_dir, "fig-scores")


@_styled
def km_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Kaplan-Meier curves by risk group per cohort with numbers at risk underneath."""
    km = frame(results, "survival", "km")
    if km.empty:
        return None
    cohorts = _cohorts(results, km)
    fig, axes = new_figure(2, len(cohorts), figsize=(4.2 * len(cohorts), 4.2),
                             squeeze=False, gridspec_kw={"height_ratios": [4, 1]})
    for j, c in enumerate(cohorts):
        plot_km(km[km["cohort"] == c], title=c, at_risk_ax=axes[1, j], ax=axes[0, j])
    fig.tight_layout()
    return save(fig, out_dir, "fig-km")


@_styled
def instability_figure(results: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Prediction instability (Riley & Collins 2023, pminternal): for each development
    patient, the 2.5-97.5 percentile range of the bootstrap models' predictions against
    the final model's prediction; one panel for the signature and one for the nomogram."""
    inst = frame(results, "stability", "prediction_instability")
    if inst.empty:
        return None
    study = as_mapping(results.get("study"))
    wanted = [str(study.get("signature_model") or ""), "nomogram"]
    models = [m for m in dict.fromkeys(wanted) if m and m in set(inst["model"].astype(str))]
    if not models:
        models = [str(inst["model"].iloc[0])]
    labels = model_labels(results)
    fig, axes = new_figure(1, len(models), figsize=(3.4 * len(models), 3.3), squeeze=False)
    for ax, m in zip(axes[0], models, strict=True):
        d = inst[inst["model"].astype(str) == m].sort_values("apparent")
        x = d["apparent"].to_numpy(dtype=float)
        ax.vlines(x, d["p_low"].to_numpy(dtype=float), d["p_high"].to_numpy(dtype=float),
                  color=OKABE_ITO[0], alpha=0.35, linewidth=0.8)
        ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Predicted probability, final model")
        ax.set_ylabel("Bootstrap models (2.5–97.5%)")
        ax.set_title(f"{mpl_text(labels.get(m, m))}\nMAPE {fmt_num(float(d['mape'].mean()), 3)}")
    fig.tight_layout()
    return save(fig, out_dir, "fig-instability")


def _figure_jobs(results: Mapping[str, Any]) -> list[tuple[str, str, tuple[Any, ...]]]:
    jobs: list[tuple[str, str, tuple[Any, ...]]] = [
        ("fig-calibration", "calibration_figure", ()), ("fig-roc", "roc_figure", ()),
        ("fig-scores", "score_distribution_figure", ("predictions",)),
        ("fig-dca", "decision_figure", ()), ("fig-km", "km_figure", ()),
        ("fig-forest", "forest_figure", ()), ("fig-flow", "flow_figure", ()),
        ("fig-funnel", "funnel_figure", ()), ("fig-icc", "icc_figure", ()),
        ("fig-nomogram", "nomogram_figure", ()),
        ("fig-instability", "instability_figure", ())]
    sel = results.get("selection")
    if isinstance(sel, Mapping):
        jobs += [(lasso_label(fam), "lasso_figure", ("family", str(fam))) for fam in sel]
    return jobs


def _draw_one(name: str, func: str, extra: tuple[Any, ...], results: Mapping[str, Any],
              predictions: pd.DataFrame | None, out_dir: str,
              options: dict[str, Any] | None = None) -> tuple[str, Path | None | str]:
    if options is not None:
        SAVE_OPTIONS.update(options)
    fn = globals()[func]
    try:
        if extra and extra[0] == "predictions":
            return name, fn(results, predictions, out_dir)
        if extra and extra[0] == "family":
            return name, fn(results, out_dir, extra[1])
        return name, fn(results, out_dir)
    except Exception as exc:  # noqa: BLE001 - reported in the document instead
        return name, f"{type(exc).__name__}: {exc}"


def draw_all(results: Mapping[str, Any], predictions: pd.DataFrame | None,
             out_dir: str | Path, *, jobs: int | None = None) -> dict[str, Path | None | str]:
    """Draw every report figure, in parallel processes when ``jobs`` > 1.

    Returns
    -------
    dict
        Figure label (``fig-roc`` ...) -> PNG path, ``None`` (part not in the
        run) or an error message (the figure failed; the report says so).
    """
    import os

    todo = _figure_jobs(results)
    if jobs is not None:
        n = jobs
    else:  # worker start-up (~1-2 s) only pays off for the larger figures
        size = len(cohort_order(results)) * max(1, len(model_labels(results)))
        n = min(2, os.cpu_count() or 1) if size >= 4 else 1
    out: dict[str, Path | None | str] = {}
    if n <= 1:
        for name, func, extra in todo:
            out[name] = _draw_one(name, func, extra, results, predictions, str(out_dir))[1]
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from radval.features.executor import die_with_parent

    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as ex:
        futs = [ex.submit(_draw_one, name, func, extra, results, predictions, str(out_dir),
                          dict(SAVE_OPTIONS))
                for name, func, extra in todo]
        for f in futs:
            name, res = f.result()
            out[name] = res
    return out
