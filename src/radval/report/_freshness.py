"""Are a run's results still current?  ``radval report --check``.

A CI job that builds the report wants to know whether the analysis has to run again
first.  :func:`check_results` answers from the run folder alone:

* the run completed and no output changed since (:meth:`RunFolder.verify`);
* ``results.json`` follows this radval's definition (:class:`ResultsFile`) and was
  written by a radval of the same major.minor version (the report layer reads the
  results of its own version; a patch release reads them unchanged);
* every input recorded in ``provenance.input_sha256`` (the study file, the clinical
  table, the manifest, the features, the radiomics parameter file) still has that
  SHA-256: the results are older than the study file or an input exactly when one of
  these changed.  The inputs are found through ``provenance.input_paths`` (relative to
  the run folder), or through the study file given with ``--study``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Freshness", "check_results"]


@dataclass(frozen=True)
class Freshness:
    """The verdict: ``current`` and, when not, the reasons; ``inputs`` maps each checked
    input to ``"unchanged"``, ``"changed"`` or ``"missing"``."""

    current: bool
    reasons: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON form (the ``--json`` summary)."""
        return {"current": self.current, "reasons": list(self.reasons),
                "inputs": dict(self.inputs)}


def _same_release(a: str, b: str) -> bool:
    return a.split(".")[:2] == b.split(".")[:2]


def _study_inputs(study_file: Path) -> dict[str, Path]:
    from radval.workflow._study import load_study

    study = load_study(study_file, check_files=False)
    out: dict[str, Path] = {"study_file": study_file}
    for key, rel in (("clinical", study.clinical), ("manifest", study.manifest),
                     ("features", study.features), ("radiomics_params", study.radiomics.params)):
        p = study.path(rel)
        if p is not None:
            out[key] = p
    return out


def check_results(run_dir: str | os.PathLike[str], *,
                  study: str | os.PathLike[str] | None = None) -> Freshness:
    """Whether the results of ``run_dir`` are current (module docstring).

    Parameters
    ----------
    run_dir : path
        The run folder (holds ``results.json`` and ``run.json``).
    study : path, optional
        The study file; its inputs are compared instead of ``provenance.input_paths``.

    Returns
    -------
    Freshness
    """
    from radval import __version__
    from radval._provenance import sha256_file
    from radval.contracts._results import ResultsFile
    from radval.exceptions import ContractError, DataError, MissingInputError
    from radval.workflow._outputs import RunFolder

    run = Path(os.fspath(run_dir))
    folder = RunFolder(run)
    rec = folder.record()
    site = rec is not None and "validate" in rec.steps
    try:
        folder.verify("validate" if site else "evaluate",
                      action="radval validate" if site else "radval run")
    except DataError as exc:
        return Freshness(current=False, reasons=[str(exc)])
    try:
        results = ResultsFile.read(run / "results.json")
    except (ContractError, MissingInputError) as exc:
        return Freshness(current=False, reasons=[f"written by an incompatible radval: {exc}"])
    reasons: list[str] = []
    if not _same_release(results.radval_version, str(__version__)):
        reasons.append(f"results.json was written by radval {results.radval_version}; this "
                       f"is radval {__version__} (another major.minor release)")
    prov = results.provenance
    if study is not None:
        paths = _study_inputs(Path(os.fspath(study)))
    elif prov.input_paths is not None:
        paths = {k: run / v for k, v in prov.input_paths.items()}
    else:
        reasons.append("results.json does not record where its inputs are (written by an "
                       "older radval); pass the study file with --study")
        return Freshness(current=False, reasons=reasons)
    inputs: dict[str, str] = {}
    for label, digest in sorted(prov.input_sha256.items()):
        path = paths.get(label)
        if path is None or not path.is_file():
            inputs[label] = "missing"
            reasons.append(f"input {label} ({path if path is not None else 'no path'}) is "
                           "missing")
        elif sha256_file(path) != digest:
            inputs[label] = "changed"
            reasons.append(f"input {label} ({path}) changed after the run (SHA-256 differs)")
        else:
            inputs[label] = "unchanged"
    return Freshness(current=not reasons, reasons=reasons, inputs=inputs)
