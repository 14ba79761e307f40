"""The run folder: outputs are staged, then committed, so that a reader sees either the
complete previous run or the complete new one.

A step writes everything into ``<out>/.staging/``.  :meth:`RunFolder.commit` then

1. removes ``run.json`` (from here on the folder is "in transition"),
2. removes the outputs the new run did not write (of its own steps, and of every later
   step, which no longer applies), then moves every staged file into place (``os.replace``,
   atomic per file, same file system),
3. writes ``run.json`` (:class:`radval.contracts.RunRecord`): the completed steps and the
   SHA-256 of every output file.

An interruption (SIGINT, a crash, a full disk) before step 2 leaves the previous run
untouched, ``run.json`` included; one during step 2 (milliseconds) leaves no ``run.json``.
Every reader of a run (``radval fit`` reading ``selection.json``, ``radval evaluate``,
``radval report``) calls :meth:`RunFolder.verify`, which refuses a folder without
``run.json``, without the step it needs, or whose files no longer match their recorded
hashes (outputs of two runs mixed).  Caches (``features/.cache``, ``deep/``) are not
outputs: they are keyed by content and stay valid across interrupted runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from radval._provenance import atomic_write_text, sha256_file, utc_now
from radval.contracts._files import RunRecord
from radval.exceptions import ContractError, DataError, MissingInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STEPS", "IncompleteRunError", "RunFolder"]

#: The steps of a development run, in order; a site run has the single step "validate".
STEPS = ("select", "fit", "evaluate")
STAGING = ".staging"
#: Outputs whose hashes run.json records (relative paths; folders are recursed).
_OUTPUTS = ("selection.json", "models.json", "predictions.parquet", "results.json",
            "share.json", "return_predictions.csv", "patient_flow.csv",
            "features/features_all.parquet", "features/failures.csv", "bundle", "tables")


def _owner(rel: str, *, site: bool) -> str:
    """The step that writes an output file."""
    if site and rel in ("results.json", "predictions.parquet", "share.json",
                        "return_predictions.csv"):
        return "validate"
    if rel in ("selection.json", "tables/selection_funnel.csv") or rel.startswith("features/"):
        return "select"
    if rel in ("models.json", "predictions.parquet") or rel.startswith("bundle/"):
        return "fit"
    if rel in ("share.json", "return_predictions.csv"):
        return "validate"
    return "evaluate"


class IncompleteRunError(DataError):
    """A run folder holds an interrupted or mixed run (exit code 65)."""


class RunFolder:
    """The output folder of a run.

    Parameters
    ----------
    root : path
        The folder (created when needed).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.fspath(root))

    @property
    def record_path(self) -> Path:
        """``run.json``."""
        return self.root / RunRecord.FILE

    def stage(self) -> Path:
        """A fresh, empty staging folder inside the run folder (a leftover of an
        interrupted run is removed)."""
        stage = self.root / STAGING
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        return stage

    def record(self) -> RunRecord | None:
        """The current ``run.json``, or ``None`` when absent or unreadable."""
        if not self.record_path.is_file():
            return None
        try:
            return RunRecord.read(self.record_path)
        except ContractError:
            return None

    def commit(self, stage: Path, *, steps: Sequence[str],
               fresh: Sequence[str] | None = None) -> RunRecord:
        """Move the staged outputs into place and write ``run.json``.

        Parameters
        ----------
        stage : Path
            The folder of :meth:`stage`.
        steps : sequence of str
            The steps whose outputs the run folder holds after the commit (e.g.
            ``["select", "fit"]`` after ``radval fit``).  Outputs of any other step are
            removed: they would describe another selection or fit.
        fresh : sequence of str, optional
            The steps whose outputs are in the stage (default: all of ``steps``); an
            output of a fresh step that was not staged is removed (nothing stale stays).
        """
        fresh = list(steps if fresh is None else fresh)
        staged = sorted(p for p in stage.rglob("*") if p.is_file())
        rel = [p.relative_to(stage).as_posix() for p in staged]
        new = set(rel)
        site = "validate" in steps
        self.record_path.unlink(missing_ok=True)
        for f in self._output_files():
            r = f.relative_to(self.root).as_posix()
            owner = _owner(r, site=site)
            if owner not in steps or (owner in fresh and r not in new):
                f.unlink()
        for src, r in zip(staged, rel, strict=True):
            dest = self.root / r
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        shutil.rmtree(stage, ignore_errors=True)
        from radval import __version__

        rec = RunRecord(radval_version=str(__version__), created=utc_now(),
                        steps=list(steps), files=self._hashes())
        rec.write(self.record_path)
        return rec

    def _output_files(self) -> list[Path]:
        out: list[Path] = []
        for name in _OUTPUTS:
            p = self.root / name
            if p.is_dir():
                out += sorted(q for q in p.rglob("*") if q.is_file())
            elif p.is_file():
                out.append(p)
        return out

    def _hashes(self) -> dict[str, str]:
        return {f.relative_to(self.root).as_posix(): sha256_file(f)
                for f in self._output_files()}

    def verify(self, step: str, *, action: str) -> RunRecord:
        """The run record, after checking that ``step`` completed and no file changed.

        Parameters
        ----------
        step : str
            The step whose outputs are needed (``"evaluate"`` for a report).
        action : str
            What to run to make the outputs ("radval run"), for the message.

        Raises
        ------
        MissingInputError
            The folder holds no outputs at all (exit code 66: run the step first).
        IncompleteRunError
            No ``run.json`` (interrupted), the step is missing, or an output changed after
            the commit (outputs of two runs mixed).
        """
        rec = self.record()
        if rec is None and not self._output_files():
            needed = {"select": "selection.json", "fit": "selection.json, models.json",
                      "evaluate": "selection.json, models.json, results.json",
                      "validate": "results.json"}.get(step, step)
            raise MissingInputError(f"{self.root} holds no outputs of step {step!r} (no "
                                    f"{needed}): run `{action}` first.")
        if rec is None:
            raise IncompleteRunError(
                f"{self.root} holds no complete run (run.json is missing: the run was "
                f"interrupted or failed); run `{action}` again.")
        if step not in rec.steps:
            raise IncompleteRunError(
                f"{self.root}: step {step!r} has not completed for the current outputs "
                f"(completed: {', '.join(rec.steps) or 'none'}); run `{action}`.")
        changed = sorted(name for name, digest in rec.files.items()
                         if not (self.root / name).is_file()
                         or sha256_file(self.root / name) != digest)
        if changed:
            raise IncompleteRunError(
                f"{self.root}: {', '.join(changed[:5])} changed after the run completed "
                f"(outputs of two runs mixed?); run `{action}` again.")
        return rec


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """Write a table for people (spreadsheets) as CSV, Unix line ends, atomically.

    Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``
    first) are written with a leading quote (:func:`radval.report._escape.csv_frame`):
    the tables quote names and labels that come from the user's files.
    """
    from radval.report._escape import csv_frame

    atomic_write_text(path, csv_frame(df).to_csv(index=False, lineterminator="\n"))
