"""The run folder: staged outputs committed at once, and readers that refuse an
interrupted or mixed run (issue: partial runs indistinguishable from finished ones)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from radval.contracts import RunRecord
from radval.workflow._outputs import IncompleteRunError, RunFolder


def _write(stage: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / name).write_text(text)


def _run(folder: RunFolder, files: dict[str, str], steps: list[str],
         fresh: list[str] | None = None) -> RunRecord:
    stage = folder.stage()
    _write(stage, files)
    return folder.commit(stage, steps=steps, fresh=fresh)


FULL = {"selection.json": "s1", "models.json": "m1", "predictions.parquet": "p1",
        "bundle/signature.json": "b1", "bundle/SHA256SUMS": "h1", "results.json": "r1",
        "tables/performance.csv": "t1", "tables/selection_funnel.csv": "f1",
        "patient_flow.csv": "pf1"}


def test_commit_records_every_output_and_verify_accepts_it(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    rec = _run(folder, FULL, ["select", "fit", "evaluate"])
    assert set(rec.files) == set(FULL)
    assert folder.verify("evaluate", action="radval run").files == rec.files
    assert not (tmp_path / ".staging").exists()
    assert json.loads((tmp_path / "run.json").read_text())["steps"] == [
        "select", "fit", "evaluate"]


def test_an_interrupted_run_leaves_the_previous_complete_run(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    _run(folder, FULL, ["select", "fit", "evaluate"])
    stage = folder.stage()
    _write(stage, {k: v.replace("1", "2") for k, v in FULL.items() if k != "results.json"})
    # ... interrupted here (SIGINT, crash, disk full): no commit
    assert folder.verify("evaluate", action="radval run")
    assert (tmp_path / "results.json").read_text() == "r1"
    assert (tmp_path / "predictions.parquet").read_text() == "p1"
    folder.stage()  # the next run starts from an empty stage
    assert not any((tmp_path / ".staging").iterdir())


def test_a_crash_while_committing_leaves_no_complete_run(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    folder = RunFolder(tmp_path)
    _run(folder, FULL, ["select", "fit", "evaluate"])
    stage = folder.stage()
    _write(stage, {k: v.replace("1", "2") for k, v in FULL.items()})
    real = os.replace
    calls = {"n": 0}

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        folder.commit(stage, steps=["select", "fit", "evaluate"])
    monkeypatch.setattr(os, "replace", real)
    with pytest.raises(IncompleteRunError, match="interrupted or failed"):
        folder.verify("evaluate", action="radval run")


def test_mixed_outputs_are_refused(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    _run(folder, FULL, ["select", "fit", "evaluate"])
    (tmp_path / "predictions.parquet").write_text("from another run")
    with pytest.raises(IncompleteRunError, match=r"predictions.parquet changed"):
        folder.verify("evaluate", action="radval run")
    (tmp_path / "predictions.parquet").write_text("p1")
    (tmp_path / "bundle" / "signature.json").unlink()
    with pytest.raises(IncompleteRunError, match=r"bundle/signature.json"):
        folder.verify("evaluate", action="radval run")


def test_refitting_removes_the_outputs_that_no_longer_apply(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    _run(folder, FULL, ["select", "fit", "evaluate"])
    (tmp_path / "bundle" / "old_extra.json").write_text("stale")
    rec = _run(folder, {"models.json": "m2", "predictions.parquet": "p2",
                        "bundle/signature.json": "b2", "bundle/SHA256SUMS": "h2"},
               ["select", "fit"], fresh=["fit"])
    assert (tmp_path / "selection.json").read_text() == "s1"      # the kept step
    assert not (tmp_path / "results.json").exists()               # a later step's output
    assert not (tmp_path / "tables" / "performance.csv").exists()
    assert not (tmp_path / "bundle" / "old_extra.json").exists()  # stale in a fresh step
    assert "results.json" not in rec.files
    with pytest.raises(IncompleteRunError, match="'evaluate' has not completed"):
        folder.verify("evaluate", action="radval evaluate")
    folder.verify("fit", action="radval fit")


def test_a_site_run_without_share_removes_the_previous_share(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    _run(folder, {"results.json": "r1", "share.json": "s1", "predictions.parquet": "p1"},
         ["validate"])
    _run(folder, {"results.json": "r2", "predictions.parquet": "p2"}, ["validate"])
    assert not (tmp_path / "share.json").exists()
    assert folder.verify("validate", action="radval validate")


def test_the_report_refuses_an_incomplete_run(tmp_path: Path) -> None:
    from radval.cli import main
    from tests.report.fixtures import make_run_dir

    run = make_run_dir(tmp_path, minimal=True)
    (run / "run.json").unlink()
    assert main(["report", str(run), "--format", "html", "-q"]) == 65
