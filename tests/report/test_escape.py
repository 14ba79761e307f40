"""radval.report._escape: every target format shows input text literally.

The markdown, YAML and typst checks run the real parsers (pandoc, PyYAML, typst) on
many generated strings, punctuation-heavy on purpose, and compare what they parsed
with the input text.
"""

from __future__ import annotations

import html.parser
import json
import re
import string
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radval.report import tables as T
from radval.report._escape import (
    _plain,
    csv_cell,
    csv_frame,
    html_attr,
    html_text,
    md_identifier,
    md_text,
    mpl_text,
    typst_text,
    yaml_str,
)

HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "```{python}\nimport os; os.system('id')\n```", "{{< include /etc/passwd >}}",
    "$\\input{/etc/passwd}$", "@fig-x", "| a | b |", "line one\nline two\r\n\n# Header",
    "::: {.callout-note}\nx\n:::", "`x`{=html}", "[link](javascript:alert(1))",
    "<http://evil>", "&lt;b&gt; &amp;", "1. not a list", "(a) nor this", "- nor this",
    "--- em -- en ... dots", "'single' \"double\"", "x^2^ H~2~O ~~s~~ *e* _u_ **b**",
    "\\", "trailing \\", "    indented code", "[@cite; @fig-y]", "{#sec-x}", "a\x00b\x07c",
    "=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)", "\u2028sep\u2029", "<!-- c -->",
    "\\(x\\) \\[y\\]", "$$\ny\n$$", "%title", "=== setext", "{{% ref %}}", "<?php ?>",
]

_ALPHABET = st.one_of(st.sampled_from(list(string.punctuation + " \n\t\r0123456789aiIvx")),
                      st.characters(blacklist_categories=("Cs",)))
TEXT = st.text(alphabet=_ALPHABET, min_size=1, max_size=40)


def _pandoc() -> str:
    pypandoc = pytest.importorskip("pypandoc")
    return str(pypandoc.get_pandoc_path())


def _ast(doc: str) -> dict:
    out = subprocess.run([_pandoc(), "-f", "markdown", "-t", "json"], input=doc,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _flat(inlines: list[dict]) -> str | None:
    """Concatenate Str/Space inlines; None when any other node (markup) occurs."""
    out = []
    for node in inlines:
        if node["t"] == "Str":
            out.append(node["c"])
        elif node["t"] == "Space":
            out.append(" ")
        else:
            return None
    # pandoc's `smart` extension turns the space after "x." into a no-break space
    return "".join(out).replace("\xa0", " ")


def _check_paragraphs(texts: list[str]) -> None:
    escaped = [md_text(t) for t in texts]
    keep = [(t, e) for t, e in zip(texts, escaped) if e]
    blocks = _ast("\n\n".join(e for _, e in keep))["blocks"]
    assert len(blocks) == len(keep)
    for (t, _), b in zip(keep, blocks):
        assert b["t"] == "Para" and _flat(b["c"]) == _plain(t), (t, b)


def test_md_text_hostile_strings_are_plain_paragraphs() -> None:
    _check_paragraphs(HOSTILE)
    for t in HOSTILE:
        e = md_text(t)
        assert "\n" not in e and "{{<" not in e and "```" not in e
        bare = re.sub(r"\\.", "", e)  # what is left outside backslash escapes
        assert not set(bare) & set("\\`*_{}[]<>$@~^|\"'&:"), (t, e)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=30))
def test_md_text_renders_literally_property(texts: list[str]) -> None:
    _check_paragraphs(texts)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=2, max_size=12))
def test_pipe_table_cells_and_caption_render_literally(texts: list[str]) -> None:
    df = pd.DataFrame({"Name": texts, texts[0]: list(reversed(texts))})
    doc = T.to_pipe(df, texts[1], "tbl-x")
    blocks = _ast(doc)["blocks"]
    assert len(blocks) == 1 and blocks[0]["t"] == "Table"
    table = blocks[0]["c"]
    caption = table[1][1]
    # a caption of white space only is no caption (pandoc writes none)
    assert (_flat(caption[0]["c"]) if caption else "") == _plain(texts[1])

    def cell_text(cell: list) -> str:
        inner = cell[4]
        if not inner:
            return ""
        assert len(inner) == 1 and inner[0]["t"] == "Plain"
        flat = _flat(inner[0]["c"])
        assert flat is not None, inner
        return flat

    head = [cell_text(c) for c in table[3][1][0][1]]
    assert head == ["Name", _plain(texts[0])]
    body = [[cell_text(c) for c in row[1]] for row in table[4][0][3]]
    assert body == [[_plain(a), _plain(b)] for a, b in zip(texts, reversed(texts))]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_front_matter_title_renders_literally(text: str) -> None:
    doc = f"---\ntitle: {yaml_str(md_text(text))}\n---\n\nbody\n"
    meta = _ast(doc)["meta"]
    if not _plain(text):
        return
    assert meta["title"]["t"] == "MetaInlines"
    assert _flat(meta["title"]["c"]) == _plain(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_yaml_str_round_trips(text: str) -> None:
    doc = f"a: {yaml_str(text)}\nb: 1\n"
    assert "\n" not in yaml_str(text)
    assert yaml.safe_load(doc) == {"a": text, "b": 1}


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.data.append(data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60))
def test_html_text_and_attribute_round_trip(text: str) -> None:
    p = _Collect()
    p.feed(f'<p title="{html_attr(text)}">{html_text(text)}</p>')
    p.close()
    assert p.tags == [("p", {"title": text})]
    assert "".join(p.data) == text


def test_html_attr_keeps_control_characters_inside() -> None:
    p = _Collect()
    value = html_attr('a"\n><script>')
    p.feed(f'<p title="{value}" class="k">x</p>')
    assert p.tags == [("p", {"title": 'a"\n><script>', "class": "k"})]


def _typst_flat(node: object) -> str:
    if isinstance(node, dict):
        if node.get("func") == "space":
            return " "
        if "text" in node:
            return str(node["text"])
        if "children" in node:
            return "".join(_typst_flat(c) for c in node["children"])  # type: ignore[union-attr]
        if "body" in node:
            return _typst_flat(node["body"])
        raise AssertionError(node)
    raise AssertionError(node)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=20))
def test_typst_text_is_literal(tmp_path_factory: pytest.TempPathFactory,
                               texts: list[str]) -> None:
    typst = pytest.importorskip("typst")
    texts = [t for t in texts if _plain(t)] or ["x"]
    src = tmp_path_factory.mktemp("typ") / "q.typ"
    src.write_text("".join(f"#metadata([{typst_text(t)}]) <t{i}>\n"
                           for i, t in enumerate(texts)), "utf-8")
    for i, t in enumerate(texts):
        found = json.loads(typst.query(str(src), f"<t{i}>"))
        assert len(found) == 1
        assert _typst_flat(found[0]["value"]).strip() == _plain(t), t


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("+cmd") == "'+cmd"
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_cell("\t=x") == "'\t=x"
    assert csv_cell("-0.12") == "-0.12"  # a number stays a number
    assert csv_cell("+1e-3") == "+1e-3"
    assert csv_cell(-3.0) == -3.0
    assert csv_cell("plain = text") == "plain = text"
    df = pd.DataFrame({"=evil": ["=HYPERLINK(\"x\")", "ok", None], "n": [-1.5, 2.0, 3.0]})
    path = tmp_path / "t.csv"
    T.write_csv(df, path)
    back = pd.read_csv(path)
    assert list(back.columns) == ["'=evil", "n"]
    assert back.iloc[0, 0] == "'=HYPERLINK(\"x\")" and back.iloc[1, 0] == "ok"
    assert back["n"].tolist() == [-1.5, 2.0, 3.0]
    assert pd.isna(csv_frame(df).iloc[2, 0])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_identifiers_are_slugs_and_distinct(a: str, b: str) -> None:
    ia, ib = md_identifier(a, prefix="fig-lasso-"), md_identifier(b, prefix="fig-lasso-")
    assert re.fullmatch(r"fig-lasso-[a-z0-9-]+", ia)
    assert (ia == ib) == (a == b)
    assert md_identifier(ia) == ia  # idempotent: a label stays the same label


def test_identifier_keeps_plain_labels() -> None:
    assert md_identifier("fig-roc") == "fig-roc"
    assert md_identifier("radiomics", prefix="fig-lasso-") == "fig-lasso-radiomics"
    assert "/" not in md_identifier("../../etc/passwd") and ".." not in md_identifier("..")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_mpl_text_is_never_mathtext(text: str) -> None:
    from matplotlib import cbook

    shown = mpl_text(text)
    assert not cbook.is_math_text(shown)


@pytest.mark.parametrize("text", ["$\\input{/etc/passwd}$", "cost $5 and $6", "$x^2$",
                                  "a\\$b$", "$$", "\\$"])
def test_mpl_text_draws_the_text_itself(text: str) -> None:
    """Drawn with default settings, the escaped label looks exactly like the raw text
    drawn with mathtext switched off."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    def draw(s: str, parse_math: bool) -> np.ndarray:
        fig = plt.figure(figsize=(3, 0.6), dpi=60)
        fig.text(0.02, 0.3, s, parse_math=parse_math)
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba()).copy()
        plt.close(fig)
        return img

    assert np.array_equal(draw(mpl_text(text), True), draw(text, False))


def test_failures_table_cells_never_start_a_formula(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`radval check --failures`: file names from the manifest are text cells."""
    pytest.importorskip("SimpleITK")
    from radval.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.csv").write_text("patient_id,cohort,image,mask\n"
                                    "p1,dev,=1+2.nii.gz,@mask.nii.gz\n")
    assert main(["check", "m.csv", "--failures", "f.csv", "-q", "--json"]) == 4
    fails = pd.read_csv(tmp_path / "f.csv", dtype=str)
    assert set(fails["image"]) == {"'=1+2.nii.gz"} and set(fails["mask"]) == {"'@mask.nii.gz"}
    assert set(fails["patient_id"]) == {"p1"}
