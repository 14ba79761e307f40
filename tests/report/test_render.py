"""Render reports as a reader would open them: the HTML in Chromium (the DOM), the PDF
pages rendered and their text extracted, the DOCX read with python-docx; reproducible
builds, the staged report folder and ``radval report --check``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from radval.exceptions import InputError, MissingInputError

from .fixtures import LABELS, make_run_dir

pytest.importorskip("pypandoc")
pytest.importorskip("typst")
docx = pytest.importorskip("docx")

pytestmark = pytest.mark.render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")
UNRESOLVED = ("@fig-", "@tbl-", "@sec-", "??", "missing reference", "[[cite",
              "[[references", "could not be drawn", "could not be written")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _dump_dom(html: Path, tmp_path: Path) -> str:
    """The DOM after Chromium loaded the page (or the raw file without Chromium)."""
    if CHROMIUM is None:
        return html.read_text("utf-8")
    profile = tmp_path / f"chromium-profile-{html.stem}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", html.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def visible_text(dom: str) -> str:
    import html

    dom = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"', "", dom))
    return re.sub(r"\s+", " ", html.unescape(text))


def check_html(html: Path, tmp_path: Path) -> str:
    dom = _dump_dom(html, tmp_path)
    text = visible_text(dom)
    for bad in UNRESOLVED:
        assert bad not in text, f"{bad!r} left in {html.name}"
    imgs = re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", dom)
    for src in imgs:   # self-contained: every image is an embedded, decodable data: URI
        assert src.startswith("data:image/"), src[:80]
        head, _, payload = src.partition(",")
        raw = base64.b64decode(payload) if head.endswith(";base64") else payload.encode()
        assert raw[:4] == b"\x89PNG" or b"<svg" in raw[:2000], head
    return dom


def check_pdf(pdf: Path, tmp_path: Path, min_pages: int) -> str:
    if PDFTOTEXT is None or PDFTOPPM is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) not installed")
    text = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for bad in UNRESOLVED:
        assert bad not in text, f"{bad!r} left in {pdf.name}"
    out = tmp_path / f"pages-{pdf.stem}"
    out.mkdir(exist_ok=True)
    subprocess.run([PDFTOPPM, "-r", "30", "-png", str(pdf), str(out / "p")], check=True)
    pages = sorted(out.glob("p-*.png"))
    assert len(pages) >= min_pages
    assert len(pages) == text.count("\f")  # one form feed per page
    return text


def check_docx(path: Path, prefix: str = "") -> tuple[Any, list[str]]:
    """Captions numbered and above their table, header rows repeated, rows kept whole,
    caption numbers as Word SEQ fields, figure captions below their figure."""
    d = docx.Document(str(path))
    body = "\n".join(p.text for p in d.paragraphs)
    for bad in UNRESOLVED:
        assert bad not in body, f"{bad!r} left in {path.name}"
    captions = [p.text for p in d.paragraphs if p.style.name == "Table Caption"]
    assert len(captions) == len(d.tables)
    assert all(re.match(rf"Table {prefix}{i + 1}:", c) for i, c in enumerate(captions)), captions
    children = list(d.element.body)
    for tbl in d.tables:
        el = tbl._tbl
        prev = children[children.index(el) - 1]
        while prev.tag.endswith("bookmarkStart"):
            prev = children[children.index(prev) - 1]
        style = prev.find(f"{W}pPr/{W}pStyle")
        assert style is not None and style.get(f"{W}val") == "TableCaption"   # above
        ppr = prev.find(f"{W}pPr")
        assert ppr.find(f"{W}keepNext") is not None
        rows = el.findall(f"{W}tr")
        assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None           # repeats
        assert all(r.find(f"{W}trPr/{W}cantSplit") is not None for r in rows)
        assert el.find(f"{W}tblPr/{W}tblBorders/{W}top").get(f"{W}val") == "single"
    instr = [t.text for t in d.element.body.iter(f"{W}instrText")]
    figs = [p for p in d.paragraphs if p.style.name == "Image Caption"]
    assert sum("SEQ Table" in i for i in instr) == len(captions)
    assert sum("SEQ Figure" in i for i in instr) == len(figs)
    for p in figs:   # a figure caption follows its figure
        prev = p._p.getprevious()
        assert prev is not None and prev.find(f"{W}pPr/{W}pStyle").get(f"{W}val") == \
            "CaptionedFigure"
        assert p.text.startswith(f"Figure {prefix}")
    return d, captions


# ------------------------------------------------------------------- the crossref filter
def test_crossref_filter_on_a_small_document(tmp_path: Path) -> None:
    from radval.report import render_document

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(PNG)
    (tmp_path / "doc.qmd").write_text("""---
title: "Filter test"
---
# Intro {#sec-intro}

See @fig-a, @tbl-b and @sec-next; a real citation [@smith2020] stays alone; the other
document: [Supplementary Table S2](supplement.html#tbl-z){.xref-ext}.

::: {.callout-warning}
## Careful
Body of the callout.
:::

![A figure.](figures/a.png){#fig-a}

| x | y |
|:--|:--|
| 1 | 2 |

: A table. {#tbl-b}

::: {.table-note}
^a^ A note.
:::

# Next {#sec-next}

Back to @sec-intro.
""")
    out = render_document(tmp_path / "doc.qmd", formats=("html", "docx", "pdf"))
    html = out["html"].read_text()
    assert '<a href="#fig-a">Figure 1</a>' in html
    assert '<a href="#tbl-b">Table 1</a>' in html
    assert '<a href="#sec-next">Section 2</a>' in html
    assert 'href="supplement.html#tbl-z"' in html
    assert "Figure 1:" in html and "Table 1:" in html
    assert 'class="callout callout-warning"' in html and "Careful" in html
    assert 'class="table-note"' in html
    assert "@fig-" not in html and "@tbl-" not in html
    typ = (tmp_path / "doc.typ").read_text()
    assert "@fig-a" in typ and "@tbl-b" in typ and "#cite" not in typ.replace("smith2020", "")
    d = docx.Document(str(out["docx"]))
    styles = [p.style.name for p in d.paragraphs]
    assert "Callout" in styles and "Table Note" in styles
    texts = "\n".join(p.text for p in d.paragraphs)
    assert "Figure 1" in texts and "Section 2" in texts and "@sec-" not in texts
    assert "Supplementary Table S2" in texts
    assert not any(h.address for p in d.paragraphs for h in p.hyperlinks
                   if "supplement.html" in (h.address or ""))
    if PDFTOTEXT:
        pdf_text = subprocess.run([PDFTOTEXT, str(out["pdf"]), "-"], capture_output=True,
                                  text=True, check=True).stdout
        assert "Figure 1" in pdf_text and "Table 1" in pdf_text and "Careful" in pdf_text
        assert "Supplementary Table S2" in pdf_text


def test_supplement_numbering_everywhere(tmp_path: Path) -> None:
    from radval.report import render_document

    (tmp_path / "s.qmd").write_text("""---
title: "S"
radval-prefix: "S"
---
# One {#sec-one}

@tbl-x and @sec-one.

| x |
|:--|
| 1 |

: X. {#tbl-x}
""")
    out = render_document(tmp_path / "s.qmd", formats=("html", "docx", "pdf"))
    html = " ".join(out["html"].read_text().split())
    assert '<a href="#tbl-x">Table S1</a>' in html and ">Section S1</a>" in html
    check_docx(out["docx"], prefix="S")
    if PDFTOTEXT:
        text = subprocess.run([PDFTOTEXT, str(out["pdf"]), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Table S1" in text and "S1 One" in text.replace("\n", " ")


# -------------------------------------------------------------- the report of a full run
@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The labelled four-cohort run, rendered once in every format."""
    from radval.report import render_report

    tmp = tmp_path_factory.mktemp("full")
    run = make_run_dir(tmp, labels=True)
    t0 = time.perf_counter()
    out = render_report(run)
    return {"run": run, "out": out, "seconds": time.perf_counter() - t0, "tmp": tmp}


@pytest.mark.slow
def test_full_report_html(rendered: dict[str, Any]) -> None:
    out, tmp = rendered["out"], rendered["tmp"]
    print(f"full fixture report (2 documents x 3 formats) in {rendered['seconds']:.1f} s")
    doms = {}
    for key, qmd in (("html", "qmd"), ("supplement_html", "supplement_qmd")):
        dom = check_html(out[key], tmp)
        source = out[qmd].read_text()
        figs = re.findall(r"\{#(fig-[a-z0-9-]+)", source)
        assert len(re.findall(r"<img", dom)) == len(figs) >= 5   # every figure present
        for fig in figs:
            assert f'id="{fig}"' in dom, fig
        doms[key] = dom
    # links into the other document land on an element of it
    for key, other in (("html", "supplement_html"), ("supplement_html", "html")):
        targets = re.findall(r'href="(?:report|supplement)\.html#([a-z0-9-]+)"', doms[key])
        assert targets, key
        for t in targets:
            assert f'id="{t}"' in doms[other], (key, t)
    main_text = visible_text(doms["html"])
    assert "Supplementary Table S" in main_text and "Supplementary Section S" in main_text
    assert "of the main report" in visible_text(doms["supplement_html"])
    # no raw column name, code, model or cohort name where the study file labels it
    shown = main_text + visible_text(doms["supplement_html"])
    raw_names = [n for n in [*LABELS["variables"], *LABELS["cohorts"]] if "_" in n]
    assert len(raw_names) == 5
    for name in [*raw_names, "female", "male", "Combined nomogram"]:
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", shown), name
    for label in ("Age, years", "Lymph-node metastasis", "External cohort A", "Female",
                  "Radiomics nomogram", "Tumour size < 20 mm"):
        assert label in shown, label
    for needle in ("Welch's one-way ANOVA", "TRIPOD+AI", "CLEAR checklist version 1.0",
                   "METRICS version 1.0", "Insights Imaging 2023;14:75",
                   "Insights Imaging 2024;15:8", "Radiomics Quality Score", "IBSI"):
        assert needle in shown, needle


@pytest.mark.slow
def test_full_report_pdf(rendered: dict[str, Any]) -> None:
    out, tmp = rendered["out"], rendered["tmp"]
    main = check_pdf(out["pdf"], tmp, min_pages=5)
    supp = check_pdf(out["supplement_pdf"], tmp, min_pages=8)
    assert main.count("\f") < supp.count("\f")
    n_main = len(re.findall(r"\{#tbl-", out["qmd"].read_text()))
    n_supp = len(re.findall(r"\{#tbl-", out["supplement_qmd"].read_text()))
    flat_main, flat_supp = " ".join(main.split()), " ".join(supp.split())
    for i in range(1, n_main + 1):
        assert f"Table {i}:" in flat_main, i
    for i in range(1, n_supp + 1):
        assert f"Table S{i}:" in flat_supp, i
    assert "Supplementary Table S" in flat_main and "of the main report" in flat_supp
    for needle in ("Kaplan-Meier", "Holm", "Lymph-node metastasis", "Welch"):
        assert needle in flat_main, needle


@pytest.mark.slow
def test_full_report_docx(rendered: dict[str, Any]) -> None:
    out = rendered["out"]
    d, captions = check_docx(out["docx"])
    assert len(d.tables) == len(re.findall(r"\{#tbl-", out["qmd"].read_text()))
    perf = next(t for t in d.tables if t.rows[0].cells[0].text == "Cohort"
                and "AUC (95% CI)" in [c.text for c in t.rows[0].cells])
    results = json.loads((rendered["run"] / "results.json").read_text())
    n_perf = sum(r["subgroup"] == "all" for r in results["performance"])
    assert len(perf.rows) == n_perf + 1
    assert any(p.style.name == "Callout" for p in d.paragraphs)
    assert any(p.style.name == "Table Note" for p in d.paragraphs)
    s, _ = check_docx(out["supplement_docx"], prefix="S")
    assert len(s.tables) == len(re.findall(r"\{#tbl-", out["supplement_qmd"].read_text()))
    # figures embedded at 300 dpi
    with zipfile.ZipFile(out["docx"]) as z:
        pngs = [n for n in z.namelist() if n.endswith(".png")]
        assert pngs
        for n in pngs:
            data = z.read(n)
            i = data.index(b"pHYs")
            ppm = int.from_bytes(data[i + 4:i + 8], "big")
            assert round(ppm * 0.0254) == 300, n
    report = rendered["run"] / "report"
    assert (report / "tables" / "tbl-performance.csv").is_file()
    for ext in ("svg", "pdf", "png"):
        assert (report / "figures" / f"fig-roc.{ext}").is_file()


# ------------------------------------------------------------------ other report shapes
def test_minimal_run_renders_everywhere(tmp_path: Path) -> None:
    """One cohort, one model, no selection or Table 1."""
    from radval.report import render_report

    run = make_run_dir(tmp_path, minimal=True)
    out = render_report(run, formats="html,docx,pdf")
    assert {"html", "docx", "pdf", "qmd", "supplement_html"} <= set(out)
    assert out["qmd"].parent == run / "report"
    dom = check_html(out["html"], tmp_path)
    assert len(re.findall(r"<img", dom)) >= 3
    assert "not part of this run" in check_html(out["supplement_html"], tmp_path).lower()
    check_pdf(out["pdf"], tmp_path, min_pages=2)
    d, captions = check_docx(out["docx"])
    headers = {tuple(c.text for c in t.rows[0].cells) for t in d.tables}
    assert any("AUC (95% CI)" in h for h in headers)
    assert {p.name for p in run.iterdir()} == {"results.json", "predictions.parquet",
                                               "run.json", "report"}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix in (".html", ".docx", ".pdf")
            and p.stem in ("report", "supplement")}


@pytest.mark.slow
def test_builds_are_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same results twice give byte-identical HTML, DOCX and PDF; another
    SOURCE_DATE_EPOCH changes only the marked build date."""
    from radval.report import render_report

    run = make_run_dir(tmp_path, minimal=True)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")   # 2026-05-28 20:26 UTC
    render_report(run)
    first = _digests(run / "report")
    html1 = (run / "report" / "report.html").read_text()
    render_report(run)
    assert _digests(run / "report") == first
    assert len(first) == 6
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")   # 2026-09-21 14:13 UTC
    render_report(run, formats="html")
    html2 = (run / "report" / "report.html").read_text()
    assert html1 != html2
    assert "Built 2026-05-28 20:26 UTC" in html1 and "Built 2026-09-21 14:13 UTC" in html2
    assert html1.replace("2026-05-28 20:26", "X") == html2.replace("2026-09-21 14:13", "X")


def test_failed_render_keeps_the_previous_report(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.exceptions import RadvalError
    from radval.report import render, render_report

    run = make_run_dir(tmp_path, minimal=True)
    render_report(run, formats="html")
    before = {p.relative_to(run): p.read_bytes() for p in (run / "report").rglob("*")
              if p.is_file()}

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RadvalError("pandoc failed (simulated)")

    monkeypatch.setattr(render, "render_document", fail)
    with pytest.raises(RadvalError, match="simulated"):
        render_report(run, formats="html")
    after = {p.relative_to(run): p.read_bytes() for p in (run / "report").rglob("*")
             if p.is_file()}
    assert after == before                       # the previous report, complete
    assert sorted(p.name for p in run.iterdir()) == ["predictions.parquet", "report",
                                                     "results.json", "run.json"]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    monkeypatch.undo()
    with pytest.raises(InputError, match="no radval report"):
        render_report(run, formats="html", out_dir=other)
    assert (other / "notes.txt").read_text() == "mine"


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from radval.cli import main

    run = make_run_dir(tmp_path, minimal=True)
    code = main(["report", str(run), "--format", "html", "--out", str(tmp_path / "o"),
                 "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    # the summary names files relative to the folders on the command line (no absolute
    # path in any output)
    outputs = payload["summary"]["outputs"]
    assert payload["ok"] and outputs["html"] == "o/report.html"
    assert outputs["supplement_html"] == "o/supplement.html"
    assert (tmp_path / "o" / "report.html").is_file()
    assert (tmp_path / "o" / "supplement.html").is_file()
    assert main(["report", str(tmp_path / "nope")]) == 66
    assert main(["report", str(run), "--format", "odt"]) == 65


def test_errors(tmp_path: Path) -> None:
    from radval.report import render_document, render_report

    with pytest.raises(MissingInputError, match="does not exist"):
        render_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInputError, match="results.json"):
        render_report(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="holds no complete run"):  # no run.json
        render_report(tmp_path / "bad")
    from radval.workflow._outputs import RunFolder

    folder = RunFolder(tmp_path / "bad")
    stage = folder.stage()
    (stage / "results.json").write_text("[1, 2]")
    folder.commit(stage, steps=["select", "fit", "evaluate"])
    with pytest.raises(InputError, match="JSON object"):
        render_report(tmp_path / "bad")
    with pytest.raises(InputError, match="'formats' parameter of render_document"):
        render_document(tmp_path / "x.qmd", formats=("rtf",))
    with pytest.raises(MissingInputError):
        render_document(tmp_path / "x.qmd", formats=("html",))


def check_real_run_report(src: Path, tmp_path: Path) -> None:
    """Render the report of a real pipeline run (copied, so the source stays untouched)
    and check it as a reader would.  Called by tests/workflow/test_pipeline_e2e.py on the
    small built-in study's run."""
    from radval.report import render_report

    run = tmp_path / "run"
    # the whole run folder (run.json and the files it records), without the caches
    shutil.copytree(src, run, ignore=shutil.ignore_patterns(".cache", "deep", "report"))
    out = render_report(run)
    for key, qmd, prefix in (("", "qmd", ""), ("supplement_", "supplement_qmd", "S")):
        source = out[qmd].read_text()
        dom = check_html(out[f"{key}html"], tmp_path)
        assert len(re.findall(r"<img", dom)) == len(re.findall(r"\{#fig-", source))
        d, _ = check_docx(out[f"{key}docx"], prefix=prefix)
        assert len(d.tables) == len(re.findall(r"\{#tbl-", source))
    text = check_pdf(out["pdf"], tmp_path, min_pages=6)
    assert "Supplementary Table S" in " ".join(text.split())
    assert "TRIPOD+AI" in check_pdf(out["supplement_pdf"], tmp_path, min_pages=8)


def test_pooled_report_is_a_journal_docx(tmp_path: Path) -> None:
    """The pooled report: Word tables with numbered captions above them and repeated
    header rows, forest plots at 300 dpi with the log axis of O/E legible, a staged folder."""
    import numpy as np

    from radval.pool.pooling import pool_shares
    from radval.pool.share import build_share, write_share

    rng = np.random.default_rng(11)
    paths = []
    for i in range(3):
        n = 150 + 20 * i
        lp = rng.normal(-0.6, 1.0 + 0.1 * i, size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.2 * i + 0.9 * lp)))).astype(int)
        doc = build_share(y, 1 / (1 + np.exp(-lp)), site=f"site{i}", cutoff=0.35,
                          signature_sha256="ab" * 32)
        paths.append(write_share(tmp_path / f"share_{i}.json", doc))
    out = pool_shares(paths, out=tmp_path / "pooled", report_formats=("html", "docx"))
    report = tmp_path / "pooled" / "report"
    assert {p.name for p in report.iterdir()} >= {"pooled.qmd", "pooled.html", "pooled.docx"}
    assert not (tmp_path / "pooled" / ".report.staging").exists()
    d, captions = check_docx(report / "pooled.docx")
    assert len(captions) == 2
    # one captioned forest plot per pooled measure: AUC, slope, CITL, O/E, calibration
    # intercept and the net benefit at the thresholds the sites share
    forests = list((tmp_path / "pooled" / "figures").glob("forest_*.png"))
    assert len(forests) >= 5 and "forest_auc.png" in {f.name for f in forests}
    assert len([p for p in d.paragraphs if p.style.name == "Image Caption"]) == len(forests)
    assert "Built " in check_html(report / "pooled.html", tmp_path)
    png = (tmp_path / "pooled" / "figures" / "forest_o_e.png").read_bytes()
    ppm = int.from_bytes(png[png.index(b"pHYs") + 4:png.index(b"pHYs") + 8], "big")
    assert round(ppm * 0.0254) == 300
    svg = (tmp_path / "pooled" / "figures" / "forest_o_e.svg").read_text()
    assert "10^" not in svg and "mathdefault" not in svg
    assert out["paths"]["docx"] == "report/pooled.docx"


def test_the_pandoc_shipped_with_pypandoc_binary_is_used_by_its_path(monkeypatch) -> None:
    """Not pypandoc's pick by version: a system pandoc 2.x on PATH (no typst writer) must
    not be chosen when asking the shipped binary for its version happens to fail."""
    import pypandoc

    from radval.report import render

    monkeypatch.delenv("PYPANDOC_PANDOC", raising=False)

    def broken() -> str:
        raise AssertionError("pypandoc's search must not be needed")

    monkeypatch.setattr(pypandoc, "get_pandoc_path", broken)
    path = Path(render._pandoc())
    assert path.parent == Path(pypandoc.__file__).resolve().parent / "files"
    monkeypatch.setenv("PYPANDOC_PANDOC", "/opt/my/pandoc")
    assert render._pandoc() == "/opt/my/pandoc"
