"""Foundation: exceptions, validation messages, result objects, provenance, multitest."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from radval import exceptions as ex
from radval._provenance import atomic_write_json, sha256_bytes, sha256_file, sha256_path
from radval._results import Result, jsonable
from radval._validation import (
    check_binary,
    check_choice,
    check_confidence_level,
    check_consistent_length,
    check_positive_int,
    check_probabilities,
    check_scores,
)


def test_error_tree_dual_inheritance() -> None:
    assert issubclass(ex.InputError, ValueError)
    assert issubclass(ex.SchemaError, ex.InputError)
    assert issubclass(ex.ConfigError, ValueError)
    assert issubclass(ex.MissingInputError, FileNotFoundError)
    assert issubclass(ex.NotFittedError, AttributeError)
    assert issubclass(ex.UndefinedMetricWarning, UserWarning)


def test_exit_codes_distinct() -> None:
    codes = [ex.EXIT_OK, ex.EXIT_ERROR, ex.EXIT_USAGE, ex.EXIT_PARTIAL, ex.EXIT_DATAERR,
             ex.EXIT_NOINPUT, ex.EXIT_SOFTWARE, ex.EXIT_CONFIG]
    assert len(set(codes)) == len(codes)
    assert ex.exit_code_for(ex.ConfigError("x")) == ex.EXIT_CONFIG
    assert ex.exit_code_for(ex.SchemaError("x")) == ex.EXIT_DATAERR
    assert ex.exit_code_for(ex.MissingInputError("x")) == ex.EXIT_NOINPUT
    assert ex.exit_code_for(FileNotFoundError("x")) == ex.EXIT_NOINPUT
    assert ex.exit_code_for(ex.PartialFailureError("x")) == ex.EXIT_PARTIAL
    assert ex.exit_code_for(RuntimeError("x")) == ex.EXIT_ERROR


def test_schema_error_carries_records() -> None:
    err = ex.SchemaError("bad", [{"row": 3, "column": "age_years", "rule": "minimum"}])
    assert err.errors[0]["column"] == "age_years"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([0, 1, 2], "binary with values 0 and 1"),
        ([0, 1, np.nan], "free of NaN"),
        ([1, 1, 1], "holding both classes"),
        ([], "non-empty"),
        ([[0, 1], [1, 0]], "1-d array"),
        ("abc", "1-d array of numbers"),
    ],
)
def test_check_binary_messages(value: object, fragment: str) -> None:
    with pytest.raises(ex.InputError, match=fragment) as info:
        check_binary(value, caller="roc_auc")
    assert "The 'y_true' parameter of roc_auc must be" in str(info.value)


def test_check_binary_accepts_bool_and_column() -> None:
    out = check_binary(np.array([[True], [False]]), caller="f")
    assert out.dtype == np.int64
    assert out.tolist() == [1, 0]
    assert check_binary([1, 1], caller="f", require_both=False).tolist() == [1, 1]


def test_check_scores_and_probabilities() -> None:
    with pytest.raises(ex.InputError, match="finite"):
        check_scores([0.1, np.inf], caller="f")
    assert np.isnan(check_scores([np.nan], caller="f", allow_nan=True)[0])
    with pytest.raises(ex.InputError, match=r"probabilities in \[0, 1\]"):
        check_probabilities([0.2, 1.5], caller="calibration", param="y_prob")
    with pytest.raises(ex.InputError, match="strictly between"):
        check_probabilities([0.0, 0.5], caller="f", open_interval=True)
    assert check_probabilities([0.0, 1.0], caller="f").tolist() == [0.0, 1.0]


def test_other_checks() -> None:
    with pytest.raises(ex.InputError, match="same length"):
        check_consistent_length("f", y_true=[0, 1], y_score=[0.1])
    check_consistent_length("f", a=[1, 2], b=[3, 4])
    for bad in (0, 1, 1.5, "0.9", None):
        with pytest.raises(ex.InputError, match="confidence_level"):
            check_confidence_level(bad, caller="f")
    assert check_confidence_level(0.9, caller="f") == 0.9
    with pytest.raises(ex.InputError, match=r"one of \{'holm', 'bh'\}"):
        check_choice("x", ("holm", "bh"), caller="f", param="adjust")
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ex.InputError, match="integer"):
            check_positive_int(bad, caller="f", param="n_resamples")
    assert check_positive_int(np.int64(5), caller="f", param="n") == 5


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Toy(Result):
    estimate: float
    ci_low: float
    curve: np.ndarray = dataclasses.field(repr=False, compare=False)


def test_result_mixin() -> None:
    r = _Toy(estimate=0.5, ci_low=float("nan"), curve=np.arange(3.0))
    assert r.to_dict() == {"estimate": 0.5, "ci_low": None, "curve": [0.0, 1.0, 2.0]}
    frame = r.to_frame()
    assert list(frame.columns) == ["estimate", "ci_low"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.estimate = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        r.curve[0] = 9.0
    assert "<table" in r._repr_html_()
    json.dumps(r.to_dict(), allow_nan=False)


def test_jsonable_types() -> None:
    out = jsonable({"a": np.float64(1.5), "b": np.int32(2), "c": [np.nan, math.inf], 3: (1,)})
    assert out == {"a": 1.5, "b": 2, "c": [None, None], "3": [1]}


def test_provenance_hashes_and_atomic_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "a.json"
    atomic_write_json(p, {"b": 1, "a": np.float64(0.25)})
    assert json.loads(p.read_text()) == {"a": 0.25, "b": 1}
    assert sha256_file(p) == sha256_bytes(p.read_bytes())
    assert not list(tmp_path.glob(".*tmp"))
    d = tmp_path / "d"
    (d / "s").mkdir(parents=True)
    (d / "s" / "x.txt").write_text("x")
    h1 = sha256_path(d)
    (d / "s" / "x.txt").write_text("y")
    assert sha256_path(d) != h1


def test_import_radval_is_light() -> None:
    code = (
        "import sys, radval, radval.stats, radval.exceptions\n"
        "heavy = [m for m in ('torch', 'radiomics', 'SimpleITK', 'matplotlib', 'sklearn', 'dask')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
