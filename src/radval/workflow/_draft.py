"""A first ``study.yaml`` drafted from a user's own manifest and clinical table (``radval init``).

Everything radval cannot know is guessed and marked ``CONFIRM`` in a comment:

- cohorts: every value of the ``cohort`` column (manifest and clinical table); the largest
  (most patients in the manifest) becomes the development cohort, the others external
  validation cohorts;
- outcome: the candidates are the clinical columns with exactly two levels; the first whose
  name does not look like a time-to-event status or a sex/gender column is chosen, with its
  event level guessed (``1``, ``yes``, ``true``, ``positive``, ``present``, else the rarer
  level); the other candidates are listed;
- predictors: every other clinical column, numeric (more than five distinct numbers) or
  categorical, with a timing guessed from its name (``grade``, ``invasion``, ``margin``,
  ``stage``, ``pathology``, ``pT``/``pN`` ... are post-operative); identifiers, dates and
  free text are left out and listed;
- a time-to-event endpoint (a non-negative time column and a two-level event column) is
  proposed in a comment;
- the modality from the manifest's ``modality`` column, else CT.

The draft loads with :func:`radval.workflow.load_study`; ``radval check study.yaml`` then
reads the tables and images and says what is still wrong.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from radval.io.coding import normalise_label, outcome_levels
from radval.io.manifest import read_manifest
from radval.io.tables import read_table

__all__ = ["StudyDraft", "draft_study"]

_POSTOP = re.compile(r"grade|invasion|invasive|patholog|histolog|margin|stage|^p[tnm](_|$)|"
                     r"^yp[tnm]|post|resect|specimen|ki[-_]?67|mitos|perineural|"
                     r"lymphovascular|lvi|pni", re.IGNORECASE)
_EVENT = re.compile(r"event|status|death|dead|died|censor|recur|relapse|progress",
                    re.IGNORECASE)
_TIME = re.compile(r"time|month|day|week|year|surv|follow|dfs|pfs|rfs|^os(_|$)|duration",
                   re.IGNORECASE)
_SEX = re.compile(r"^(sex|gender)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T].*)?$|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")
_EVENT_WORDS = ("1", "yes", "y", "true", "positive", "pos", "present", "event", "dead",
                "died", "malignant", "metastasis")


@dataclass(frozen=True, kw_only=True)
class StudyDraft:
    """What :func:`draft_study` guessed; ``text`` is the commented YAML."""

    text: str
    cohorts: dict[str, str]
    n_patients: dict[str, int]
    outcome: str | None
    positive_label: Any
    outcome_candidates: dict[str, list[str]]
    predictors: list[dict[str, str]]
    left_out: dict[str, str]
    survival: dict[str, str] | None
    modality: str
    notes: list[str] = field(default_factory=list)


def _q(value: Any) -> str:
    """A YAML scalar (JSON strings are valid YAML)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", text) and text.lower() not in (
            "yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"):
        return text
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    """One-line comment text (no line breaks from a user's data)."""
    return " ".join(str(text).split())


def _relpath(target: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return target.resolve().as_posix()


def _positive_label(levels: list[str], counts: pd.Series) -> Any:
    for word in _EVENT_WORDS:
        for lev in levels:
            if lev.casefold() == word:
                return int(lev) if lev.isdigit() else lev
    rarer = min(levels, key=lambda lev: (int(counts.get(lev, 0)), lev))
    return int(rarer) if re.fullmatch(r"-?\d+", rarer) else rarer


def _numeric(values: pd.Series) -> pd.Series | None:
    num = pd.to_numeric(values, errors="coerce")
    if (num.isna() & values.notna()).any():
        return None
    return num


def draft_study(manifest: str | os.PathLike[str], clinical: str | os.PathLike[str], *,
                study_file: str | os.PathLike[str] = "study.yaml",
                name: str | None = None) -> StudyDraft:
    """Draft a study file for ``manifest`` and ``clinical`` (see the module docstring).

    Parameters
    ----------
    manifest, clinical : path
        The user's manifest (``data-dictionary/manifest.yaml``) and clinical table.
    study_file : path, optional
        Where the study file will be written: its paths are relative to its folder.
    name : str, optional
        Study name (default: the manifest's folder name).

    Returns
    -------
    StudyDraft

    Raises
    ------
    MissingInputError, DataError, SchemaError
        A table is missing, empty, not UTF-8 or breaks its schema (one line naming it).
    """
    mpath, cpath, spath = Path(manifest), Path(clinical), Path(study_file)
    man = read_manifest(mpath)
    clin = read_table(cpath, what="clinical table", dtype={"patient_id": str, "cohort": str},
                      required=["patient_id"])
    notes: list[str] = []
    # ---- cohorts -------------------------------------------------------------------------
    n_patients: dict[str, int] = {
        str(c): int(g["patient_id"].nunique()) for c, g in man.groupby("cohort", sort=True)}
    if "cohort" in clin.columns:
        only = sorted(set(clin["cohort"].dropna().astype(str).str.strip()) - set(n_patients))
        if only:
            notes.append(f"cohort(s) {', '.join(only)} of the clinical table have no image in "
                         "the manifest and are not listed")
    else:
        notes.append(f"the clinical table {cpath.name} has no 'cohort' column: add one "
                     "(the cohort of each patient, as in the manifest)")
    order = sorted(n_patients, key=lambda c: (-n_patients[c], c))
    roles = {c: ("development" if i == 0 else "external_validation")
             for i, c in enumerate(order)}
    # ---- outcome, survival, predictors ---------------------------------------------------
    skip = {"patient_id", "cohort"}
    candidates: dict[str, list[str]] = {}
    counts: dict[str, pd.Series] = {}
    for col in clin.columns:
        if col in skip:
            continue
        levels = outcome_levels(clin[col])
        if len(levels) == 2:
            candidates[col] = levels
            counts[col] = clin[col].map(normalise_label).value_counts()
    preferred = [c for c in candidates if not _EVENT.search(c) and not _SEX.match(c)]
    chosen = preferred or list(candidates)
    outcome = chosen[0] if chosen else None
    positive = _positive_label(candidates[outcome], counts[outcome]) if outcome else None
    survival = None
    times = [c for c in clin.columns if c not in skip and _TIME.search(c)
             and not c.lower().startswith("age")
             and (num := _numeric(clin[c])) is not None and bool((num.dropna() >= 0).all())
             and num.nunique() > 2]
    events = [c for c in candidates if _EVENT.search(c)]
    if times and events:
        survival = {"time": times[0], "event": events[0]}
    predictors: list[dict[str, str]] = []
    left_out: dict[str, str] = {}
    for col in clin.columns:
        if col in skip or col == outcome:
            continue
        if survival and col in survival.values():
            left_out[col] = "time-to-event endpoint (see survival)"
            continue
        if col in candidates and _EVENT.search(col):
            left_out[col] = "looks like an outcome (event/status)"
            continue
        values = clin[col].dropna()
        if values.empty:
            left_out[col] = "empty"
            continue
        num = _numeric(clin[col])
        shown = values.astype(str).str.strip()
        if num is None and shown.str.match(_DATE).mean() > 0.8:
            left_out[col] = "dates (derive e.g. an age or an interval instead)"
            continue
        n_levels = int(shown.nunique())
        if num is None and (n_levels > 20 or n_levels > 0.5 * len(shown)) and n_levels > 5:
            left_out[col] = f"text with {n_levels} different values (free text or an identifier?)"
            continue
        kind = "numeric" if num is not None and int(num.nunique()) > 5 else "categorical"
        timing = "post-operative" if _POSTOP.search(col) else "pre-operative"
        predictors.append({"name": col, "kind": kind, "timing": timing})
    # ---- modality ------------------------------------------------------------------------
    modality, modality_note = "CT", "no 'modality' column in the manifest: CONFIRM"
    if "modality" in man.columns:
        found = man["modality"].replace("", pd.NA).dropna()
        if not found.empty:
            modality = str(found.mode().iloc[0])
            modality_note = f"from the manifest ({', '.join(sorted(set(found)))})"
    text = _render(
        name=name or _study_name(mpath), mpath=_relpath(mpath, spath.parent),
        cpath=_relpath(cpath, spath.parent), sources=(mpath.name, cpath.name), roles=roles,
        n_patients=n_patients, outcome=outcome, positive=positive, candidates=candidates,
        counts=counts, predictors=predictors, left_out=left_out, survival=survival,
        modality=modality, modality_note=modality_note, notes=notes)
    return StudyDraft(text=text, cohorts=roles, n_patients=n_patients, outcome=outcome,
                      positive_label=positive, outcome_candidates=candidates,
                      predictors=predictors, left_out=left_out, survival=survival,
                      modality=modality, notes=notes)


def _study_name(manifest: Path) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", manifest.resolve().parent.name).strip("-")
    return base or "my-study"


def _levels_text(levels: Sequence[str], counts: pd.Series) -> str:
    return ", ".join(f"{lev} (n={int(counts.get(lev, 0))})" for lev in levels)


def _render(*, name: str, mpath: str, cpath: str, sources: tuple[str, str],
            roles: dict[str, str], n_patients: dict[str, int], outcome: str | None,
            positive: Any, candidates: dict[str, list[str]], counts: dict[str, pd.Series],
            predictors: list[dict[str, str]], left_out: dict[str, str],
            survival: dict[str, str] | None, modality: str, modality_note: str,
            notes: list[str]) -> str:
    out: list[str] = [
        f"# radval study file drafted by `radval init` on {date.today().isoformat()} from",
        f"# {_comment(sources[0])} and {_comment(sources[1])}.",
        "# Every line marked CONFIRM is a guess: read it and correct it, then run",
        "#     radval check <this file>",
        "# which reads the tables and the images and says what is still wrong.",
        "# All keys: data-dictionary/study.yaml.  Paths are relative to this file.",
    ]
    out += [f"# NOTE: {_comment(n)}" for n in notes]
    out += [f"name: {_q(name)}",
            'question: ""   # the clinical question (TRIPOD 3a)', "outcome:"]
    if outcome is None:
        out += ['  column: "CHANGE-ME"   # CONFIRM: no clinical column has exactly two levels;'
                " name the binary outcome column",
                "  positive_label: 1"]
    else:
        others = [f"{c}: {_levels_text(lv, counts[c])}" for c, lv in candidates.items()
                  if c != outcome]
        out.append(f"  column: {_q(outcome)}   # CONFIRM: levels "
                   f"{_comment(_levels_text(candidates[outcome], counts[outcome]))}")
        if others:
            out.append(f"  # other two-level columns: {_comment('; '.join(others))}")
        out.append(f"  positive_label: {_q(positive)}   # CONFIRM: the level that means the "
                   "event")
    out += ['  definition: ""   # how and when the outcome was ascertained',
            "prediction_moment: pre-operative   # CONFIRM: when the model is used "
            "(pre-operative | post-operative)",
            f"modality: {modality}   # CT | MR | PET; {_comment(modality_note)}",
            f"manifest: {_q(mpath)}",
            f"clinical: {_q(cpath)}",
            "radiomics:",
            "  enabled: true",
            "  # params: my_params.yaml   # PyRadiomics parameter file; default the shipped "
            "gu2023_ct.yaml",
            "  #   (CT: 1 mm voxels, bin width 25 HU); MR and PET need their own "
            "(e.g. normalize: true for MR)",
            "deep:",
            "  enabled: false   # true: train a CNN on the development cohort "
            "(data-dictionary/deep_config.yaml)",
            "cohorts:   # CONFIRM the roles: the largest cohort is taken as development, the "
            "others as",
            "           # external validation (internal_validation: a split of the "
            "development centre)"]
    for c, role in roles.items():
        out.append(f"  - {{name: {_q(c)}, role: {role}}}   # {n_patients[c]} patient(s) "
                   "in the manifest")
    if predictors:
        out.append("clinical_predictors:   # CONFIRM each timing (pre-operative: known "
                   "before the prediction) and kind")
        for p in predictors:
            why = "  (post-operative by its name)" if p["timing"] == "post-operative" else ""
            out.append(f"  - {{name: {_q(p['name'])}, timing: {p['timing']}, kind: "
                       f"{p['kind']}}}   # CONFIRM{why}")
    else:
        out.append("clinical_predictors: []   # no usable clinical column found")
    for col, why in left_out.items():
        out.append(f"# left out: {_comment(col)}: {_comment(why)}")
    if survival:
        out.append(f"# survival: {{time: {_q(survival['time'])}, event: "
                   f"{_q(survival['event'])}}}   # a secondary time-to-event endpoint "
                   "(uncomment; CONFIRM)")
    out += [
        "# subgroups:   # performance within subgroups: 'column op value', never evaluated",
        '#   - {name: small, expr: "tumour_size_mm < 20"}',
        "# selection:   # defaults shown",
        "#   icc_threshold: 0.75   # keep features with ICC above (patients with two readers)",
        "#   p_threshold: 0.05     # Mann-Whitney U",
        "#   corr_threshold: 0.9   # |Spearman rho| redundancy cut-off",
        "#   lasso_rule: 1se",
        "# models:",
        "#   comparison: [logistic, random_forest]   # scikit-learn comparison models",
        "# evaluation:",
        "#   bootstrap_ci: 2000   # resamples of the AUC confidence intervals",
        "#   optimism: 200        # Harrell bootstrap resamples (0: none)",
        "#   cutoff: youden",
        "compute:",
        "  jobs: 1   # worker processes",
        "seed: 1",
        "output: results   # relative to this file",
    ]
    return "\n".join(out) + "\n"
