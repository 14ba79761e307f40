"""The repository's Quarto project (reports/) equals the packaged templates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
PKG = ROOT / "src" / "radval" / "report"


@pytest.mark.parametrize("name", ["_quarto.yml", "styles.css", "reference.docx",
                                  "preamble.typ", "tripod.yaml", "clear.yaml",
                                  "metrics.yaml"])
def test_reports_folder_matches_templates(name: str) -> None:
    assert (ROOT / "reports" / name).read_bytes() == (PKG / "templates" / name).read_bytes()


def test_filter_copy_matches() -> None:
    assert ((ROOT / "reports" / "filters" / "crossref.lua").read_bytes()
            == (PKG / "filters" / "crossref.lua").read_bytes())


@pytest.mark.parametrize("name", ["clear.yaml", "metrics.yaml"])
def test_checklists_are_in_the_data_dictionary(name: str) -> None:
    assert (ROOT / "data-dictionary" / name).read_bytes() == \
        (PKG / "templates" / name).read_bytes()


def test_tripod_yaml_is_the_data_dictionary_copy() -> None:
    src = (ROOT / "data-dictionary" / "tripod.yaml").read_bytes()
    assert src == (PKG / "templates" / "tripod.yaml").read_bytes()
    items = yaml.safe_load(src)["items"]
    assert len(items) == 52
    main = {str(i["item"]).rstrip("abcdefg") for i in items}
    assert main == {str(k) for k in range(1, 28)}
    assert all(i["fill"] in {"A", "P", "H"} for i in items)


def test_reference_docx_has_callout_style() -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document(str(PKG / "templates" / "reference.docx"))
    names = {s.name for s in d.styles}
    assert {"Callout", "Table Caption", "Image Caption", "Table Note"} <= names
