"""Data dictionary (Frictionless Table Schema) loading and table validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radval.exceptions import ConfigError, MissingInputError, SchemaError
from radval.io.schema import (
    SCHEMA_NAMES,
    check_table,
    load_schema,
    post_operative_fields,
    validate_table,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shipped_copy_identical_to_repository(name: str) -> None:
    repo = (REPO / "data-dictionary" / f"{name}.yaml").read_bytes()
    shipped = (REPO / "src" / "radval" / "data" / "dictionary" / f"{name}.yaml").read_bytes()
    assert repo == shipped
    s = load_schema(name)
    assert s.name == name and s.fields


def test_clinical_timing_keys() -> None:
    assert set(post_operative_fields("clinical")) == {"grade", "vascular_invasion",
                                                      "perineural_invasion"}
    s = load_schema("clinical")
    assert s.field("ln_metastasis")["timing"] == "outcome"
    assert s.field("tumour_size_mm")["unit"] == "mm"
    assert s.primary_key == ("patient_id",)


def _clinical() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["a1", "a2", "a3"], "cohort": ["training"] * 3,
        "age_years": [55, 61.5, 70], "sex": ["F", "M", "F"], "tumour_size_mm": [20, 31, 12],
        "grade": [1, 2, 3], "vascular_invasion": [0, 1, 0], "perineural_invasion": [1, 1, 0],
        "ln_metastasis": [0, 1, 0], "dfs_months": [12.5, 30, 4], "dfs_event": [1, 0, 1]})


def test_valid_table_has_no_errors() -> None:
    assert validate_table(_clinical(), "clinical") == []
    check_table(_clinical(), "clinical")


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("sex", "X", "enum"),
    ("age_years", 7, "minimum"),
    ("tumour_size_mm", 250, "maximum"),
    ("grade", 2.5, "type"),
    ("age_years", "old", "type"),
    ("patient_id", "a 2", "pattern"),
    ("ln_metastasis", None, "required"),
])
def test_each_rule_names_row_column_value(column: str, value: object, rule: str) -> None:
    df = _clinical().astype(object)
    df.loc[1, column] = value
    errors = validate_table(df, "clinical")
    assert len(errors) == 1
    e = errors[0]
    assert (e["row"], e["column"], e["rule"], e["table"]) == (2, column, rule, "clinical")
    assert f"row 2, column {column!r}" in e["message"]


def test_unique_primary_key_and_missing_column() -> None:
    df = _clinical()
    df.loc[2, "patient_id"] = "a1"
    rules = {(e["row"], e["rule"]) for e in validate_table(df, "clinical")}
    assert rules == {(3, "unique"), (3, "primaryKey")}
    errors = validate_table(_clinical().drop(columns="sex"), "clinical")
    assert [(e["row"], e["column"], e["rule"]) for e in errors] == [(None, "sex",
                                                                     "missing_column")]
    # An optional column may be absent; an empty optional cell is fine.
    df = _clinical().drop(columns="grade")
    df.loc[0, "dfs_months"] = None
    assert validate_table(df, "clinical") == []


def test_csv_cells_are_typed_by_the_schema(tmp_path: Path) -> None:
    p = tmp_path / "clinical.csv"
    _clinical().to_csv(p, index=False)
    assert validate_table(p, "clinical") == []
    text = p.read_text().replace("a2,training,61.5,M", "a2,training,NA,M")
    p.write_text(text)
    errors = validate_table(p, "clinical")
    assert [(e["row"], e["column"], e["rule"]) for e in errors] == [(2, "age_years",
                                                                     "required")]
    with pytest.raises(SchemaError) as info:
        check_table(p, "clinical")
    assert info.value.errors[0]["column"] == "age_years"
    assert "row 2, column 'age_years'" in str(info.value)


def test_field_patterns_of_features_table() -> None:
    df = pd.DataFrame({"patient_id": ["a"], "reader": ["1"], "cohort": ["t"],
                       "radiomics_original_glcm_Contrast": [1.5],
                       "radiomics_wavelet-LLH_glcm_Idm": ["x"], "deep_0": [0.1]})
    errors = validate_table(df, "features")
    assert [(e["column"], e["rule"]) for e in errors] == [
        ("radiomics_wavelet-LLH_glcm_Idm", "type")]


def test_bad_schema_files(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError):
        load_schema(tmp_path / "nope.yaml")
    p = tmp_path / "s.yaml"
    p.write_text("fields:\n  - name: a\n    type: float\n")
    with pytest.raises(ConfigError, match="unknown type 'float'"):
        load_schema(p)
    p.write_text("fields:\n  - name: a\n    timing: later\n")
    with pytest.raises(ConfigError, match="timing 'later'"):
        load_schema(p)
    p.write_text("fields:\n  - name: a\n    type: boolean\n")
    errs = validate_table(pd.DataFrame({"a": ["true", "0", "maybe"]}), p)
    assert [(e["row"], e["rule"]) for e in errs] == [(3, "type")]
