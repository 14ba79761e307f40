"""Write the report as Quarto markdown (``report.qmd``) from results.json.

The ``.qmd`` has no code cells and computes nothing: figures are files under
``figures/``, tables are pipe tables with ``: caption {#tbl-x}``, and
cross-references are Quarto's ``@fig-x`` / ``@tbl-x`` / ``@sec-x``.  It
renders with Quarto as is, or through pandoc + the crossref Lua filter
(:mod:`radval.report.render`).  Every section degrades to a sentence saying the
part is not in this run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radval.report import _missing_harmonisation as MH
from radval.report import figures as F
from radval.report import tables as T
from radval.report._escape import md_identifier, md_text, yaml_str
from radval.report.ibsi import ibsi_items
from radval.report.methods import methods_markdown, sample_size_markdown
from radval.report.rqs import rqs_items
from radval.report.tables import as_mapping as _m
from radval.report.tripod import tripod_checklist

__all__ = ["ReportParts", "build_report"]

logger = logging.getLogger(__name__)

NOT_IN_RUN = "_Not part of this run._"


@dataclass
class ReportParts:
    """What :func:`build_report` wrote: the qmd text, figure and table files."""

    qmd: str
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)


def _front_matter(results: Mapping[str, Any]) -> str:
    study = _m(results.get("study"))
    title = str(study.get("name") or "radval study")
    created = str(results.get("created") or "")[:10]
    return "\n".join([
        "---",
        # pandoc reads front-matter strings as markdown: escape for markdown, then YAML
        f"title: {yaml_str(md_text(title))}",
        'subtitle: "Multicohort validation report"',
        f"date: {yaml_str(md_text(created))}",
        f"author: {yaml_str(md_text('radval ' + str(results.get('radval_version') or '')))}",
        "format:",
        "  html:",
        "    toc: true",
        "    number-sections: true",
        "    embed-resources: true",
        "    css: styles.css",
        "  docx:",
        "    toc: true",
        "    number-sections: true",
        "    reference-doc: reference.docx",
        "  typst:",
        "    toc: true",
        "    section-numbering: 1.1.a",
        "    keep-typ: true",
        "---", ""])


_CALLOUT_KINDS = ("note", "tip", "warning", "important", "caution")


def _callout(kind: str, title: str, body: str) -> str:
    """A callout block; ``title`` and ``body`` are plain text (escaped here)."""
    if kind not in _CALLOUT_KINDS:
        kind = "note"
    return f"::: {{.callout-{kind}}}\n## {md_text(title)}\n\n{md_text(body)}\n:::\n"


class _Builder:
    def __init__(self, results: Mapping[str, Any], predictions: pd.DataFrame | None,
                 out: Path) -> None:
        self.r = results
        self.pred = predictions
        self.out = out
        self.fig_dir = out / "figures"
        self.tab_dir = out / "tables"
        self.parts: list[str] = []
        self.figures: dict[str, Path] = {}
        self.tables: dict[str, Path] = {}
        self.sections: set[str] = set()
        self.drawn: dict[str, Path | None | str] = {}

    # -- helpers ---------------------------------------------------------
    def h(self, level: int, text: str, sec: str) -> None:
        self.sections.add(sec)
        self.parts.append(f"{'#' * level} {text} {{#{sec}}}\n")

    def p(self, text: str) -> None:
        self.parts.append(text.strip() + "\n")

    def table(self, df: pd.DataFrame, label: str, caption: str,
              raw: tuple[str, ...] = ()) -> bool:
        """Add a table; cells and caption are plain text (escaped by ``to_pipe``)."""
        if df is None or df.empty:
            return False
        self.tables[label] = T.write_csv(df, self.tab_dir / f"{label}.csv")
        self.parts.append(T.to_pipe(df, caption, label, raw=raw))
        return True

    def figure(self, draw: Callable[[], Path | None], label: str, caption: str,
               width: str = "100%") -> bool:
        if label in self.drawn:
            res = self.drawn[label]
        else:
            try:
                res = draw()
            except Exception as exc:  # noqa: BLE001 - a broken figure must not kill the report
                res = f"{type(exc).__name__}: {exc}"
        if isinstance(res, str):
            logger.warning("figure %s could not be drawn: %s", label, res)
            self.p(f"_The figure {md_text(label.removeprefix('fig-'))} could not be drawn "
                   f"({md_text(res)})._")
            return False
        png = res
        if png is None:
            return False
        self.figures[label] = png
        rel = png.relative_to(self.out).as_posix()
        # caption: plain text, escaped; label: made by md_identifier or fixed here
        self.parts.append(f"![{md_text(caption)}]({rel}){{#{md_identifier(label)} "
                          f"width={width}}}\n")
        return True

    # -- sections --------------------------------------------------------
    def summary(self) -> None:
        r = self.r
        study = _m(r.get("study"))
        self.h(1, "Summary", "sec-summary")
        if study.get("question"):
            self.p(f"**Question.** {md_text(study['question'])}")
        bits = []
        if study.get("outcome"):
            bits.append(f"outcome *{md_text(study['outcome'])}* (positive = "
                        f"{md_text(study.get('positive_label', '1'))})")
        if study.get("prediction_moment"):
            bits.append(f"prediction made {md_text(study['prediction_moment'])}")
        if bits:
            self.p("Prediction of the " + "; ".join(bits) + ".")
        cohorts = [c for c in r.get("cohorts") or [] if isinstance(c, Mapping)]
        if cohorts:
            desc = "; ".join(
                f"{md_text(c.get('name'))} ({md_text(str(c.get('role', '')).replace('_', ' '))}"
                f", n = {md_text(c.get('n', '?'))}, events = {md_text(c.get('events', '?'))})"
                for c in cohorts)
            self.p(f"**Cohorts.** {desc}.")
        auc = T.summary_auc_table(r)
        if self.table(auc, "tbl-auc", "Headline discrimination: AUC (95% DeLong CI) per model "
                      "and cohort."):
            self.p("@tbl-auc gives the headline AUCs; details are in @sec-performance.")
        else:
            self.p("Performance estimates are not part of this run.")
        warns = [w for w in r.get("warnings") or [] if isinstance(w, Mapping)]
        self.h(2, "Warnings raised by the run", "sec-warnings")
        if warns:
            for w in warns:
                self.parts.append(_callout("warning", str(w.get("code", "Warning")),
                                           str(w.get("message", ""))))
        else:
            self.parts.append(_callout("note", "No warnings",
                                       "The run raised no warnings."))

    def cohorts(self) -> None:
        r = self.r
        self.h(1, "Data and participants", "sec-cohorts")
        coh = T.frame(r, "cohorts")
        if not coh.empty:
            df = pd.DataFrame({
                "Cohort": coh["name"].astype(str),
                "Role": coh.get("role", pd.Series([""] * len(coh))).astype(str)
                .str.replace("_", " "),
                "n": [str(v) for v in coh.get("n", [])],
                "Events": [str(v) for v in coh.get("events", [])],
                "Prevalence": [T.fmt_num(v, 3) for v in coh.get("prevalence", [])],
                "Excluded": [str(v) if v is not None else "–"
                             for v in coh.get("n_excluded", [None] * len(coh))]})
            self.table(df, "tbl-cohorts", "Cohorts, roles, sample sizes and events.")
        else:
            self.p(NOT_IN_RUN)
        self.h(2, "Patient flow", "sec-flow")
        drew = self.figure(lambda: F.flow_figure(r, self.fig_dir), "fig-flow",
                           "Patient flow per cohort: patients assessed, excluded (with "
                           "reasons) and analysed.")
        if drew:
            self.p("@fig-flow shows the flow of patients; @tbl-flow lists every stage.")
            self.table(T.flow_table(r), "tbl-flow", "Patient flow by cohort and stage.")
            self.p(MH.flow_note(r))
        if self.table(T.missing_table(r), "tbl-missing",
                      "Missing values by variable and cohort."):
            self.p("@tbl-missing counts the missing values.")
        elif isinstance(r.get("missing"), list):
            self.p("No variable had missing values.")
        else:
            self.p("The patient flow is " + NOT_IN_RUN[1:-1].lower() + ".")
        self.h(2, "Sample size", "sec-sample-size")
        self.p(sample_size_markdown(r))
        self.h(2, "Baseline characteristics", "sec-baseline")
        if self.table(T.baseline_table_wide(r), "tbl-baseline",
                      "Baseline characteristics by cohort (Table 1): mean ± SD, median [IQR] "
                      "or n (%); tests between cohorts and missing counts."):
            self.p("@tbl-baseline compares the cohorts; differences between development and "
                   "validation cohorts bear on transportability.")
        else:
            self.p("Baseline characteristics are not part of this run.")

    def missing_harmonisation(self) -> None:
        """Missing data and harmonisation (radval.report._missing_harmonisation)."""
        text, figs = MH.report_section(self.r, self.out)
        if text:
            import re

            self.sections |= set(re.findall(r"\{#(sec-[a-z0-9-]+)\}", text))
            self.figures.update(figs)
            self.parts.append(text)

    def selection(self) -> None:
        r = self.r
        self.h(1, "Feature selection and model specification", "sec-selection")
        sel = r.get("selection")
        if not isinstance(sel, Mapping) or not sel:
            self.p("Feature selection is not part of this run (the signature was fixed "
                   "beforehand).")
        else:
            self.table(T.funnel_table(r), "tbl-funnel",
                       "Feature-selection funnel on the development cohort.")
            if self.figure(lambda: F.funnel_figure(r, self.fig_dir), "fig-funnel",
                           "Number of features kept after each selection step (log scale)."):
                self.p("@fig-funnel and @tbl-funnel show how many features survived each step.")
            if self.figure(lambda: F.icc_figure(r, self.fig_dir), "fig-icc",
                           "Distribution of the ICC between segmentations; the dashed line "
                           "is the reproducibility threshold.", width="65%"):
                self.p("@fig-icc shows the reproducibility of the candidate features.")
            for fam in sel:
                label = F.lasso_label(fam)
                def draw(fam: str = str(fam)) -> Path | None:
                    return F.lasso_figure(r, self.fig_dir, fam)

                if self.figure(draw, label,
                               f"LASSO for the {fam} features: cross-validated deviance "
                               "(left; dashed λ-min, dotted λ-1SE) and coefficient path "
                               "(right)."):
                    self.p(f"@{label} shows the penalty choice for the {md_text(fam)} "
                           "features.")
        self.h(2, "Model specification", "sec-models")
        models = T.frame(r, "models")
        if not models.empty:
            df = pd.DataFrame({
                "Model": models.get("label", models["name"]).astype(str),
                "Kind": models.get("kind", pd.Series([""] * len(models))).astype(str),
                "Predictors": [", ".join(map(str, pr)) if isinstance(pr, list) and pr else "–"
                               for pr in list(models.get("predictors", [[]] * len(models)))],
                "Cutoff": [T.fmt_num(v, 3) for v in models.get("cutoff", [None] * len(models))]})
            self.table(df, "tbl-models", "Models evaluated, their predictors and the frozen "
                       "probability cutoff.")
        if self.table(T.coefficients_table(r), "tbl-coef",
                      "Final coefficients (original feature scale) with the development "
                      "mean and SD of each feature."):
            self.p("@tbl-coef lists the final coefficients.")
        formulas = [(fam, body.get("formula")) for fam, body in (sel or {}).items()
                    if isinstance(body, Mapping) and body.get("formula")] \
            if isinstance(sel, Mapping) else []
        for fam, f in formulas:
            name = {"radiomics": "Rad-score", "deep": "DL-score"}.get(str(fam), str(fam))
            # escaped text, not a code block: nothing from results.json becomes a fence
            self.p(f"**{md_text(name)} formula.** {md_text(f)}")
        if self.figure(lambda: F.nomogram_figure(r, self.fig_dir), "fig-nomogram",
                       "Nomogram: read each predictor's points on the top axis, add them, "
                       "and read the probability below the total."):
            self.p("@fig-nomogram is the nomogram of the combined model.")
        if models.empty and not formulas:
            self.p("The model specification is not part of this run.")

    def performance(self) -> None:
        r = self.r
        self.h(1, "Model performance", "sec-performance")
        if self.table(T.performance_table(r), "tbl-perf",
                      "Performance by cohort and model: AUC (95% DeLong CI) and, at the "
                      "frozen cutoff, accuracy, sensitivity, specificity, PPV and NPV "
                      "(95% Wilson CIs)."):
            self.p("@tbl-perf gives discrimination and threshold metrics; the cutoff was set "
                   "on the development cohort and kept frozen.")
        else:
            self.p("Performance estimates are not part of this run.")
        if self.table(T.optimism_table(r), "tbl-optimism",
                      "Optimism-corrected development performance (Harrell bootstrap)."):
            self.p("@tbl-optimism corrects the apparent development performance for "
                   "optimism.")
        self.stability()
        if self.figure(lambda: F.roc_figure(r, self.fig_dir), "fig-roc",
                       "ROC curves by cohort with 95% confidence bands; the legend gives "
                       "each model's AUC."):
            self.p("@fig-roc shows the ROC curves.")
        if self.figure(lambda: F.score_distribution_figure(r, self.pred, self.fig_dir),
                       "fig-scores", "Score distributions by outcome within each cohort."):
            self.p("@fig-scores shows how well the scores separate the outcome groups.")
        self.h(2, "Model comparison", "sec-comparison")
        if self.table(T.comparison_table(r), "tbl-delong",
                      "Pairwise DeLong tests of correlated AUCs within each cohort, "
                      "Holm-adjusted."):
            self.p("@tbl-delong compares the models pairwise.")
        elif not T.undefined_comparisons(r):
            self.p("Model comparisons are not part of this run.")
        for line in T.undefined_comparisons(r):
            self.p(line)
        self.h(2, "Calibration", "sec-calibration")
        drew_t = self.table(T.calibration_table(r), "tbl-calibration",
                            "Calibration: intercept, slope, calibration-in-the-large, "
                            "observed/expected ratio, Brier score, ICI, E90, Emax and the "
                            "Hosmer-Lemeshow test.")
        drew_f = self.figure(lambda: F.calibration_figure(r, self.fig_dir), "fig-calibration",
                             "Calibration curves (loess line; decile groups with 95% CIs) "
                             "with the calibration metrics printed on each panel.")
        if drew_t or drew_f:
            self.p(" ".join(x for x, ok in (("@tbl-calibration lists the metrics.", drew_t),
                                            ("@fig-calibration shows the curves.", drew_f)) if ok))
        else:
            self.p("Calibration is not part of this run.")
        self.h(2, "Clinical utility", "sec-dca")
        if self.figure(lambda: F.decision_figure(r, self.fig_dir), "fig-dca",
                       "Decision curves: net benefit against threshold probability, with "
                       "treat-all and treat-none."):
            self.p("@fig-dca shows the net benefit of each model.")
        else:
            self.p("Decision curves are not part of this run.")
        self.h(2, "Subgroups and heterogeneity", "sec-subgroups")
        drew_t = self.table(T.subgroup_table(r), "tbl-subgroups",
                            "AUC by subgroup with the test of heterogeneity across levels.")
        drew_f = self.figure(lambda: F.forest_figure(r, self.fig_dir), "fig-forest",
                             "Subgroup forest plot: AUC (95% CI) by cohort and subgroup.")
        if drew_t or drew_f:
            self.p(" ".join(x for x, ok in (("@tbl-subgroups lists subgroup AUCs.", drew_t),
                                            ("@fig-forest shows them.", drew_f)) if ok))
        else:
            self.p("Subgroup analyses are not part of this run.")
        if isinstance(r.get("survival"), Mapping):
            self.h(2, "Survival", "sec-survival")
            drew_f = self.figure(lambda: F.km_figure(r, self.fig_dir), "fig-km",
                                 "Kaplan-Meier curves by risk group with numbers at risk.")
            drew_t = self.table(T.survival_table(r), "tbl-survival",
                                "Hazard ratio (high vs low risk), log-rank test and C-index.")
            if drew_f or drew_t:
                self.p(" ".join(x for x, ok in (("@fig-km shows the survival curves.", drew_f),
                                                ("@tbl-survival gives hazard ratios.", drew_t))
                                if ok))
            from radval.report._survival_section import survival_section

            sec = survival_section(r, self.out, sections=self.sections | {"sec-survival"})
            self.figures.update(sec.figures)
            self.tables.update(sec.tables)
            self.sections |= sec.sections
            if sec.markdown:
                self.p(sec.markdown)

    def stability(self) -> None:
        """Selection stability and prediction instability of the optimism bootstrap."""
        r = self.r
        stab = _m(r.get("stability"))
        if not stab or not stab.get("n_resamples"):
            return
        self.h(2, "Stability", "sec-stability")
        size = T.selection_size_text(r)
        if size:
            self.p(size)
        if self.table(T.stability_table(r), "tbl-stability",
                      "Selection stability: share of the optimism bootstrap resamples in "
                      "which each feature was selected (final features and the most often "
                      "selected others)."):
            self.p("@tbl-stability shows how often the features were selected when the whole "
                   "selection was repeated in the bootstrap resamples.")
        iv = _m(r.get("internal_validation"))
        if any(str(x).startswith("deep network") for x in iv.get("refitted") or []):
            self.p("The deep network was trained again in every resample, so a deep feature "
                   "of one resample is not the same feature in another; only the number of "
                   "deep features selected is comparable.")
        if self.figure(lambda: F.instability_figure(r, self.fig_dir), "fig-instability",
                       "Prediction instability: for each development patient, the range "
                       "(2.5th–97.5th percentile) of the predictions of the models developed "
                       "in the bootstrap resamples; MAPE is the mean absolute difference from "
                       "the final model's prediction."):
            self.p("@fig-instability shows how much the individual predictions depend on the "
                   "development sample (Riley & Collins).")

    def checklists(self) -> None:
        r = self.r
        self.h(1, "Reporting checklists", "sec-checklists")
        self.h(2, "TRIPOD+AI", "sec-tripod")
        # sections known so far plus those written after this one
        known = self.sections | {"sec-methods", "sec-software", "sec-ibsi", "sec-rqs"}
        tri = tripod_checklist(r, sections=known)
        counts = tri["status"].value_counts()
        self.p(f"Of the {len(tri)} TRIPOD+AI items (27 main items), "
               f"{int(counts.get('reported', 0))} are reported by this report, "
               f"{int(counts.get('partly', 0))} partly (numbers here, text by the authors) "
               f"and {int(counts.get('needs author input', 0))} need author input "
               "(@tbl-tripod).")
        df = pd.DataFrame({
            "Item": tri["item"], "Topic": tri["topic"], "Status": tri["status"],
            "Where": [f"@{md_identifier(w)}" if w else "–" for w in tri["where"]]})
        self.table(df, "tbl-tripod", "TRIPOD+AI checklist: status of each item in this "
                   "report and where it is reported.", raw=("Where",))
        need = tri[tri["status"] == "needs author input"]
        if len(need):
            self.p("**Items that need the authors:**\n\n" + "\n".join(
                f"- **{md_text(it)}** ({md_text(tp)}): {md_text(tx)}" for it, tp, tx in
                zip(need["item"], need["topic"], need["text"])))
        self.h(2, "Radiomics Quality Score", "sec-rqs")
        rq = rqs_items(r)
        scored = rq[rq["points"].notna()]
        total = int(pd.to_numeric(scored["points"]).sum()) if len(scored) else 0
        self.p(f"The items that follow from the run score {total} points "
               "(of 36 for the whole RQS); the remaining items need the authors (@tbl-rqs).")
        self.table(pd.DataFrame({
            "Item": rq["item"], "Criterion": rq["criterion"],
            "Points": [str(int(v)) if pd.notna(v) else "–" for v in rq["points"]],
            "Range": rq["range"], "Basis": rq["basis"]}), "tbl-rqs",
            "Radiomics Quality Score items determined by the run.")
        self.h(2, "IBSI reporting items", "sec-ibsi")
        ib = ibsi_items(r)
        if ib.empty:
            self.p("Radiomics extraction settings are not part of this run.")
        else:
            self.table(pd.DataFrame({"Item": ib["item"], "Setting": ib["topic"],
                                     "Value": ib["value"], "Source": ib["source"]}),
                       "tbl-ibsi", "IBSI reporting items from the PyRadiomics parameter file.")
            self.p("@tbl-ibsi lists the image-processing settings.")

    def methods(self) -> None:
        r = self.r
        self.h(1, "Methods", "sec-methods")
        text, refs = methods_markdown(r)
        self.p(text)
        if MH.methods_text(r):
            self.p(MH.methods_text(r))
        self.h(2, "Software and provenance", "sec-software")
        prov = _m(r.get("provenance"))
        versions = _m(prov.get("versions"))
        if versions:
            self.table(pd.DataFrame({"Package": list(versions),
                                     "Version": [str(v) for v in versions.values()]}),
                       "tbl-software", "Software versions recorded by the run.")
        sha = _m(prov.get("input_sha256"))
        if sha:
            self.p("Input files (SHA-256): " + "; ".join(
                f"{md_text(k)} {md_text(str(v)[:16])}…" for k, v in sha.items()) + ".")
        self.p(f"Results schema version {md_text(r.get('schema_version', '?'))}; created "
               f"{md_text(r.get('created', '?'))}. Code: radval (open source).")
        self.parts.append("## References {.unnumbered}\n")
        self.p(refs)

    def build(self) -> ReportParts:
        self.summary()
        self.cohorts()
        self.missing_harmonisation()
        self.selection()
        self.performance()
        # calibration and clinical utility: its own module (radval.report._calibration_utility)
        from radval.report._calibration_utility import calibration_utility_markdown

        md, figs = calibration_utility_markdown(self.r, self.out)
        if md:
            self.parts.append(md)
            self.figures.update(figs)
        self.checklists()
        self.methods()
        qmd = _front_matter(self.r) + "\n".join(self.parts)
        return ReportParts(qmd=qmd, figures=self.figures, tables=self.tables)


def build_report(results: Mapping[str, Any], predictions: pd.DataFrame | None,
                 out_dir: str | Path, *, jobs: int | None = None) -> ReportParts:
    """Draw the figures, write the CSV tables and return the qmd text.

    Parameters
    ----------
    results : mapping
        Parsed results.json.
    predictions : pandas.DataFrame or None
        predictions.parquet (for the score distributions).
    out_dir : path
        Report folder; figures go to ``figures/``, tables to ``tables/``.
    jobs : int, optional
        Processes used to draw the figures (default: up to 2).
    """
    b = _Builder(results, predictions, Path(out_dir))
    b.drawn = F.draw_all(results, predictions, b.fig_dir, jobs=jobs)
    return b.build()
