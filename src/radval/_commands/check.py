"""`radval check`: check a manifest (or a whole study file) without extracting."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radval._commands import _args
from radval.exceptions import EXIT_OK, EXIT_PARTIAL, ExtractionError, RadvalError

HELP = ("check a manifest or a study file: tables, outcome, cohorts, files, geometry, masks, "
        "intensities (no extraction)")
EXAMPLE = ("radval check study/manifest.csv --failures study/failures.csv\n"
           "  radval check study.yaml            # the study file, its tables and its images\n"
           "  radval check mr/manifest.csv --modality MR")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("manifest", metavar="MANIFEST_OR_STUDY",
                        help="manifest CSV or parquet (patient_id, cohort, image, mask[, "
                             "reader, label, phase, modality]), or a study file (.yaml): then "
                             "its clinical table, outcome and cohorts are checked too")
    add_check_arguments(parser)
    parser.add_argument("--params", default=None,
                        help="PyRadiomics parameter file to validate as well "
                             "(default: the study's, else the shipped gu2023_ct.yaml)")
    parser.add_argument("--strict", action="store_true", help="stop at the first problem")
    parser.add_argument("--jobs", type=_args.jobs, default=None,
                        help="worker processes (default: all cores)")
    parser.add_argument("--failures", default=None,
                        help="write the failures table to this CSV file")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The check options shared with `radval extract`."""
    parser.add_argument("--modality", choices=_args.MODALITY_CHOICES, default=None,
                        help="modality of the rows without a 'modality' value in the "
                             "manifest: CT (Hounsfield range), MR (arbitrary units, refused "
                             "when CT-like) or PET (SUV in [0, 100]); default: the study's, "
                             "else CT")
    parser.add_argument("--no-ct-check", "--no-intensity-check", dest="no_ct_check",
                        action="store_true",
                        help="skip the intensity checks of the modality (for CT: the "
                             "Hounsfield range and the normalised-image check)")
    parser.add_argument("--min-voxels", type=_args.int_range(1), default=27,
                        help="smallest mask accepted for texture features (default 27)")


def check_settings(args: argparse.Namespace, default_modality: str = "CT") -> Any:
    """The :class:`~radval.features.checks.CheckSettings` of the command-line options."""
    from radval.features.checks import CheckSettings

    return CheckSettings(modality=args.modality or default_modality,
                         intensity_checks=not args.no_ct_check, min_voxels=args.min_voxels)


def _is_study_file(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _study_problems(study: Any) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    """Every study-level problem (exit code, message) and what was found."""
    from radval.io.coding import check_cohort_agreement
    from radval.io.manifest import read_manifest
    from radval.workflow._coding import outcome_of, read_clinical

    problems: list[tuple[int, str]] = []
    found: dict[str, Any] = {}

    def attempt(fn: Any) -> Any:
        try:
            return fn()
        except RadvalError as exc:
            problems.append((exc.exit_code, str(exc)))
            return None

    clinical = attempt(lambda: read_clinical(study))
    manifest = None
    if study.manifest is not None:
        mpath = study.path(study.manifest)
        manifest = attempt(lambda: read_manifest(mpath))
    wanted = [c.name for c in study.cohorts]
    if clinical is not None:
        y = attempt(lambda: outcome_of(study, clinical))
        if y is not None:
            rows = clinical.set_index("patient_id")["cohort"].reindex(y.index)
            found["outcome"] = {
                c: {"n": int((rows == c).sum()), "events": int(y[(rows == c).to_numpy()].sum())}
                for c in wanted}
            dev = found["outcome"].get(study.development, {})
            if dev and dev.get("events", 0) < 10:
                found["warnings"] = [
                    f"the development cohort {study.development!r} has {dev.get('events', 0)} "
                    f"event(s) of {study.outcome.column!r} = {study.outcome.positive_label!r};"
                    " a model needs far more (rule of thumb: 10 or more per predictor)"]
        absent = [c for c in wanted if c not in set(clinical["cohort"])]
        if absent:
            problems.append((78, f"cohorts: {', '.join(map(repr, absent))} do not appear in "
                                 "the clinical table's 'cohort' column (values: "
                                 f"{', '.join(sorted(set(clinical['cohort']))[:10])})"))
    if manifest is not None:
        absent = [c for c in wanted if c not in set(manifest["cohort"])]
        if absent:
            problems.append((78, f"cohorts: {', '.join(map(repr, absent))} have no row in the "
                                 "manifest"))
        unused = sorted(set(manifest["cohort"]) - set(wanted))
        if unused:
            found["manifest_cohorts_not_in_study"] = unused
    if manifest is not None and clinical is not None:
        attempt(lambda: check_cohort_agreement({"manifest": manifest,
                                                "clinical table": clinical}))
        used = manifest[manifest["cohort"].isin(wanted)]
        no_clin = sorted(set(used["patient_id"]) - set(clinical["patient_id"]))
        if no_clin:
            problems.append((65, f"{len(no_clin)} manifest patient(s) have no row in the "
                                 f"clinical table: {', '.join(no_clin[:10])}"))
    return problems, {"found": found, "manifest": manifest}


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the checks; exit 4 when any row has a problem (65/78 for a study problem)."""
    from radval._provenance import atomic_write_text
    from radval.features.extract import check_manifest
    from radval.features.radiomics import resolve_params
    from radval.io.manifest import read_manifest
    from radval.report._escape import csv_frame

    path = Path(args.manifest)
    study = None
    study_problems: list[tuple[int, str]] = []
    info: dict[str, Any] = {}
    params = args.params
    if _is_study_file(path):
        from radval.workflow import load_study

        study = load_study(path)
        study_problems, info = _study_problems(study)
        manifest = info.get("manifest")
        if params is None and study.radiomics.params is not None:
            params = study.path(study.radiomics.params)
        if manifest is not None:
            attrs = dict(manifest.attrs)
            manifest = manifest[manifest["cohort"].isin([c.name for c in study.cohorts])]
            manifest = manifest.reset_index(drop=True)
            manifest.attrs.update(attrs)
    else:
        manifest = read_manifest(path)
    pf = resolve_params(params)
    settings = check_settings(args, study.modality if study is not None else "CT")
    if manifest is not None and len(manifest):
        failures = check_manifest(manifest, settings=settings, params=pf, jobs=args.jobs,
                                  progress=False if args.quiet or args.json else None)
    else:
        import pandas as pd

        from radval.features.extract import FAILURE_COLUMNS

        failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    if args.failures:
        atomic_write_text(Path(args.failures), csv_frame(failures).to_csv(index=False))
    n_rows = 0 if manifest is None else len(manifest)
    n_bad = int(failures[["patient_id", "reader"]].drop_duplicates().shape[0])
    summary: dict[str, Any] = {"manifest": path.name, "params": pf.name,
                               "params_sha256": pf.sha256, "n_rows": n_rows,
                               "n_failed": n_bad, "modality": settings.modality,
                               "study_problems": [m for _c, m in study_problems],
                               **info.get("found", {}),
                               "errors": failures.head(50).to_dict(orient="records")}
    if n_bad and args.strict:
        f0 = failures.iloc[0]
        raise ExtractionError(f"{f0['patient_id']} (reader {f0['reader']}): {f0['reason']}")
    if not args.json:
        for _code, msg in study_problems:
            print(f"study\t{msg}")
        for msg in info.get("found", {}).get("warnings", []):
            print(f"study\twarning: {msg}")
        for c, v in info.get("found", {}).get("outcome", {}).items():
            print(f"cohort {c}: {v['n']} patients, {v['events']} events")
        for rec in failures.itertuples(index=False):
            print(f"{rec.patient_id}\t{rec.reader}\t{rec.stage}\t{rec.reason}")
        print(f"{n_rows - n_bad}/{n_rows} rows passed the checks"
              + (f"; {len(study_problems)} study problem(s)" if study is not None else ""))
    if study_problems:
        return study_problems[0][0], summary
    return (EXIT_PARTIAL if n_bad else EXIT_OK), summary
