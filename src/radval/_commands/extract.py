"""`radval extract`: manifest -> radiomics (and optionally deep) features table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from radval._commands import _args
from radval._commands.check import add_check_arguments, check_settings
from radval.exceptions import EXIT_OK, EXIT_PARTIAL, InputError

HELP = "extract PyRadiomics (and deep) features for every manifest row, in parallel, resumable"
EXAMPLE = "radval extract study/manifest.csv --out study/features --jobs 8"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("manifest", help="manifest CSV or parquet")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--params", default=None,
                        help="PyRadiomics parameter file, used unchanged "
                             "(default: the shipped gu2023_ct.yaml)")
    parser.add_argument("--jobs", type=_args.jobs, default=None,
                        help="worker processes (default: all cores)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address, or 'local' (default: "
                             "$RADVAL_DASK_SCHEDULER, else local processes)")
    parser.add_argument("--strict", action="store_true", help="stop at the first problem")
    parser.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet",
                        help="features table format (default parquet)")
    add_check_arguments(parser)
    parser.add_argument("--deep", action="store_true",
                        help="also train the study CNN on the development cohort and add its "
                             "deep_<k> features (needs --clinical and --outcome)")
    parser.add_argument("--deep-weights", default=None,
                        help="apply these trained CNN weights (folder or .safetensors) "
                             "instead of training")
    parser.add_argument("--clinical", default=None, help="clinical CSV (for --deep)")
    parser.add_argument("--outcome", default=None, help="outcome column (for --deep)")
    parser.add_argument("--train-cohort", default="centre1_train",
                        help="development cohort the CNN is trained on "
                             "(default 'centre1_train', as in the built-in study)")
    parser.add_argument("--seed", type=_args.seed, default=0, help="seed of the CNN training")


def _deep(args: argparse.Namespace, manifest: Any, out: Path) -> Any:
    """Train or load the CNN (radval.features.deep) and return its features table."""

    from radval.features import deep

    if args.deep_weights:
        model = deep.load_deep_model(args.deep_weights)
    else:
        if not args.clinical or not args.outcome:
            raise InputError("--deep needs --clinical CSV and --outcome COLUMN to train the CNN "
                             "(or pass --deep-weights)")
        from radval.io.tables import read_table

        cpath = Path(args.clinical)
        clinical = read_table(cpath, what="clinical table", dtype={"patient_id": str},
                              required=["patient_id"])
        if args.outcome not in clinical.columns:
            raise InputError(f"--outcome {args.outcome!r} is not a column of {cpath.name}")
        dev = manifest[manifest["cohort"] == args.train_cohort]
        if dev.empty:
            raise InputError(f"no manifest row has cohort {args.train_cohort!r} "
                             "(--train-cohort)")
        labels = clinical.set_index("patient_id")[args.outcome]
        labels = labels[labels.index.isin(dev["patient_id"])]
        model = deep.train_deep_model(dev, labels, seed=args.seed)
        model.save(out / "deep_model")
    return deep.extract_deep_features(manifest, model, jobs=args.jobs or 1)


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Extract; exit 4 when any row failed (everything else is written)."""
    from radval._provenance import atomic_write_bytes, atomic_write_text
    from radval.features.extract import extract_radiomics, table_bytes
    from radval.io.manifest import read_manifest
    from radval.report._escape import csv_frame

    if args.deep and not args.deep_weights and (not args.clinical or not args.outcome):
        raise InputError("--deep needs --clinical CSV and --outcome COLUMN to train the CNN "
                         "(or pass --deep-weights)")
    manifest = read_manifest(args.manifest)
    out = Path(args.out)
    res = extract_radiomics(
        manifest, params=args.params, out_dir=out, jobs=args.jobs, scheduler=args.scheduler,
        strict=args.strict, progress=False if args.quiet or args.json else None, fmt=args.fmt,
        settings=check_settings(args))
    summary: dict[str, Any] = {
        "out": str(out), "n_cases": res.n_cases, "n_extracted": res.n_extracted,
        "n_cached": res.n_cached, "n_failed": res.n_failed,
        "n_features": int(res.features.shape[1] - 3), "files": res.files,
        "errors": res.failures.head(50).to_dict(orient="records"),
    }
    n_failed = res.n_failed
    if args.deep or args.deep_weights:
        import pandas as pd

        deep_df = _deep(args, manifest, out)
        merged = res.features.merge(deep_df, on=["patient_id", "reader", "cohort"], how="left")
        atomic_write_bytes(out / res.files["features"], table_bytes(merged, args.fmt))
        summary["n_deep_features"] = int(sum(c.startswith("deep_") for c in deep_df.columns))
        deep_fail = deep_df.attrs.get("failures")
        if deep_fail is not None and len(deep_fail):
            deep_fail = deep_fail.assign(stage="deep")[list(res.failures.columns)]
            allf = pd.concat([res.failures, deep_fail], ignore_index=True)
            atomic_write_text(out / "failures.csv", csv_frame(allf).to_csv(index=False))
            n_failed = int(allf[["patient_id", "reader"]].drop_duplicates().shape[0])
            summary["n_failed"] = n_failed
            summary["errors"] = allf.head(50).to_dict(orient="records")
    if not args.json:
        print(f"{res.n_cases - res.n_failed}/{res.n_cases} cases extracted "
              f"({res.n_cached} from the cache) -> {out / res.files['features']}")
        if n_failed:
            print(f"{n_failed} case(s) failed: see {out / 'failures.csv'}")
    return (EXIT_PARTIAL if n_failed else EXIT_OK), summary
