"""What the report reads: the typed results, their tidy tables and the display names.

:class:`ReportData` is built once from a validated :class:`radval.contracts.ResultsFile`
(and ``predictions.parquet``).  Every table and figure of the report takes it, or a tidy
DataFrame it built: the DataFrames are made here, in one place, from the typed records
(one row per record, one column per field of the record's definition), so a part that is
absent from the run is an empty frame with the right columns, never a guess.

:class:`LabelSet` turns the names of results.json (columns, level codes, models,
cohorts, subgroups) into the display names of the study file (``results.labels``) and
falls back to the name itself.  Nothing here escapes text: callers escape where text
enters markdown (:func:`radval.report._escape.md_text`) or a figure (``mpl_text``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from radval.contracts import _results_multicentre as C
from radval.contracts import _results_site as CS
from radval.contracts._base import Record
from radval.contracts._results import (
    CalibrationGroup,
    CalibrationRow,
    CalibrationSmoothPoint,
    CohortRow,
    ComparisonRow,
    DecisionPoint,
    FamilySelection,
    FlowRow,
    HeterogeneityRow,
    InstabilityRow,
    KmRow,
    Labels,
    MissingRow,
    ModelRow,
    OptimismRow,
    PerformanceRow,
    ResultsFile,
    RocBandPoint,
    RocPoint,
    SelectionFrequencyRow,
    SelectionSizeRow,
    SubgroupRow,
    SurvivalSummaryRow,
    ThresholdRow,
)
from radval.contracts._results_utility import (
    CalibrationBandPoint,
    CorrectedCalibrationPoint,
    CorrectedCalibrationSummary,
    CorrectedNetBenefitPoint,
    NetBenefitDifferenceRow,
    PartialAucRow,
    SubgroupCalibrationPoint,
    SubgroupCalibrationRow,
    SubgroupHeterogeneityRow,
    SubgroupNetBenefitRow,
)

if TYPE_CHECKING:
    from radval.workflow._study import StudyConfig

__all__ = ["LabelSet", "ReportData", "as_results", "in_sentence", "level_percent",
           "records_frame"]

_OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
#: Level codes read as "absent / present": a variable with exactly these two levels is
#: shown on one line of Table 1 (the count of the second).
_BINARY = ({"0", "1"}, {"false", "true"}, {"no", "yes"}, {"absent", "present"},
           {"negative", "positive"}, {"n", "y"})


def level_percent(level: float) -> str:
    """A confidence level as a label: 0.95 -> ``"95%"``, 0.9 -> ``"90%"``, 0.975 ->
    ``"97.5%"`` (rounded to 1e-10 %: ``100 * 0.9`` is 90.00000000000001)."""
    return f"{round(100.0 * float(level), 10):.12g}%"


def in_sentence(text: str) -> str:
    """A display name inside a sentence: the first letter lowered unless the name starts
    with an acronym (``"Lymph-node metastasis"`` -> ``"lymph-node metastasis"``, ``"WHO
    grade"`` unchanged)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def as_results(results: ResultsFile | Mapping[str, Any]) -> ResultsFile:
    """The typed results: a :class:`ResultsFile` as is, its dict form validated."""
    if isinstance(results, ResultsFile):
        return results
    return ResultsFile.from_data(dict(results))


def records_frame(rows: Sequence[Record] | None, model: type[Record]) -> pd.DataFrame:
    """One row per record, one column per field of ``model`` (JSON names; ``null`` -> NaN
    in number columns).  An absent or empty part gives an empty frame with those columns."""
    cols = [info.alias or name for name, info in model.model_fields.items()]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([r.model_dump(by_alias=True) for r in rows], columns=cols)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class LabelSet:
    """Display names from the study file, with the names themselves as fallback."""

    labels: Labels | None
    model_rows: tuple[ModelRow, ...] = ()

    # -- variables ----------------------------------------------------------------------
    def has_variable(self, name: str) -> bool:
        """Whether the study file describes the column ``name`` (a predictor or the outcome)."""
        return self.labels is not None and name in self.labels.variables

    def variable(self, name: str, *, unit: bool = True) -> str:
        """``"Age, years"`` (label and unit), else the column name."""
        v = self.labels.variables.get(name) if self.labels else None
        if v is None:
            return name
        text = v.label or name
        return f"{text}, {v.unit}" if unit and v.unit else text

    def unit(self, name: str) -> str | None:
        """The unit of a variable, or ``None``."""
        v = self.labels.variables.get(name) if self.labels else None
        return v.unit if v is not None else None

    def level(self, name: str, code: Any) -> str:
        """The display text of level ``code`` of variable ``name`` (else the code)."""
        v = self.labels.variables.get(name) if self.labels else None
        key = _fmt_value(code)
        if v is not None and v.levels and key in v.levels:
            return v.levels[key]
        return key

    def binary_level(self, name: str, codes: Sequence[str]) -> str | None:
        """For a two-level variable coded absent/present (0/1, no/yes, ...; by code or by
        label), the code of "present"; ``None`` otherwise (both levels are shown)."""
        if len(codes) != 2:
            return None
        for keyed in (list(codes), [self.level(name, c) for c in codes]):
            low = [str(c).strip().lower() for c in keyed]
            for pair in _BINARY:
                if set(low) == pair:  # "present" sorts last in every pair
                    return codes[low.index(sorted(pair)[1])]
        return None

    # -- models, cohorts ----------------------------------------------------------------
    def model(self, name: str) -> str:
        """The study file's name of a model, else the label radval gave it, else its name."""
        if self.labels is not None and name in self.labels.models:
            return self.labels.models[name]
        for m in self.model_rows:
            if m.name == name:
                return m.label or name
        return name

    def cohort(self, name: str) -> str:
        """The study file's name of a cohort, else its name."""
        if self.labels is not None and name in self.labels.cohorts:
            return self.labels.cohorts[name]
        return name

    # -- subgroups ----------------------------------------------------------------------
    def subgroup(self, name: str) -> str:
        """The study file's name of a subgroup, else its name."""
        s = self.labels.subgroups.get(name) if self.labels else None
        return s.label if s is not None and s.label else name

    def subgroup_level(self, name: str, level: str) -> str:
        """A subgroup level: its text in the study file, else the rule written with the
        variable's label and unit (``"Tumour size < 20 mm"``), else the rule."""
        s = self.labels.subgroups.get(name) if self.labels else None
        if s is None:
            return level
        if s.levels and level in s.levels:
            return s.levels[level]
        if level not in (s.rule, s.complement):
            return level
        op = s.op if level == s.rule else _NEGATE.get(s.op, s.op)
        value = _fmt_value(s.value)
        if isinstance(s.value, str):
            value = self.level(s.column, s.value)
        unit = self.unit(s.column)
        return (f"{self.variable(s.column, unit=False)} {_OP_TEXT.get(op, op)} {value}"
                + (f" {unit}" if unit and not isinstance(s.value, str) else ""))

    # -- free text ----------------------------------------------------------------------
    def names(self) -> dict[str, str]:
        """Raw identifier -> display name, for every labelled variable, model and cohort."""
        out: dict[str, str] = {}
        if self.labels is None:
            return out
        for k, v in self.labels.variables.items():
            if v.label:
                out[k] = v.label
        out.update(self.labels.cohorts)
        out.update(self.labels.models)
        for k, s in self.labels.subgroups.items():
            if s.label:
                out[k] = s.label
        return {k: v for k, v in out.items() if k != v}

    def relabel(self, text: str) -> str:
        """``text`` with every labelled identifier (a whole word: ``vascular_invasion``)
        replaced by its display name; used for the run's warning messages."""
        names = self.names()
        if not names:
            return text
        pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(
            re.escape(k) for k in sorted(names, key=len, reverse=True)) + r")(?![A-Za-z0-9_])")
        return pattern.sub(lambda m: names[m.group(1)], text)


@dataclass(frozen=True)
class ReportData:
    """The typed results of a run and the tidy frames the report is drawn from.

    Parameters
    ----------
    results : ResultsFile
        The validated results (``ResultsFile.read``).
    predictions : pandas.DataFrame, optional
        ``predictions.parquet`` (score distributions).
    """

    results: ResultsFile
    predictions: pd.DataFrame | None = field(default=None, compare=False)

    @classmethod
    def build(cls, results: ResultsFile | Mapping[str, Any],
              predictions: pd.DataFrame | None = None) -> ReportData:
        """From a :class:`ResultsFile` or its dict form (validated here)."""
        return cls(results=as_results(results), predictions=predictions)

    # -- names ---------------------------------------------------------------------------
    @cached_property
    def labels(self) -> LabelSet:
        """Display names (:class:`LabelSet`)."""
        return LabelSet(self.results.labels, tuple(self.results.models))

    @cached_property
    def cohorts(self) -> list[str]:
        """Cohort names, development first (results order)."""
        return [c.name for c in self.results.cohorts]

    @cached_property
    def cohort_rows(self) -> dict[str, CohortRow]:
        """Cohort name -> its row."""
        return {c.name: c for c in self.results.cohorts}

    @cached_property
    def models(self) -> list[str]:
        """Model names in results order."""
        return [m.name for m in self.results.models]

    @cached_property
    def model_kinds(self) -> dict[str, str]:
        """Model name -> kind."""
        return {m.name: m.kind for m in self.results.models}

    @cached_property
    def primary_models(self) -> list[str]:
        """The study's own models (scores, combined signature, clinical model, nomogram):
        every model but the scikit-learn comparison classifiers."""
        return [m for m in self.models if self.model_kinds.get(m) != "sklearn"]

    @cached_property
    def comparison_models(self) -> list[str]:
        """The scikit-learn comparison classifiers."""
        return [m for m in self.models if self.model_kinds.get(m) == "sklearn"]

    @cached_property
    def study(self) -> StudyConfig | None:
        """The study file of a development run, typed (``provenance.study``); ``None`` for
        a site run, or when the recorded study no longer validates."""
        from pydantic import ValidationError

        from radval.workflow._study import StudyConfig

        rec = self.results.provenance.study
        if rec is None:
            return None
        try:
            return StudyConfig.model_validate({**rec, "base_dir": "."})
        except ValidationError:
            return None

    # -- the level of the intervals ------------------------------------------------------
    @cached_property
    def ci_level(self) -> float:
        """The level of the run's confidence intervals and bands
        (``results.study.confidence_level``).  A file written before radval recorded it:
        the ``evaluation.confidence_level`` of its study file, else 0.95.

        Label an interval with :attr:`ci` when it was computed at this level; an interval
        computed at a fixed level whatever the study (a sample-size target, the quantiles
        of a range) keeps its own label."""
        st = self.results.study
        if "confidence_level" in st.model_fields_set:
            return float(st.confidence_level)
        study = self.study
        return float(study.evaluation.confidence_level) if study is not None else 0.95

    @property
    def ci(self) -> str:
        """:attr:`ci_level` as a label: ``"95%"``, ``"90%"``, ``"97.5%"``."""
        return level_percent(self.ci_level)

    @cached_property
    def ci_z(self) -> float:
        """The standard normal quantile of a two-sided :attr:`ci_level` interval (1.96 at
        0.95), for the Wald intervals the report builds from a recorded standard error."""
        from scipy.stats import norm

        return float(norm.ppf(0.5 + self.ci_level / 2.0))

    @property
    def families(self) -> dict[str, FamilySelection]:
        """Feature family -> its selection, radiomics first, then deep, then any other
        (results.json sorts its keys); empty when the run selected nothing."""
        sel = self.results.selection
        if sel is None:
            return {}
        rank = {"radiomics": 0, "deep": 1}
        return {k: sel[k] for k in sorted(sel, key=lambda f: (rank.get(f, 2), f))}

    @property
    def signature_model(self) -> str:
        """The model that is the signature."""
        return self.results.study.signature_model

    def order(self, df: pd.DataFrame, *, models: Sequence[str] | None = None) -> pd.DataFrame:
        """Rows of ``df`` (columns ``cohort`` and/or ``model``) in cohort then model order,
        keeping only ``models`` when given."""
        out = df
        if models is not None and "model" in out:
            out = out[out["model"].isin(list(models))]
        keys = []
        if "cohort" in out:
            rank_c = {c: i for i, c in enumerate(self.cohorts)}
            out = out.assign(_c=out["cohort"].map(rank_c).fillna(len(rank_c)))
            keys.append("_c")
        if "model" in out:
            order = list(models) if models is not None else self.models
            rank_m = {m: i for i, m in enumerate(order)}
            out = out.assign(_m=out["model"].map(rank_m).fillna(len(rank_m)))
            keys.append("_m")
        if keys:
            out = out.sort_values(keys, kind="stable").drop(columns=keys)
        return out.reset_index(drop=True)

    # -- tidy frames ---------------------------------------------------------------------
    @cached_property
    def performance(self) -> pd.DataFrame:
        """AUC per cohort x model, whole cohorts (``subgroup == "all"``)."""
        df = records_frame(self.results.performance, PerformanceRow)
        return self.order(df[df["subgroup"] == "all"])

    @cached_property
    def threshold(self) -> pd.DataFrame:
        """Metrics at the frozen cut-offs, whole cohorts."""
        df = records_frame(self.results.threshold_metrics, ThresholdRow)
        return df[df["subgroup"] == "all"].reset_index(drop=True)

    @cached_property
    def comparisons(self) -> pd.DataFrame:
        """Paired DeLong tests."""
        return records_frame(self.results.comparisons, ComparisonRow)

    @cached_property
    def calibration(self) -> pd.DataFrame:
        """Calibration per cohort x model."""
        return self.order(records_frame(self.results.calibration, CalibrationRow))

    @cached_property
    def roc(self) -> pd.DataFrame:
        """ROC curve points."""
        return records_frame(self.results.curves.roc, RocPoint)

    @cached_property
    def roc_band(self) -> pd.DataFrame:
        """Bootstrap bands of the ROC curves."""
        return records_frame(self.results.curves.roc_band, RocBandPoint)

    @cached_property
    def calibration_grouped(self) -> pd.DataFrame:
        """Grouped calibration curves."""
        return records_frame(self.results.curves.calibration_grouped, CalibrationGroup)

    @cached_property
    def calibration_smooth(self) -> pd.DataFrame:
        """Smoothed calibration curves."""
        return records_frame(self.results.curves.calibration_smooth, CalibrationSmoothPoint)

    @cached_property
    def decision(self) -> pd.DataFrame:
        """Decision curves."""
        return records_frame(self.results.curves.decision, DecisionPoint)

    @cached_property
    def subgroups(self) -> pd.DataFrame:
        """AUC per subgroup level."""
        return self.order(records_frame(self.results.subgroups, SubgroupRow))

    @cached_property
    def heterogeneity(self) -> pd.DataFrame:
        """Tests of equal AUCs across subgroup levels."""
        return records_frame(self.results.heterogeneity, HeterogeneityRow)

    @cached_property
    def flow(self) -> pd.DataFrame:
        """Patient flow."""
        return records_frame(self.results.patient_flow, FlowRow)

    @cached_property
    def missing(self) -> pd.DataFrame:
        """Missing values per variable and cohort."""
        return records_frame(self.results.missing, MissingRow)

    @cached_property
    def optimism(self) -> pd.DataFrame:
        """Harrell's bootstrap optimism."""
        return self.order(records_frame(self.results.optimism, OptimismRow))

    @cached_property
    def selection_frequency(self) -> pd.DataFrame:
        """Selection frequency over the optimism resamples."""
        stab = self.results.stability
        return records_frame(stab.selection_frequency if stab else None,
                             SelectionFrequencyRow)

    @cached_property
    def selection_size(self) -> pd.DataFrame:
        """Features selected per resample."""
        stab = self.results.stability
        return records_frame(stab.selection_size if stab else None, SelectionSizeRow)

    @cached_property
    def instability(self) -> pd.DataFrame:
        """Per-patient prediction instability."""
        stab = self.results.stability
        return records_frame(stab.prediction_instability if stab else None, InstabilityRow)

    @cached_property
    def km(self) -> pd.DataFrame:
        """Kaplan-Meier curves by risk group."""
        surv = self.results.survival
        return records_frame(surv.km if surv else None, KmRow)

    @cached_property
    def survival_summary(self) -> pd.DataFrame:
        """The signature as a prognostic marker, per cohort."""
        surv = self.results.survival
        return self.order(records_frame(surv.summary if surv else None, SurvivalSummaryRow))

    # -- time-to-event validation (results.survival) ------------------------------------
    def _survival_table(self, name: str) -> pd.DataFrame:
        """The table ``name`` of the ``survival`` block (one row per record of its
        :mod:`radval.contracts._survival` definition), in cohort order."""
        from radval.contracts import _survival as S

        records: dict[str, type[Record]] = {
            "time_dependent_auc": S.TdAucRow, "brier": S.SurvivalBrierRow,
            "calibration": S.SurvivalCalibrationRow,
            "calibration_grouped": S.SurvivalCalibrationGroup,
            "calibration_curve": S.SurvivalCalibrationPoint,
            "decision": S.SurvivalDecisionPoint, "risk_groups": S.RiskGroupRow,
            "optimism": S.SurvivalOptimismRow}
        surv = self.results.survival
        return self.order(records_frame(getattr(surv, name) if surv else None,
                                        records[name]))

    @cached_property
    def survival_auc(self) -> pd.DataFrame:
        """Time-dependent AUC per cohort and horizon."""
        return self._survival_table("time_dependent_auc")

    @cached_property
    def survival_brier(self) -> pd.DataFrame:
        """Brier score and IPA of the absolute risks per cohort and horizon."""
        return self._survival_table("brier")

    @cached_property
    def survival_calibration(self) -> pd.DataFrame:
        """Calibration of the absolute risks per cohort and horizon."""
        return self._survival_table("calibration")

    @cached_property
    def survival_calibration_grouped(self) -> pd.DataFrame:
        """Grouped calibration (risk tenths) per cohort and horizon."""
        return self._survival_table("calibration_grouped")

    @cached_property
    def survival_calibration_curve(self) -> pd.DataFrame:
        """Flexible calibration curves per cohort and horizon."""
        return self._survival_table("calibration_curve")

    @cached_property
    def survival_decision(self) -> pd.DataFrame:
        """Decision curves per cohort and horizon."""
        return self._survival_table("decision")

    @cached_property
    def survival_risk_groups(self) -> pd.DataFrame:
        """Events, median event-free time and hazard ratio per risk group."""
        return self._survival_table("risk_groups")

    @cached_property
    def survival_optimism(self) -> pd.DataFrame:
        """Bootstrap optimism of C and AUC(t) on the development cohort."""
        return self._survival_table("optimism")

    # -- missing data and harmonisation (report/_missing_harmonisation.py) ---------------
    @cached_property
    def missing_predictors(self) -> pd.DataFrame:
        """Missing values of the models' clinical predictors among the analysed patients,
        per cohort (``missing_data.table``)."""
        md = self.results.missing_data
        return records_frame(md.table if md else None, C.MissingDataRow)

    @cached_property
    def missing_patterns(self) -> pd.DataFrame:
        """Missing-data patterns per cohort (``missing_data.patterns``), long: one row per
        pattern and predictor, ``pattern`` (its position in results.json: most frequent
        first per cohort), ``cohort, n_rows, n_missing_variables, variable, observed``
        (1 observed, 0 missing); predictors in the order of ``missing_data.variables``."""
        cols = ["pattern", "cohort", "n_rows", "n_missing_variables", "variable", "observed"]
        md = self.results.missing_data
        if md is None or not md.patterns:
            return pd.DataFrame(columns=cols)
        rank = {v: i for i, v in enumerate(md.variables)}
        rows = [{"pattern": i, "cohort": p.cohort, "n_rows": p.n_rows,
                 "n_missing_variables": p.n_missing_variables, "variable": v,
                 "observed": int(o)}
                for i, p in enumerate(md.patterns)
                for v, o in sorted(p.pattern.items(), key=lambda kv: rank.get(kv[0], len(rank)))]
        return pd.DataFrame(rows, columns=cols)

    @cached_property
    def imputed_counts(self) -> pd.DataFrame:
        """Patients per cohort kept with imputed predictors (``missing_data.imputed``)."""
        md = self.results.missing_data
        return self.order(records_frame(md.imputed if md else None, C.ImputedCountRow))

    @cached_property
    def pooled_coefficients(self) -> pd.DataFrame:
        """Coefficients pooled by Rubin's rules (``missing_data.pooled_coefficients``)."""
        md = self.results.missing_data
        return records_frame(md.pooled_coefficients if md else None, C.PooledCoefficientRow)

    @cached_property
    def pooled_performance(self) -> pd.DataFrame:
        """Performance pooled by Rubin's rules (``missing_data.pooled_performance``)."""
        md = self.results.missing_data
        return self.order(records_frame(md.pooled_performance if md else None,
                                        C.PooledPerformanceRow))

    @cached_property
    def site_missing_predictors(self) -> pd.DataFrame:
        """Missing values per predictor at a site (``missing_data.site.table``)."""
        md = self.results.missing_data
        site = md.site if md else None
        return records_frame(site.table if site else None, C.SiteMissingVariableRow)

    @cached_property
    def site_imputation(self) -> pd.DataFrame:
        """The bundle's clinical models at a site with and without the imputed patients
        (``missing_data.site.models``)."""
        md = self.results.missing_data
        site = md.site if md else None
        return records_frame(site.models if site else None, C.SiteImputationRow)

    @cached_property
    def harmonisation_batches(self) -> pd.DataFrame:
        """Batches per cohort (``harmonisation.batches``)."""
        hm = self.results.harmonisation
        return self.order(records_frame(hm.batches if hm else None, C.BatchRow))

    @cached_property
    def batch_separability(self) -> pd.DataFrame:
        """Batch separability before and after harmonisation (``harmonisation.separability``)."""
        hm = self.results.harmonisation
        return records_frame(hm.separability if hm else None, C.SeparabilityRow)

    @cached_property
    def batch_pca(self) -> pd.DataFrame:
        """Patients on the first two principal components (``harmonisation.pca``)."""
        hm = self.results.harmonisation
        return records_frame(hm.pca if hm else None, C.PcaRow)

    @cached_property
    def shift_features(self) -> pd.DataFrame:
        """Dataset-shift diagnostics per feature at a site (``shift.features``; after the
        frozen harmonisation when the bundle harmonises)."""
        sh = self.results.shift
        return records_frame(sh.features if sh else None, CS.ShiftFeatureRow)

    @cached_property
    def shift_features_unharmonised(self) -> pd.DataFrame:
        """The same diagnostics on the raw features, before the frozen harmonisation
        (``harmonisation.site.shift_before.features``)."""
        hm = self.results.harmonisation
        before = hm.site.shift_before if hm and hm.site else None
        return records_frame(before.features if before else None, CS.ShiftFeatureRow)

    # -- calibration and clinical utility (report/_calibration_utility.py) ---------------
    @cached_property
    def calibration_band(self) -> pd.DataFrame:
        """Flexible calibration curves with pointwise bootstrap bands."""
        return records_frame(self.results.curves.calibration_band, CalibrationBandPoint)

    @cached_property
    def calibration_subgroup(self) -> pd.DataFrame:
        """Flexible calibration curves per subgroup level."""
        return records_frame(self.results.curves.calibration_subgroup,
                             SubgroupCalibrationPoint)

    @cached_property
    def subgroup_calibration(self) -> pd.DataFrame:
        """Calibration per subgroup level."""
        return self.order(records_frame(self.results.subgroup_calibration,
                                        SubgroupCalibrationRow))

    @cached_property
    def subgroup_net_benefit(self) -> pd.DataFrame:
        """Net benefit per subgroup level at the key thresholds."""
        return records_frame(self.results.subgroup_net_benefit, SubgroupNetBenefitRow)

    @cached_property
    def subgroup_heterogeneity(self) -> pd.DataFrame:
        """Tests of equal calibration and net benefit across subgroup levels."""
        return records_frame(self.results.subgroup_heterogeneity, SubgroupHeterogeneityRow)

    @cached_property
    def net_benefit_difference(self) -> pd.DataFrame:
        """Differences in net benefit between model pairs."""
        return records_frame(self.results.net_benefit_difference, NetBenefitDifferenceRow)

    @cached_property
    def partial_auc(self) -> pd.DataFrame:
        """Partial AUC per cohort x model."""
        return self.order(records_frame(self.results.partial_auc, PartialAucRow))

    @cached_property
    def optimism_calibration(self) -> pd.DataFrame:
        """Bias-corrected calibration curves (development)."""
        return records_frame(self.results.optimism_calibration, CorrectedCalibrationPoint)

    @cached_property
    def optimism_calibration_summary(self) -> pd.DataFrame:
        """Errors of the bias-corrected calibration curves."""
        return self.order(records_frame(self.results.optimism_calibration_summary,
                                        CorrectedCalibrationSummary))

    @cached_property
    def optimism_net_benefit(self) -> pd.DataFrame:
        """Optimism-corrected decision curves (development)."""
        return records_frame(self.results.optimism_net_benefit, CorrectedNetBenefitPoint)
