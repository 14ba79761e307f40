"""Render reports as a reader would open them: HTML in Chromium, PDF pages, DOCX tables."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from radval.exceptions import InputError, MissingInputError

from .fixtures import make_run_dir

pytest.importorskip("pypandoc")
pytest.importorskip("typst")
docx = pytest.importorskip("docx")

pytestmark = pytest.mark.render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")
UNRESOLVED = ("@fig-", "@tbl-", "@sec-", "??", "missing reference")

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _dump_dom(html: Path, tmp_path: Path) -> str:
    """The DOM after Chromium loaded the page (or the raw file without Chromium)."""
    if CHROMIUM is None:
        return html.read_text("utf-8")
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", html.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def check_html(html: Path, tmp_path: Path) -> str:
    dom = _dump_dom(html, tmp_path)
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"', "", dom))
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
    out = tmp_path / "pages"
    out.mkdir(exist_ok=True)
    subprocess.run([PDFTOPPM, "-r", "30", "-png", str(pdf), str(out / "p")], check=True)
    pages = sorted(out.glob("p-*.png"))
    assert len(pages) >= min_pages
    assert len(pages) == text.count("\f")  # one form feed per page
    return text


def check_docx(path: Path) -> tuple[object, list[str]]:
    d = docx.Document(str(path))
    body = "\n".join(p.text for p in d.paragraphs)
    for bad in UNRESOLVED:
        assert bad not in body, f"{bad!r} left in {path.name}"
    captions = [p.text for p in d.paragraphs if p.style.name == "Table Caption"]
    assert len(captions) == len(d.tables)
    assert all(re.match(rf"Table {i + 1}:", c) for i, c in enumerate(captions)), captions
    return d, captions


def test_crossref_filter_on_a_small_document(tmp_path: Path) -> None:
    from radval.report import render_document

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(PNG)
    (tmp_path / "doc.qmd").write_text("""---
title: "Filter test"
---
# Intro {#sec-intro}

See @fig-a, @tbl-b and @sec-next; a real citation [@smith2020] stays alone.

::: {.callout-warning}
## Careful
Body of the callout.
:::

![A figure.](figures/a.png){#fig-a}

| x | y |
|:--|:--|
| 1 | 2 |

: A table. {#tbl-b}

# Next {#sec-next}

Back to @sec-intro.
""")
    out = render_document(tmp_path / "doc.qmd", formats=("html", "docx", "pdf"))
    html = out["html"].read_text()
    assert '<a href="#fig-a">Figure 1</a>' in html
    assert '<a href="#tbl-b">Table 1</a>' in html
    assert '<a href="#sec-next">Section 2</a>' in html
    assert "Figure 1:" in html and "Table 1:" in html
    assert 'class="callout callout-warning"' in html and "Careful" in html
    assert "@fig-" not in html and "@tbl-" not in html
    typ = (tmp_path / "doc.typ").read_text()
    assert "@fig-a" in typ and "@tbl-b" in typ and "#cite" not in typ.replace("smith2020", "")
    d = docx.Document(str(out["docx"]))
    styles = [p.style.name for p in d.paragraphs]
    assert "Callout" in styles
    texts = "\n".join(p.text for p in d.paragraphs)
    assert "Figure 1" in texts and "Section 2" in texts and "@sec-" not in texts
    if PDFTOTEXT:
        pdf_text = subprocess.run([PDFTOTEXT, str(out["pdf"]), "-"], capture_output=True,
                                  text=True, check=True).stdout
        assert "Figure 1" in pdf_text and "Table 1" in pdf_text and "Careful" in pdf_text


def test_minimal_run_renders_everywhere(tmp_path: Path) -> None:
    """A site-validation-like run: one cohort, one model, no selection or Table 1."""
    from radval.report import render_report

    run = make_run_dir(tmp_path, minimal=True)
    out = render_report(run, formats="html,docx,pdf")
    assert {"html", "docx", "pdf", "qmd"} <= set(out)
    assert out["qmd"].parent == run / "report"
    dom = check_html(out["html"], tmp_path)
    assert "not part of this run" in dom.lower()
    assert len(re.findall(r"<img", dom)) >= 3
    check_pdf(out["pdf"], tmp_path, min_pages=3)
    d, captions = check_docx(out["docx"])
    headers = {tuple(c.text for c in t.rows[0].cells) for t in d.tables}
    assert any("AUC (95% CI)" in h for h in headers)


@pytest.mark.slow
def test_full_fixture_report(tmp_path: Path) -> None:
    """Four cohorts, four models, every section; all formats within the time budget."""
    from radval.report import render_report

    run = make_run_dir(tmp_path)
    t0 = time.perf_counter()
    out = render_report(run)
    seconds = time.perf_counter() - t0
    qmd = out["qmd"].read_text()
    n_tables = len(re.findall(r"\{#tbl-", qmd))
    n_figs = len(re.findall(r"\{#fig-", qmd))
    dom = check_html(out["html"], tmp_path)
    assert len(re.findall(r"<img", dom)) == n_figs >= 10
    assert f"Figure {n_figs}" in dom and f"Table {n_tables}" in dom
    text = check_pdf(out["pdf"], tmp_path, min_pages=15)
    for needle in ("TRIPOD+AI", "Radiomics Quality Score", "IBSI", "Kaplan-Meier",
                   f"Figure {n_figs}", "Holm"):
        assert needle in text, needle
    d, captions = check_docx(out["docx"])
    assert len(d.tables) == n_tables
    perf = next(t for t in d.tables if t.rows[0].cells[0].text == "Cohort"
                and "AUC (95% CI)" in [c.text for c in t.rows[0].cells])
    results = json.loads((run / "results.json").read_text())
    n_perf = sum(r["subgroup"] == "all" for r in results["performance"])
    assert len(perf.rows) == n_perf + 1
    assert any(p.style.name == "Callout" for p in d.paragraphs)
    assert (run / "report" / "tables" / "tbl-perf.csv").is_file()
    for ext in ("svg", "pdf", "png"):
        assert (run / "report" / "figures" / f"fig-roc.{ext}").is_file()
    print(f"full fixture report rendered in {seconds:.1f} s")


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from radval.cli import main

    run = make_run_dir(tmp_path, minimal=True)
    code = main(["report", str(run), "--format", "html", "--out", str(tmp_path / "o"),
                 "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    # the summary names files relative to the folders on the command line (no absolute
    # path in any output)
    assert payload["ok"] and payload["summary"]["outputs"]["html"] == "o/report.html"
    assert (tmp_path / "o" / "report.html").is_file()
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
    and check it as a reader would.  Called by tests/models/test_pipeline_e2e.py on the
    small built-in study's run."""
    from radval.report import render_report

    run = tmp_path / "run"
    # the whole run folder (run.json and the files it records), without the caches
    shutil.copytree(src, run, ignore=shutil.ignore_patterns(".cache", "deep", "report"))
    out = render_report(run)
    qmd = out["qmd"].read_text()
    n_tables = len(re.findall(r"\{#tbl-", qmd))
    dom = check_html(out["html"], tmp_path)
    assert len(re.findall(r"<img", dom)) == len(re.findall(r"\{#fig-", qmd))
    text = check_pdf(out["pdf"], tmp_path, min_pages=10)
    assert "TRIPOD+AI" in text
    d, _ = check_docx(out["docx"])
    assert len(d.tables) == n_tables
