"""`radval init`: draft a study.yaml for your own manifest and clinical table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from radval.exceptions import EXIT_OK, OutputError

HELP = ("draft a study.yaml from your manifest and clinical table (cohorts, outcome, "
        "predictors guessed, to confirm)")
EXAMPLE = ("radval init --manifest data/manifest.csv --clinical data/clinical.csv "
           "--out study.yaml\n  radval check study.yaml")

#: --out names a file here, not an output folder (see radval.cli)
OUTPUT_FOLDER = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("--manifest", required=True,
                        help="manifest CSV or parquet (patient_id, cohort, image, mask[, "
                             "reader, label, phase, modality])")
    parser.add_argument("--clinical", required=True,
                        help="clinical table (patient_id, cohort, outcome, predictors)")
    parser.add_argument("--out", default="study.yaml",
                        help="study file to write (default study.yaml)")
    parser.add_argument("--name", default=None,
                        help="study name (default: the manifest's folder name)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing study file")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Write the draft; refuse to overwrite without --force."""
    from radval._provenance import atomic_write_text
    from radval.workflow import load_study
    from radval.workflow._draft import draft_study

    out = Path(args.out)
    if out.is_dir():
        raise OutputError(f"{out} is a folder; give the study file to write "
                          "(--out study.yaml)", filename=str(out))
    if out.exists() and not args.force:
        raise OutputError(f"{out} already exists; pass --force to overwrite it, or "
                          "choose another --out", filename=str(out))
    draft = draft_study(args.manifest, args.clinical, study_file=out, name=args.name)
    atomic_write_text(out, draft.text)
    load_study(out)  # the draft must load as it is (paths, keys, one development cohort)
    summary: dict[str, Any] = {
        "study_file": out.name, "cohorts": draft.cohorts, "n_patients": draft.n_patients,
        "outcome": draft.outcome, "positive_label": draft.positive_label,
        "outcome_candidates": draft.outcome_candidates,
        "predictors": draft.predictors, "left_out": draft.left_out,
        "survival": draft.survival, "modality": draft.modality, "notes": draft.notes}
    if not args.json:
        roles = ", ".join(f"{c} ({r}, {draft.n_patients[c]} patient(s))"
                          for c, r in draft.cohorts.items())
        print(f"wrote {out}: cohorts {roles}; outcome {draft.outcome} (event "
              f"{draft.positive_label!r}); {len(draft.predictors)} clinical predictor(s); "
              f"modality {draft.modality}")
        for note in draft.notes:
            print(f"note: {note}")
        print(f"next: check the lines marked CONFIRM in {out}, then run: radval check {out}")
    return EXIT_OK, summary
