"""One typed definition per artifact: it validates on write and read, names the field of a
bad file, and generates the data dictionary, which cannot drift from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from radval.contracts import DOCUMENTS, ResultsFile, describe
from radval.exceptions import ContractError, MissingInputError, exit_code_for
from tests.report.fixtures import make_results

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stem", sorted(DOCUMENTS))
def test_data_dictionary_is_generated_from_the_definition(stem: str) -> None:
    committed = (ROOT / "data-dictionary" / f"{stem}.yaml").read_text()
    assert committed == describe(DOCUMENTS[stem]), (
        f"data-dictionary/{stem}.yaml differs from its definition: run "
        "`python -m radval.contracts data-dictionary`")
    doc = yaml.safe_load(committed)
    assert doc["file"] == DOCUMENTS[stem].FILE and doc["fields"]


def test_table_schemas_are_one_file() -> None:
    # the Table Schemas radval validates with ship in the package; the top-level data
    # dictionary links to them instead of holding copies that could drift
    for name in ("manifest", "clinical", "features", "failures", "predictions"):
        link = ROOT / "data-dictionary" / f"{name}.yaml"
        assert link.is_symlink(), name
        assert link.resolve() == (ROOT / "src" / "radval" / "data" / "dictionary" /
                                  f"{name}.yaml").resolve()


def _results() -> dict[str, Any]:
    res, _ = make_results(seed=3)
    return json.loads(json.dumps(res))


def test_results_round_trip_is_exact(tmp_path: Path) -> None:
    data = _results()
    doc = ResultsFile.from_data(data)
    assert doc.to_data() == data
    path = doc.write(tmp_path / "results.json")
    assert ResultsFile.read(path).to_data() == data
    # integers stay integers, floats floats (byte-reproducible files)
    assert json.loads(path.read_text()) == data


def _error(data: Any, tmp_path: Path) -> str:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ContractError) as err:
        ResultsFile.read(path)
    assert exit_code_for(err.value) == 65
    return str(err.value)


def test_a_hand_edited_file_fails_naming_the_field(tmp_path: Path) -> None:
    data = _results()
    data["performance"][3]["auc"] = "0.8"
    assert "performance[3].auc: Input should be a number (got '0.8')" in _error(data, tmp_path)
    data = _results()
    data["calibration"][0]["slop"] = 1.0
    assert "calibration[0].slop: unknown field" in _error(data, tmp_path)
    data = _results()
    del data["cohorts"][1]["events"]
    assert "cohorts[1].events: required field is missing" in _error(data, tmp_path)
    data = _results()
    data["schema_version"] = "2"
    assert "schema_version" in _error(data, tmp_path)
    data = _results()
    data["curves"]["roc"][0]["tpr"] = True   # a boolean is not a number
    assert "curves.roc[0].tpr" in _error(data, tmp_path)


def test_unreadable_files(tmp_path: Path) -> None:
    assert "must hold a JSON object" in _error([], tmp_path)
    assert "required field is missing" in _error({}, tmp_path)
    path = tmp_path / "results.json"
    path.write_text("[" * 200_000 + "0" + "]" * 200_000)   # RecursionError in json
    with pytest.raises(ContractError, match="nested too deeply"):
        ResultsFile.read(path)
    path.write_bytes(b'{"a": \xff}')
    with pytest.raises(ContractError, match="not UTF-8"):
        ResultsFile.read(path)
    path.write_text('{"a": ')
    with pytest.raises(ContractError, match="not valid JSON"):
        ResultsFile.read(path)
    with pytest.raises(MissingInputError):
        ResultsFile.read(tmp_path / "absent.json")


def test_report_refuses_a_results_file_that_is_not_one(tmp_path: Path) -> None:
    from radval.cli import main

    (tmp_path / "results.json").write_text("{}")
    assert main(["report", str(tmp_path), "--format", "html", "-q"]) == 65


def test_study_dictionary_documents_every_study_key() -> None:
    # data-dictionary/study.yaml is written by hand; it must name exactly the keys of the
    # study file's definition (radval.workflow.StudyConfig)
    from pydantic import BaseModel

    from radval.workflow import StudyConfig

    def keys(model: type[BaseModel], prefix: str = "") -> set[str]:
        out = set()
        for name, info in model.model_fields.items():
            if name == "base_dir":
                continue
            out.add(prefix + name)
            ann = info.annotation
            for cand in (ann, *getattr(ann, "__args__", ())):
                if isinstance(cand, type) and issubclass(cand, BaseModel):
                    out |= keys(cand, f"{prefix}{name}.")
                inner = getattr(cand, "__args__", ())
                for c in inner:
                    if isinstance(c, type) and issubclass(c, BaseModel):
                        out |= keys(c, f"{prefix}{name}.")
        return out

    def documented(node: dict[str, Any], prefix: str = "") -> set[str]:
        out = set()
        for name, spec in node.items():
            out.add(prefix + name)
            if not isinstance(spec, dict):
                continue
            sub = spec.get("keys")
            items = spec.get("items")
            if sub is None and isinstance(items, dict) and items and all(
                    isinstance(v, dict) for v in items.values()):
                sub = items  # a list of objects documents its keys under items
            if isinstance(sub, dict):
                out |= documented(sub, f"{prefix}{name}.")
        return out

    doc = yaml.safe_load((ROOT / "data-dictionary" / "study.yaml").read_text())
    assert documented(doc["keys"]) == keys(StudyConfig)
