"""The coding rules shared by development and external validation (radval.io.coding),
and the table reader every user table goes through (radval.io.tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import DataError, InputError, MissingInputError
from radval.io.coding import (
    check_cohort_agreement,
    code_ids,
    code_outcome,
    normalise_label,
    primary_rows,
    reader_key,
)
from radval.io.tables import check_numeric_columns, read_table


def _code(values: list[object], **kw: object) -> list[float]:
    out = code_outcome(pd.Series(values, dtype=object), column="ln", source="clinical table c",
                       **{"positive_label": 1, **kw})
    return [None if np.isnan(v) else v for v in out.tolist()]


@pytest.mark.parametrize(("value", "label"), [
    (1, "1"), (1.0, "1"), (" 1 ", "1"), ("1.0", "1"), (True, "1"), (np.int64(0), "0"),
    (0.5, "0.5"), (" yes\t", "yes"), ("Yes", "Yes"), ("", None), (None, None),
    (float("nan"), None), (pd.NA, None)])
def test_normalise_label(value: object, label: str | None) -> None:
    assert normalise_label(value) == label


def test_outcome_coding_is_invariant_to_spelling() -> None:
    assert _code([1, 0, None, 1]) == [1.0, 0.0, None, 1.0]
    assert _code(["1 ", " 0", "", "1.0"]) == [1.0, 0.0, None, 1.0]
    assert _code([" yes", "no ", "yes"], positive_label="yes") == [1.0, 0.0, 1.0]
    # YAML reads `positive_label: yes` as True: it matches yes/true/1 in any case
    assert _code(["Yes", "No", "yes"][:2], positive_label=True) == [1.0, 0.0]
    # a cohort without events, coded the usual way
    assert _code([0, 0, None]) == [0.0, 0.0, None]
    assert _code(["no", "no"], positive_label="yes", negative_label="no") == [0.0, 0.0]


def test_outcome_with_three_levels_is_an_error_naming_column_levels_and_label() -> None:
    with pytest.raises(DataError) as err:
        _code([0, 1, 2, 1])
    msg = str(err.value)
    assert "'ln'" in msg and "'0', '1', '2'" in msg and "positive label '1'" in msg
    assert "clinical table c" in msg


def test_outcome_without_the_positive_label_is_an_error_not_one_class() -> None:
    with pytest.raises(DataError, match=r"none of which is the positive label.*'no', 'yes'"):
        _code(["yes", "no"])
    with pytest.raises(DataError, match="one level only"):
        _code(["absent", "absent"], positive_label="present")
    assert _code(["no", "no"], positive_label="yes") == [0.0, 0.0]
    with pytest.raises(DataError, match="no non-missing value"):
        _code([None, ""])


def test_outcome_checked_against_both_labels_of_a_bundle() -> None:
    assert _code([1, 0], negative_label=0) == [1.0, 0.0]
    with pytest.raises(DataError, match="'2', which is neither label"):
        _code([1, 0, 2], negative_label=0)
    with pytest.raises(DataError, match="'no', 'yes'"):
        _code(["yes", "no"], negative_label=0)
    labels = code_outcome(pd.Series(["a", "b"]), positive_label="b", column="y",
                          source="t").attrs["labels"]
    assert labels == {"positive": "b", "negative": "a"}


def test_primary_rows_per_patient_in_natural_order() -> None:
    assert sorted(["10", "2", "1", "B", "a"], key=reader_key) == ["1", "2", "10", "a", "B"]
    df = pd.DataFrame({"patient_id": ["p1", "p1", "p2", "p3", "p3", "p4"],
                       "reader": ["2", "1", "2", "B", "A", "10"], "x": range(6)})
    got = primary_rows(df)
    assert got["x"].tolist() == [1, 2, 4, 5]  # order kept; p2 keeps its only reader "2"
    assert primary_rows(df.drop(columns="reader"))["x"].tolist() == [0, 2, 3, 5]


def test_identifiers_are_stripped_and_required() -> None:
    assert code_ids(pd.Series([" a", "b "]), column="patient_id", source="t").tolist() == [
        "a", "b"]
    with pytest.raises(DataError, match="'patient_id' is empty in 1 row.*line.* 3"):
        code_ids(pd.Series(["a", None]), column="patient_id", source="t")


def test_cohort_agreement_names_the_patients() -> None:
    man = pd.DataFrame({"patient_id": ["p1", "p2", "p2"], "cohort": ["dev", "ext", "ext"]})
    clin = pd.DataFrame({"patient_id": ["p1", "p2"], "cohort": ["ext", "ext"]})
    with pytest.raises(DataError, match=r"1 patient\(s\).*p1 \(manifest: dev; clinical: ext\)"):
        check_cohort_agreement({"manifest": man, "clinical": clin})
    within = pd.DataFrame({"patient_id": ["p1", "p1"], "cohort": ["dev", "ext"]})
    with pytest.raises(DataError, match="p1"):
        check_cohort_agreement({"manifest": within})
    check_cohort_agreement({"manifest": man.iloc[1:], "clinical": clin,
                            "features": pd.DataFrame({"patient_id": ["p1"]})})


def test_read_table_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError):
        read_table(tmp_path / "none.csv", what="clinical table")
    with pytest.raises(InputError, match="is a folder"):
        read_table(tmp_path, what="clinical table")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="clinical table empty.csv is empty"):
        read_table(tmp_path / "empty.csv", what="clinical table")
    (tmp_path / "head.csv").write_text("patient_id,y\n")
    with pytest.raises(DataError, match="head.csv has a header but no rows"):
        read_table(tmp_path / "head.csv", what="clinical table")
    (tmp_path / "latin.csv").write_bytes("patient_id,name\np1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv is not UTF-8 text \(byte 0xe9 on line 2\)"):
        read_table(tmp_path / "latin.csv", what="clinical table")
    (tmp_path / "bad.csv").write_text('patient_id,y\np1,"1\n')
    with pytest.raises(DataError, match="bad.csv"):
        read_table(tmp_path / "bad.csv", what="clinical table")
    (tmp_path / "ok.csv").write_text("\ufeffpatient_id , y\np1,1\n")
    with pytest.raises(DataError, match=r"required column\(s\) 'cohort' absent"):
        read_table(tmp_path / "ok.csv", what="clinical table", required=["cohort"])
    df = read_table(tmp_path / "ok.csv", what="clinical table", dtype={"patient_id": str})
    assert list(df.columns) == ["patient_id", "y"] and df.attrs["source"] == "ok.csv"


def test_text_in_a_numeric_feature_column_names_column_and_line() -> None:
    df = pd.DataFrame({"radiomics_a": ["1.5", "2", "oops", None]})
    with pytest.raises(DataError, match=r"'radiomics_a'.*'oops' on file line 4"):
        check_numeric_columns(df, ["radiomics_a"], what="features table f.csv")
    check_numeric_columns(pd.DataFrame({"radiomics_a": ["1", None]}), ["radiomics_a"],
                          what="t")
