"""Study file: validation with key paths, subgroup parsing, the built-in study."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from radval.exceptions import ConfigError, MissingInputError
from radval.workflow import load_study, parse_subgroup, study_from_dict

ROOT = Path(__file__).resolve().parents[2]


def _minimal(**over: object) -> dict[str, object]:
    d: dict[str, object] = {
        "name": "s", "outcome": {"column": "y"}, "clinical": "c.csv", "manifest": "m.csv",
        "cohorts": [{"name": "a", "role": "development"},
                    {"name": "b", "role": "external_validation"}],
    }
    d.update(over)
    return d


def test_minimal_defaults() -> None:
    s = study_from_dict(_minimal())
    assert s.development == "a"
    assert s.selection.icc_threshold == 0.75
    assert s.selection.lasso_rule == "1se"
    assert s.evaluation.cutoff == "youden"
    assert s.roles == {"a": "development", "b": "external_validation"}


@pytest.mark.parametrize(("over", "needle"), [
    ({"cohorts": [{"name": "a", "role": "development"}, {"name": "b", "role": "training"}]},
     "cohorts[1].role: must be one of"),
    ({"selection": {"icc_threshld": 0.8}}, "selection.icc_threshld: unknown key"),
    ({"subgroups": [{"name": "x", "expr": "__import__('os')"}]}, "subgroups[0].expr"),
    ({"clinical_predictors": [{"name": "age", "timing": "intra-operative"}]},
     "clinical_predictors[0].timing"),
    ({"cohorts": [{"name": "a", "role": "internal_validation"}]}, "exactly one cohort"),
    ({"evaluation": {"cutoff": 1.5}}, "evaluation.cutoff"),
    ({"outcome": {}}, "outcome.column: required key is missing"),
    ({"typo_key": 1}, "typo_key: unknown key"),
    ({"models": {"nomogram_predictors": ["grade"]}}, "not listed in clinical_predictors"),
    ({"evaluation": {"optimism_deep": "frozen"}}, "evaluation.optimism_deep: must be one of"),
    ({"evaluation": {"optimism_comparison": "maybe"}}, "evaluation.optimism_comparison"),
    ({"deep": {"enabled": True, "config": {"epochz": 3}}},
     "deep.config: invalid network settings: epochz: Extra inputs are not permitted"),
    ({"deep": {"enabled": True, "config": {"crop_size": 20, "channels": [8, 16, 32]}}},
     "deep.config: invalid network settings"),
])
def test_errors_name_the_key(over: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        study_from_dict(_minimal(**over))
    assert needle in str(exc.value)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        study_from_dict(_minimal(seed="x", selection={"n_folds": 1}))
    msg = str(exc.value)
    assert "seed:" in msg and "selection.n_folds:" in msg


def test_load_study_checks_files(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("patient_id,cohort,y\n")
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(_minimal()))
    with pytest.raises(MissingInputError, match="manifest: file not found: m.csv"):
        load_study(f)
    (tmp_path / "m.csv").write_text("x\n")
    s = load_study(f)
    assert s.path(s.manifest) == tmp_path / "m.csv"
    with pytest.raises(MissingInputError):
        load_study(tmp_path / "nope.yaml")
    f.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_study(f)


def test_parse_subgroup_grammar() -> None:
    r = parse_subgroup("tumour_size_mm < 20")
    assert (r.column, r.op, r.value) == ("tumour_size_mm", "<", 20.0)
    assert r.label == "tumour_size_mm < 20"
    assert r.complement_label == "tumour_size_mm >= 20"
    df = pd.DataFrame({"tumour_size_mm": [10.0, 20.0, None, 35.0], "sex": ["F", "M", "F", None]})
    assert r.mask(df).tolist() == [True, False, False, False]
    assert r.complement_mask(df).tolist() == [False, True, False, True]
    s = parse_subgroup("sex == 'F'")
    assert s.mask(df).tolist() == [True, False, True, False]
    for bad in ["a < b", "1 < a", "a <", "a < 1; import os", "a in (1, 2)", "a < inf"]:
        with pytest.raises(ConfigError):
            parse_subgroup(bad)
    with pytest.raises(ConfigError, match="not in the clinical table"):
        parse_subgroup("nope < 1").mask(df)


def test_builtin_study_is_package_data_and_analysis_links_to_it() -> None:
    from radval.workflow._demo import builtin_study_text

    link = ROOT / "analysis" / "study.yaml"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "src" / "radval" / "data" / "builtin_study.yaml").resolve()
    assert link.read_text() == builtin_study_text()
    s = load_study(ROOT / "analysis" / "study.yaml", check_files=False)
    assert [c.name for c in s.cohorts] == ["centre1_train", "centre1_test", "centre2"]
    assert [p.name for p in s.clinical_model_predictors()] == [
        "age_years", "sex", "tumour_size_mm"]
    assert {p.name for p in s.nomogram_model_predictors()} == {
        "grade", "vascular_invasion", "perineural_invasion"}
    assert s.subgroups[0].rule.label == "tumour_size_mm < 20"


def test_inline_network_settings_and_optimism_options() -> None:
    s = study_from_dict(_minimal(deep={"enabled": True, "config": {"epochs": 3}}))
    assert s.deep.config == {"epochs": 3}
    assert s.evaluation.optimism_deep == "retrain"      # the rigorous default
    assert s.evaluation.optimism_comparison is True
    s = study_from_dict(_minimal(evaluation={"optimism_deep": "fixed",
                                             "optimism_comparison": False}))
    assert s.evaluation.optimism_deep == "fixed" and not s.evaluation.optimism_comparison


def test_builtin_study_retrains_its_network_in_the_optimism_resamples() -> None:
    from radval.features.deep import DeepConfig as NetworkConfig

    s = load_study(ROOT / "analysis" / "study.yaml", check_files=False)
    assert s.deep.enabled and isinstance(s.deep.config, dict)
    NetworkConfig(**s.deep.config)   # valid network settings
    assert s.evaluation.optimism >= 200
    assert s.evaluation.optimism_deep == "retrain" and s.evaluation.optimism_comparison
