"""`radval check`: validate a manifest and check every case without extracting."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radval.exceptions import EXIT_OK, EXIT_PARTIAL, ExtractionError

HELP = "check a manifest: files, geometry, masks and CT intensities (no extraction)"
EXAMPLE = "radval check study/manifest.csv --failures study/failures.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("manifest", help="manifest CSV or parquet (patient_id, cohort, image, "
                        "mask[, reader, label, phase])")
    parser.add_argument("--params", default=None,
                        help="PyRadiomics parameter file to validate as well "
                             "(default: the shipped gu2023_ct.yaml)")
    parser.add_argument("--strict", action="store_true", help="stop at the first problem")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: all cores)")
    parser.add_argument("--failures", default=None,
                        help="write the failures table to this CSV file")
    parser.add_argument("--no-ct-check", action="store_true",
                        help="skip the Hounsfield-unit checks (non-CT images)")
    parser.add_argument("--min-voxels", type=int, default=27,
                        help="smallest mask accepted for texture features (default 27)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the checks; exit 4 when any row has a problem."""
    from radval._provenance import atomic_write_text
    from radval.features.checks import CheckSettings
    from radval.features.extract import check_manifest
    from radval.features.radiomics import resolve_params
    from radval.io.manifest import read_manifest
    from radval.report._escape import csv_frame

    manifest = read_manifest(args.manifest)
    pf = resolve_params(args.params)
    settings = CheckSettings(modality=None if args.no_ct_check else "CT",
                             min_voxels=args.min_voxels)
    failures = check_manifest(manifest, settings=settings, jobs=args.jobs,
                              progress=False if args.quiet or args.json else None)
    if args.failures:
        atomic_write_text(Path(args.failures), csv_frame(failures).to_csv(index=False))
    n_bad = int(failures[["patient_id", "reader"]].drop_duplicates().shape[0])
    summary: dict[str, Any] = {"manifest": Path(args.manifest).name, "params": pf.name,
                               "params_sha256": pf.sha256, "n_rows": len(manifest),
                               "n_failed": n_bad,
                               "errors": failures.head(50).to_dict(orient="records")}
    if n_bad and args.strict:
        f0 = failures.iloc[0]
        raise ExtractionError(f"{f0['patient_id']} (reader {f0['reader']}): {f0['reason']}")
    if not args.json:
        for rec in failures.itertuples(index=False):
            print(f"{rec.patient_id}\t{rec.reader}\t{rec.stage}\t{rec.reason}")
        print(f"{len(manifest) - n_bad}/{len(manifest)} rows passed the checks")
    return (EXIT_PARTIAL if n_bad else EXIT_OK), summary
