"""``radval report --check``: are a run's results still current?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radval._provenance import sha256_file
from radval.cli import main
from radval.exceptions import EXIT_STALE
from radval.report._freshness import check_results

from .fixtures import make_results


def _run(tmp_path: Path, *, version: str | None = None, paths: bool = True) -> Path:
    """A committed run whose provenance records three inputs next to it."""
    from radval.workflow._outputs import RunFolder

    study_dir = tmp_path / "study"
    study_dir.mkdir(parents=True)
    (study_dir / "clinical.csv").write_text("patient_id,cohort\np1,a\n")
    (study_dir / "manifest.csv").write_text("patient_id,image,mask\n")
    (study_dir / "study.yaml").write_text(
        "name: s\nclinical: clinical.csv\nmanifest: manifest.csv\noutcome: {column: y}\n"
        "cohorts: [{name: a, role: development}]\n")
    results, pred = make_results(7)
    inputs = {"clinical": study_dir / "clinical.csv", "manifest": study_dir / "manifest.csv",
              "study_file": study_dir / "study.yaml"}
    run = tmp_path / "study" / "results"
    prov = results["provenance"]
    prov["input_sha256"] = {k: sha256_file(v) for k, v in inputs.items()}
    if paths:
        from radval.workflow._assemble import relative_paths

        prov["input_paths"] = relative_paths(inputs, run)
    if version is not None:
        results["radval_version"] = version
    run.mkdir()
    folder = RunFolder(run)
    stage = folder.stage()
    (stage / "results.json").write_text(json.dumps(results))
    pred.to_parquet(stage / "predictions.parquet", index=False)
    folder.commit(stage, steps=["select", "fit", "evaluate"])
    return run


def _current_version(monkeypatch: pytest.MonkeyPatch) -> str:
    import radval

    monkeypatch.setattr(radval, "__version__", "0.1.0")
    return "0.1.0"


def test_current_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    _current_version(monkeypatch)
    run = _run(tmp_path)
    verdict = check_results(run)
    assert verdict.current and verdict.reasons == []
    assert verdict.inputs == {"clinical": "unchanged", "manifest": "unchanged",
                              "study_file": "unchanged"}
    assert main(["report", str(run), "--check"]) == 0
    assert "current" in capsys.readouterr().out
    assert not (run / "report").exists()   # --check renders nothing


@pytest.mark.parametrize("changed", ["study.yaml", "clinical.csv"])
def test_an_input_changed_after_the_run(tmp_path: Path, changed: str,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _current_version(monkeypatch)
    run = _run(tmp_path)
    target = tmp_path / "study" / changed
    target.write_text(target.read_text() + "\n# edited\n")
    verdict = check_results(run)
    label = "study_file" if changed == "study.yaml" else "clinical"
    assert not verdict.current and verdict.inputs[label] == "changed"
    assert any(label in r and "changed after the run" in r for r in verdict.reasons)
    assert main(["report", str(run), "--check", "--json"]) == EXIT_STALE == 3
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert payload["summary"]["current"] is False
    # the same content again: current (the hash is compared, not the file date)
    target.write_text(target.read_text().removesuffix("\n# edited\n"))
    assert check_results(run).current


def test_missing_input_incomplete_run_and_other_release(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _current_version(monkeypatch)
    run = _run(tmp_path / "a")
    (tmp_path / "a" / "study" / "manifest.csv").unlink()
    v = check_results(run)
    assert not v.current and v.inputs["manifest"] == "missing"
    run = _run(tmp_path / "b", version="0.2.0")
    v = check_results(run)
    assert not v.current and "radval 0.2.0" in v.reasons[0]
    assert check_results(_run(tmp_path / "c", version="0.1.7")).current  # a patch release
    run = _run(tmp_path / "d")
    (run / "run.json").unlink()   # an interrupted run
    v = check_results(run)
    assert not v.current and "no complete run" in v.reasons[0]
    assert main(["report", str(run), "--check"]) == EXIT_STALE


def test_unreadable_results_are_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _current_version(monkeypatch)
    from radval.workflow._outputs import RunFolder

    run = tmp_path / "run"
    run.mkdir()
    folder = RunFolder(run)
    stage = folder.stage()
    (stage / "results.json").write_text(json.dumps({"schema_version": "0"}))
    folder.commit(stage, steps=["select", "fit", "evaluate"])
    v = check_results(run)
    assert not v.current and "incompatible radval" in v.reasons[0]


def test_without_recorded_paths_the_study_file_is_used(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _current_version(monkeypatch)
    run = _run(tmp_path, paths=False)
    v = check_results(run)
    assert not v.current and "--study" in v.reasons[0]
    study = tmp_path / "study" / "study.yaml"
    assert check_results(run, study=study).current
    assert main(["report", str(run), "--check", "--study", str(study)]) == 0
    (tmp_path / "study" / "clinical.csv").write_text("changed\n")
    assert check_results(run, study=study).inputs["clinical"] == "changed"
