"""The sections of the supplement (``supplement.*``): everything behind the main text.

Cohorts and patient flow, sample size, the feature-selection funnel, ICC and LASSO
paths, selection stability and prediction instability, the performance of every model
(comparison classifiers included) with the optimism correction, all pairwise
comparisons as compact matrices, calibration metrics of every model, score
distributions, subgroups, the reporting checklists (TRIPOD+AI, CLEAR, METRICS, RQS,
IBSI) and the provenance of the run.  Each builder follows the protocol of
:mod:`radval.report._sections`; :data:`SECTIONS` lists them.
"""

from __future__ import annotations

import pandas as pd

from radval.report import tables as T
from radval.report._checklists import checklist_status
from radval.report._escape import md_identifier, md_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report.figures import lasso_label
from radval.report.ibsi import ibsi_items
from radval.report.methods import sample_size_markdown
from radval.report.rqs import rqs_items

__all__ = ["SECTIONS"]


def about(ctx: SectionContext) -> Section | None:
    """What the supplement is."""
    w = ctx.writer()
    w.h(1, "About this supplement", "sec-supplement")
    name = ctx.results.study.name
    w.p(f"Supplementary material of the validation report of {md_text(name)} (results of "
        f"{md_text(ctx.results.created[:10])}, radval {md_text(ctx.results.radval_version)}). "
        "Tables and figures numbered S1, S2, ... are referred to from the main report as "
        "Supplementary Table S1, Supplementary Figure S1, ...")
    return w.section()


def participants(ctx: SectionContext) -> Section | None:
    """Cohorts, patient flow by stage, missing values, sample size."""
    d = ctx.data
    w = ctx.writer()
    w.h(1, "Cohorts and participants", "sec-cohorts")
    w.table(T.cohort_table(d), "tbl-cohorts", "Cohorts: role, patients analysed, events, "
            "prevalence and patients excluded.")
    if w.table(T.flow_table(d), "tbl-flow", "Patient flow by cohort and stage."):
        w.p("@tbl-flow lists every stage of the patient flow (@fig-flow); patients with a "
            "missing outcome or a missing predictor used by a model were excluded "
            "(complete-case analysis).")
    w.table(T.missing_table(d), "tbl-missing", "Missing values by variable and cohort.")
    w.h(2, "Sample size", "sec-sample-size")
    w.p(sample_size_markdown(d))
    return w.section()


def selection(ctx: SectionContext) -> Section | None:
    """Selection funnel, ICC, LASSO paths, coefficients."""
    d, sel = ctx.data, ctx.data.families
    w = ctx.writer()
    w.h(1, "Feature selection", "sec-selection")
    if not sel:
        w.p("Feature selection is not part of this run (the signature was fixed "
            "beforehand).")
        return w.section()
    drew_t = w.table(T.funnel_table(d), "tbl-funnel",
                     "Feature-selection funnel on the development cohort.")
    drew_f = w.figure("fig-funnel", "Features kept after each selection step (logarithmic "
                      "axis).", width="85%")
    if drew_t or drew_f:
        w.p(" ".join(x for x, ok in (("@tbl-funnel", drew_t), ("@fig-funnel", drew_f)) if ok)
            .replace(" ", " and ") + " show how many features each step kept.")
    if w.figure("fig-icc", "ICC of the radiomic features between segmentations; the dashed "
                "line is the reproducibility threshold.", width="55%"):
        w.p("@fig-icc shows the reproducibility of the candidate radiomic features.")
    for fam in sel:
        label = lasso_label(fam)
        if w.figure(label, f"LASSO for the {fam} features: cross-validated deviance (left; "
                    "dashed λ-min, dotted λ-1SE) and coefficient paths (right)."):
            w.p(f"@{label} shows the choice of the penalty for the {md_text(fam)} features.")
    if w.table(T.coefficients_table(d), "tbl-coef",
               "Coefficients of the scores on the original feature scale, with the "
               "development mean and SD of each feature."):
        w.p("@tbl-coef lists the coefficients of the scores. The scores at full precision, "
            "as the signature bundle applies them:")
        # escaped text, not a code block: nothing from results.json becomes a fence
        w.p("\n".join(f"- {md_text(body.formula)}" for body in sel.values()))
    return w.section()


def stability(ctx: SectionContext) -> Section | None:
    """Selection stability and prediction instability of the optimism bootstrap."""
    d, stab = ctx.data, ctx.results.stability
    if stab is None or not stab.n_resamples:
        return None
    w = ctx.writer()
    w.h(1, "Stability", "sec-stability")
    w.p(T.selection_size_text(d))
    if w.table(T.stability_table(d), "tbl-stability",
               "Selection stability: share of the optimism bootstrap resamples in which "
               "each feature was selected (final features and the most often selected "
               "others)."):
        w.p("@tbl-stability shows how often the features were selected when the whole "
            "selection was repeated in the bootstrap resamples.")
    iv = ctx.results.internal_validation
    if iv is not None and any(x.startswith("deep network") for x in iv.refitted):
        w.p("The deep network was trained again in every resample, so a deep feature of one "
            "resample is not the same feature in another; only the number of deep features "
            "selected is comparable.")
    # a fixed 2.5-97.5% quantile range of the resamples' predictions (workflow._internal),
    # not an interval at the run's level
    if w.figure("fig-instability", "Prediction instability: for each development patient, "
                "the range (2.5th–97.5th percentile) of the predictions of the models "
                "developed in the bootstrap resamples; MAPE is the mean absolute difference "
                "from the final model's prediction.", width="75%"):
        w.p("@fig-instability shows how much the individual predictions depend on the "
            "development sample.")
    return w.section()


def performance_all(ctx: SectionContext) -> Section | None:
    """Every model's performance, the optimism correction, the ROC curves of all models."""
    d = ctx.data
    if d.performance.empty:
        return None
    w = ctx.writer()
    w.h(1, "Performance of every model", "sec-performance-all")
    perf = T.performance_table(d, accuracy=True, bootstrap=True)
    w.table(perf, "tbl-performance-all",
            f"Performance of every model: AUC with DeLong and stratified bootstrap {d.ci} "
            "CIs; at the frozen cut-off, sensitivity, specificity, PPV, NPV and accuracy "
            f"({d.ci} Wilson CIs).", markdown=T.grouped(perf, "Cohort"))
    w.p("@tbl-performance-all includes the machine-learning comparison classifiers.")
    if w.figure("fig-roc-all", "ROC curves of every model by cohort."):
        w.p("@fig-roc-all shows the ROC curves of every model.")
    if w.table(T.optimism_table(d), "tbl-optimism",
               "Optimism-corrected development performance (Harrell's bootstrap): apparent "
               "value, optimism and corrected value."):
        w.p("@tbl-optimism corrects the apparent development performance for optimism.")
    return w.section()


def comparisons_all(ctx: SectionContext) -> Section | None:
    """All pairwise DeLong comparisons, one matrix per cohort."""
    d = ctx.data
    mats = [(c, T.comparison_matrix(d, c)) for c in d.cohorts]
    mats = [(c, m) for c, m in mats if not m.empty]
    undefined = T.undefined_comparisons(d)
    if not mats and not undefined:
        return None
    w = ctx.writer()
    w.h(1, "All pairwise comparisons", "sec-comparisons-all")
    w.p("Each cell gives the difference in AUC between the model of the row and the model "
        "of the column, with the Holm-adjusted p-value of DeLong's test (adjusted within "
        "each cohort).")
    for c, m in mats:
        w.table(m, md_identifier(c, prefix="tbl-delong-"),
                f"Pairwise comparisons in {d.labels.cohort(c)}: AUC(row) − AUC(column) "
                "(Holm-adjusted p).")
    for line in undefined:
        w.p(line)
    return w.section()


def calibration_all(ctx: SectionContext) -> Section | None:
    """Calibration metrics and curves of every model."""
    d = ctx.data
    w = ctx.writer()
    w.h(1, "Calibration of every model", "sec-calibration-all")
    cal = T.calibration_table(d)
    drew_t = w.table(cal, "tbl-calibration",
                     "Calibration: intercept, slope, observed/expected ratio, Brier score, "
                     "ICI, E90, Emax and the Hosmer-Lemeshow test.",
                     markdown=T.grouped(cal, "Cohort"))
    drew_f = w.figure("fig-calibration-all", "Calibration curves of every model by cohort.",
                      width="90%")
    if not (drew_t or drew_f):
        return None
    w.p(" ".join(x for x, ok in (("@tbl-calibration lists the metrics.", drew_t),
                                 ("@fig-calibration-all shows the curves.", drew_f)) if ok))
    return w.section()


def scores(ctx: SectionContext) -> Section | None:
    """Score distributions by outcome."""
    w = ctx.writer()
    w.h(1, "Score distributions", "sec-scores")
    if not w.figure("fig-scores", "Score distributions by outcome within each cohort."):
        return None
    w.p("@fig-scores shows how the scores separate the outcome groups.")
    return w.section()


def subgroups(ctx: SectionContext) -> Section | None:
    """Subgroup AUCs and the forest plot."""
    d = ctx.data
    w = ctx.writer()
    w.h(1, "Subgroups", "sec-subgroups")
    sub = T.subgroup_table(d)
    drew_t = w.table(sub, "tbl-subgroups",
                     "AUC by subgroup with the test of heterogeneity across its levels.",
                     markdown=T.grouped(sub, "Cohort"))
    drew_f = w.figure("fig-forest", f"Subgroup forest plot: AUC ({d.ci} CI) by cohort and "
                      "subgroup level.")
    if not (drew_t or drew_f):
        return None
    w.p(" ".join(x for x, ok in (("@tbl-subgroups lists the subgroup AUCs.", drew_t),
                                 ("@fig-forest shows them.", drew_f)) if ok))
    return w.section()


def checklists(ctx: SectionContext) -> Section | None:
    """TRIPOD+AI, CLEAR and METRICS (status and where each item is reported), RQS, IBSI."""
    d = ctx.data
    w = ctx.writer()
    w.h(1, "Reporting checklists", "sec-checklists")
    w.p("Each item is *reported here* (the reports fill it), *partly* (numbers or a draft "
        "here, text by the authors) or *needs author input*; the last column says where "
        "it is reported.")
    for key, title, sec in (("tripod", "TRIPOD+AI", "sec-tripod"),
                            ("clear", "CLEAR", "sec-clear"),
                            ("metrics", "METRICS", "sec-metrics")):
        status = checklist_status(key, d, sections=ctx.sections | {sec, "sec-checklists"})
        w.h(2, title, sec)
        counts = status.frame["status"].value_counts()
        w.p(f"{md_text(status.citation)} Of its {len(status.frame)} items, "
            f"{int(counts.get('reported here', 0))} are reported here, "
            f"{int(counts.get('partly', 0))} partly and "
            f"{int(counts.get('needs author input', 0))} need author input "
            f"(@tbl-{key}).")
        df = status.frame
        plain = pd.DataFrame({"Item": df["item"], "Topic": df["topic"], "Status": df["status"],
                              "Where": [w_ or "–" for w_ in df["where"]]})
        markdown = pd.DataFrame({
            "Item": [md_text(x) for x in df["item"]], "Topic": [md_text(x) for x in df["topic"]],
            "Status": [md_text(x) for x in df["status"]],
            "Where": [f"@{md_identifier(x)}" if x else "–" for x in df["where"]]})
        w.table(plain, f"tbl-{key}", f"{title} checklist ({status.version}): status of each "
                "item and where it is reported.", markdown=markdown)
    w.h(2, "Radiomics Quality Score", "sec-rqs")
    rq = rqs_items(d)
    scored = rq[rq["points"].notna()]
    total = int(pd.to_numeric(scored["points"]).sum()) if len(scored) else 0
    w.p(f"The items that follow from the run score {total} points (of 36 for the whole "
        "RQS); the remaining items need the authors (@tbl-rqs).")
    w.table(pd.DataFrame({
        "Item": rq["item"], "Criterion": rq["criterion"],
        "Points": [str(int(v)) if pd.notna(v) else "–" for v in rq["points"]],
        "Range": rq["range"], "Basis": rq["basis"]}), "tbl-rqs",
        "Radiomics Quality Score items determined by the run.")
    w.h(2, "IBSI reporting items", "sec-ibsi")
    ib = ibsi_items(d)
    if ib.empty:
        w.p("Radiomics extraction settings are not part of this run.")
    else:
        w.table(pd.DataFrame({"Item": ib["item"], "Setting": ib["topic"],
                              "Value": ib["value"], "Source": ib["source"]}),
                "tbl-ibsi", "IBSI reporting items from the PyRadiomics parameter file.")
        w.p("@tbl-ibsi lists the image-processing settings.")
    return w.section()


def provenance(ctx: SectionContext) -> Section | None:
    """Software versions, input hashes, the results file."""
    r = ctx.results
    prov = r.provenance
    w = ctx.writer()
    w.h(1, "Provenance", "sec-provenance")
    versions = prov.versions
    if versions:
        w.table(pd.DataFrame({"Package": list(versions),
                              "Version": [str(v) if v else "–" for v in versions.values()]}),
                "tbl-software", "Software versions recorded by the run.")
    if prov.input_sha256:
        w.table(pd.DataFrame({"Input": list(prov.input_sha256),
                              "SHA-256": list(prov.input_sha256.values())}),
                "tbl-inputs", "Input files of the run and their SHA-256.")
    w.p(f"Results schema version {md_text(r.schema_version)}, written by radval "
        f"{md_text(r.radval_version)} on {md_text(r.created)}; random seed {prov.seed}. "
        f"The command {md_text('radval report --check')} compares these hashes with the "
        "input files to tell whether the results are still current.")
    return w.section()


SECTIONS = (
    SectionSpec(key="supplement-about", build=about, placement="supplement", order=100),
    SectionSpec(key="supplement-participants", build=participants, placement="supplement",
                order=110),
    SectionSpec(key="selection", build=selection, placement="supplement", order=120),
    SectionSpec(key="stability", build=stability, placement="supplement", order=130),
    SectionSpec(key="performance-all", build=performance_all, placement="supplement",
                order=140),
    SectionSpec(key="comparisons-all", build=comparisons_all, placement="supplement",
                order=150),
    SectionSpec(key="calibration-all", build=calibration_all, placement="supplement",
                order=160),
    SectionSpec(key="scores", build=scores, placement="supplement", order=165),
    SectionSpec(key="subgroups", build=subgroups, placement="supplement", order=170),
    SectionSpec(key="checklists", build=checklists, placement="supplement", order=180,
                needs_index=True),
    SectionSpec(key="provenance", build=provenance, placement="supplement", order=190),
)
