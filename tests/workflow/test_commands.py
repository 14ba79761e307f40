"""CLI wiring of run / select / fit / evaluate / demo: help with example, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from radval.cli import main


@pytest.mark.parametrize("cmd", ["run", "select", "fit", "evaluate", "demo"])
def test_help_has_example(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"radval {cmd}" in out
    assert "not implemented" not in out


def test_usage_error_and_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    assert main(["run"]) == 2
    assert main(["fit", str(tmp_path / "nope.yaml"), "--json"]) == 66
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and payload["exit_code"] == 66


def test_bad_config_exit_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "outcome": {"column": "y"},
                                 "clinical": "c.csv", "manifest": "m.csv",
                                 "cohorts": [{"name": "a", "role": "development"}],
                                 "selection": {"lasso_rule": "2se"}}))
    assert main(["select", str(f), "--json"]) == 78
    payload = json.loads(capsys.readouterr().out)
    assert "selection.lasso_rule" in payload["errors"][0]["message"]


def test_evaluate_before_fit_is_missing_input(tmp_path: Path) -> None:
    # a study on a features table, evaluated before `radval fit`: clear exit 66
    import pandas as pd

    pd.DataFrame({"patient_id": ["a1", "a2", "a3", "a4"], "cohort": "a", "y": [0, 1, 0, 1]}
                 ).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"patient_id": ["a1", "a2", "a3", "a4"], "reader": "1", "cohort": "a",
                  "radiomics_original_firstorder_Mean": [1.0, 2.0, 1.5, 2.5]}
                 ).to_parquet(tmp_path / "f.parquet")
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "outcome": {"column": "y"},
                                 "clinical": "c.csv", "features": "f.parquet",
                                 "cohorts": [{"name": "a", "role": "development"}]}))
    assert main(["evaluate", str(f), "--out", str(tmp_path / "o"), "-q"]) == 66


def test_analysis_demo_script_is_thin() -> None:
    text = (Path(__file__).resolve().parents[2] / "analysis" / "demo.py").read_text()
    assert 'main(["demo", *sys.argv[1:]])' in text


def test_prepare_demo_writes_a_valid_small_study(tmp_path: Path) -> None:
    from radval.workflow import prepare_demo

    study, study_file, secs = prepare_demo(tmp_path, small=True, seed=5, jobs=1)
    assert study_file == tmp_path / "study" / "study.yaml" and secs >= 0
    assert study.seed == 5 and study.compute.jobs == 1
    assert study.evaluation.optimism == 50 and study.evaluation.bootstrap_ci == 500
    assert study.path(study.manifest) == (tmp_path / "study" / "manifest.csv").resolve()
    assert study.path(study.output) is not None
    assert Path(str(study.path(study.output))).resolve() == (tmp_path / "results").resolve()
    assert [c.role for c in study.cohorts] == ["development", "internal_validation",
                                               "external_validation"]
