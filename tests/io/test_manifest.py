"""Manifest reading: defaults, relative paths, duplicates, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radval.exceptions import MissingInputError, SchemaError
from radval.io.manifest import prepare_manifest, read_manifest


def _write(tmp_path: Path, text: str, name: str = "manifest.csv") -> Path:
    p = tmp_path / "study" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    p = _write(tmp_path, "patient_id,cohort,image,mask\n"
                         "001,training,img/a.nii.gz,img/a_m.nii.gz\n"
                         "002,external,img/b.nii.gz,img/b_m.nii.gz\n")
    m = read_manifest(p)
    assert m["patient_id"].tolist() == ["001", "002"]  # leading zeros kept
    assert m["reader"].tolist() == ["1", "1"]
    assert m["label"].tolist() == [1, 1]
    assert m["image"].tolist() == ["img/a.nii.gz", "img/b.nii.gz"]
    assert Path(m["image_path"][0]) == (tmp_path / "study" / "img" / "a.nii.gz").resolve()
    assert not m["duplicate"].any()
    assert m.attrs["root"] == str((tmp_path / "study").resolve())


def test_absolute_paths_are_written_relative(tmp_path: Path) -> None:
    img = tmp_path / "study" / "scans" / "a.nii.gz"
    p = _write(tmp_path, f"patient_id,cohort,image,mask,reader,label\n"
                         f"p1,training,{img},scans/a_m.nii.gz,2,3\n")
    m = read_manifest(p)
    assert m["image"][0] == "scans/a.nii.gz"
    assert m["reader"][0] == "2" and m["label"][0] == 3


def test_duplicates_flagged_not_raised(tmp_path: Path) -> None:
    p = _write(tmp_path, "patient_id,cohort,image,mask,reader\n"
                         "p1,t,a.nii,a_m.nii,1\np1,t,a.nii,b_m.nii,2\np1,t,a.nii,c_m.nii,1\n")
    m = read_manifest(p)
    assert m["duplicate"].tolist() == [False, False, True]


def test_parquet_manifest(tmp_path: Path) -> None:
    p = tmp_path / "m.parquet"
    pd.DataFrame({"patient_id": ["p1"], "cohort": ["t"], "image": ["a.nii"],
                  "mask": ["a_m.nii"], "label": [2]}).to_parquet(p)
    m = read_manifest(p)
    assert m["label"].tolist() == [2] and m["reader"].tolist() == ["1"]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv")
    p = _write(tmp_path, "patient_id,image,mask\np1,a.nii,a_m.nii\n")
    with pytest.raises(SchemaError, match="missing required column.*cohort") as info:
        read_manifest(p)
    assert info.value.errors[0]["rule"] == "missing_column"
    p = _write(tmp_path, "patient_id,cohort,image,mask,label\np1,t,a.nii,,x\n")
    with pytest.raises(SchemaError) as info:
        read_manifest(p)
    got = {(e["row"], e["column"], e["rule"]) for e in info.value.errors}
    assert got == {(1, "mask", "required"), (1, "label", "type")}
    with pytest.raises(SchemaError, match="minimum"):
        prepare_manifest(pd.DataFrame({"patient_id": ["p"], "cohort": ["t"], "image": ["a"],
                                       "mask": ["b"], "label": [0]}))
