"""The built-in study: generate its data and its study file."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from radval._provenance import atomic_write_text
from radval.workflow._study import StudyConfig

logger = logging.getLogger("radval.pipeline")


def builtin_study_text() -> str:
    """Text of the built-in study file.

    Package data (``radval/data/builtin_study.yaml``; ``analysis/study.yaml`` of the
    repository is a link to it), so an installed radval runs the same demo as a checkout.
    """
    from importlib.resources import files

    return (files("radval") / "data" / "builtin_study.yaml").read_text(encoding="utf-8")


def prepare_demo(out: str | Path, *, small: bool = False, seed: int | None = None,
                 jobs: int | None = None) -> tuple[StudyConfig, Path, float]:
    """Generate the built-in study in ``out/study`` and write its study file there.

    ``small=True`` generates the small variant (48 patients) and uses fewer
    resamples (bootstrap CI 500, optimism 50) so that it runs in about a minute.

    Returns
    -------
    (StudyConfig, study file path, seconds spent generating)
    """
    import yaml

    from radval.io.synth import generate_study
    from radval.workflow._study import load_study

    out = Path(out)
    data_dir = out / "study"
    doc = yaml.safe_load(builtin_study_text())
    if seed is not None:
        doc["seed"] = int(seed)
    t0 = time.perf_counter()
    # Patients are generated independently (per-patient seeds), so parallel generation
    # gives the same bytes as serial; use the same worker count as the run.
    from radval.features.executor import available_cores

    synth_jobs = int(jobs) if jobs else available_cores()
    paths = generate_study(data_dir, small=small, seed=int(doc["seed"]), jobs=synth_jobs)
    secs = time.perf_counter() - t0
    doc["manifest"] = Path(paths.manifest).name
    doc["clinical"] = Path(paths.clinical).name
    doc["output"] = "../results"
    if jobs is not None:
        doc.setdefault("compute", {})["jobs"] = int(jobs)
    if small:
        doc["evaluation"]["bootstrap_ci"] = 500
        doc["evaluation"]["optimism"] = 50
        doc["selection"]["n_folds"] = 5
    study_file = data_dir / "study.yaml"
    header = ("# Written by `radval demo` from analysis/study.yaml"
              + (" (small variant)" if small else "") + "\n")
    atomic_write_text(study_file, header + yaml.safe_dump(doc, sort_keys=False))
    return load_study(study_file), study_file, secs
