"""Render a report: Quarto when available, else pandoc + Lua filter (+ typst for PDF).

:func:`render_document` is the generic renderer (used for the pooled and site
reports too); :func:`render_report` builds the validation report of one run
directory and renders it.

Without ``quarto`` on PATH:

* HTML: ``pandoc -s --embed-resources --toc --css styles.css`` (self-contained);
* DOCX: ``pandoc --reference-doc reference.docx`` (pipe tables become Word tables);
* PDF: ``pandoc -t typst`` then ``typst.compile`` (typst from PyPI, fonts embedded).

All three pass through ``filters/crossref.lua`` which numbers figures, tables
and sections, resolves ``@fig-``/``@tbl-``/``@sec-`` references and styles
callouts.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from radval._provenance import atomic_write_text
from radval._validation import param_error
from radval.exceptions import MissingInputError, RadvalError

__all__ = ["FORMATS", "build_reference_docx", "render_document", "render_report",
           "template_path"]

logger = logging.getLogger(__name__)

#: Output formats understood by the renderers.
FORMATS = ("html", "docx", "pdf")
_EXT = {"html": "html", "docx": "docx", "pdf": "pdf"}
_SUPPORT_FILES = ("styles.css", "reference.docx", "_quarto.yml", "preamble.typ")


def template_path(name: str) -> Path:
    """Path of a file shipped in ``radval/report/templates`` (or ``filters``)."""
    base = resources.files("radval.report")
    sub = "filters" if name.endswith(".lua") else "templates"
    p = Path(str(base.joinpath(sub).joinpath(name)))
    if not p.exists():
        raise MissingInputError(f"report template {name!r} is missing from the radval "
                                f"installation (looked in {p.parent})")
    return p


def _check_formats(formats: Iterable[str] | str, caller: str) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    out = tuple(dict.fromkeys(str(f).lower() for f in formats))
    bad = [f for f in out if f not in FORMATS]
    if not out or bad:
        raise param_error("formats", caller, f"a non-empty subset of {FORMATS}", list(out))
    return out


def _pandoc() -> str:
    try:
        import pypandoc
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RadvalError("rendering without Quarto needs pypandoc-binary: "
                          "pip install 'radval[report]'") from exc
    return str(pypandoc.get_pandoc_path())


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.stderr.strip():
        for line in proc.stderr.strip().splitlines():
            logger.warning("%s: %s", Path(cmd[0]).name, line)
    if proc.returncode != 0:
        raise RadvalError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}) rendering "
                          f"{cmd[1] if len(cmd) > 1 else ''}: {proc.stderr.strip()[-2000:]}")


def _ensure_support_files(folder: Path) -> None:
    for name in _SUPPORT_FILES:
        target = folder / name
        if not target.exists():
            shutil.copyfile(template_path(name), target)


def _render_quarto(qmd: Path, fmt: str, out: Path) -> Path:
    to = "typst" if fmt == "pdf" else fmt
    _run(["quarto", "render", qmd.name, "--to", to, "--output", out.name], qmd.parent)
    produced = qmd.parent / out.name
    if produced.resolve() != out.resolve():
        shutil.move(str(produced), out)
    return out


def _render_pandoc(qmd: Path, fmt: str, out: Path) -> Path:
    pandoc = _pandoc()
    lua = str(template_path("crossref.lua"))
    base = [pandoc, qmd.name, "--from", "markdown", "--lua-filter", lua, "--toc",
            "--resource-path", str(qmd.parent)]
    if fmt == "html":
        css = qmd.parent / "styles.css"
        _run(base + ["--to", "html5", "--standalone", "--embed-resources",
                     "--css", str(css), "--section-divs", "-o", str(out)], qmd.parent)
    elif fmt == "docx":
        ref = qmd.parent / "reference.docx"
        _run(base + ["--to", "docx", "--reference-doc", str(ref), "-o", str(out)], qmd.parent)
    else:
        import typst

        typ = qmd.with_suffix(".typ")
        _run(base + ["--to", "typst", "--standalone", "-V", "section-numbering=1.1.a",
                     "--include-in-header", str(qmd.parent / "preamble.typ"),
                     "-V", "papersize=a4", "-V", "fontsize=10pt", "-o", str(typ)], qmd.parent)
        try:
            typst.compile(str(typ), output=str(out), root=str(qmd.parent))
        except Exception as exc:  # typst raises its own error type
            raise RadvalError(f"typst failed to compile {typ}: {exc}") from exc
    return out


def render_document(qmd_path: str | Path, *, formats: Iterable[str] | str = FORMATS,
                    out_dir: str | Path | None = None,
                    engine: str = "auto") -> dict[str, Path]:
    """Render a Quarto markdown file to HTML, DOCX and/or PDF.

    Parameters
    ----------
    qmd_path : path
        The ``.qmd`` file (no code cells).  Figures and other resources are
        resolved relative to its folder; ``styles.css``, ``reference.docx``
        and ``_quarto.yml`` are copied there from the package if absent.
    formats : iterable of {"html", "docx", "pdf"} or comma-separated str, optional
    out_dir : path, optional
        Where the outputs go (default: the qmd's folder).  Output names are
        ``<qmd stem>.<ext>``.
    engine : {"auto", "quarto", "pandoc"}, optional
        ``"auto"`` uses Quarto when ``quarto`` is on PATH, else pandoc + typst.

    Returns
    -------
    dict
        Format -> output path.

    Raises
    ------
    MissingInputError
        The qmd file does not exist.
    RadvalError
        pandoc, typst or quarto failed (the message carries their error).
    """
    caller = "render_document"
    fmts = _check_formats(formats, caller)
    if engine not in ("auto", "quarto", "pandoc"):
        raise param_error("engine", caller, "one of {'auto', 'quarto', 'pandoc'}", engine)
    qmd = Path(qmd_path).resolve()
    if not qmd.is_file():
        raise MissingInputError(f"report source {qmd} does not exist")
    out = Path(out_dir).resolve() if out_dir is not None else qmd.parent
    out.mkdir(parents=True, exist_ok=True)
    _ensure_support_files(qmd.parent)
    use_quarto = engine == "quarto" or (engine == "auto" and shutil.which("quarto"))
    results: dict[str, Path] = {}
    for fmt in fmts:
        target = out / f"{qmd.stem}.{_EXT[fmt]}"
        t0 = time.perf_counter()
        if use_quarto:
            results[fmt] = _render_quarto(qmd, fmt, target)
        else:
            results[fmt] = _render_pandoc(qmd, fmt, target)
        logger.info("rendered %s in %.1f s", target, time.perf_counter() - t0)
    return results


def _read_results(run_dir: Path) -> dict[str, Any]:
    """``results.json`` of a completed run (:class:`radval.workflow._outputs.RunFolder`),
    validated against :class:`radval.contracts.ResultsFile`: a file of another radval
    version, or edited by hand, fails here with the field named."""
    from radval.contracts._results import ResultsFile
    from radval.workflow._outputs import RunFolder

    path = run_dir / "results.json"
    if not path.is_file():
        raise MissingInputError(f"{path} does not exist; run `radval run` first or pass the "
                                "folder that holds results.json")
    # the run completed and nothing changed since: never a report of a partial or mixed run
    folder = RunFolder(run_dir)
    rec = folder.record()
    site = rec is not None and "validate" in rec.steps
    folder.verify("validate" if site else "evaluate",
                  action="radval validate" if site else "radval run")
    return ResultsFile.read(path).to_data()


def render_report(run_dir: str | Path, *, formats: Iterable[str] | str = FORMATS,
                  out_dir: str | Path | None = None, engine: str = "auto") -> dict[str, Path]:
    """Build and render the multicohort validation report of a run.

    Reads ``RUN_DIR/results.json`` and, when present,
    ``RUN_DIR/predictions.parquet``; writes figures (SVG, PDF, 300 dpi PNG),
    tables (CSV) and ``report.qmd`` into ``RUN_DIR/report/`` and renders it.

    Parameters
    ----------
    run_dir : path
        Output folder of ``radval run`` (or ``evaluate`` / ``validate``).
    formats : iterable of {"html", "docx", "pdf"} or comma-separated str, optional
    out_dir : path, optional
        Where the rendered files go (default ``RUN_DIR/report``).  The qmd,
        figures and tables always stay in ``RUN_DIR/report``.
    engine : {"auto", "quarto", "pandoc"}, optional

    Returns
    -------
    dict
        Format -> rendered file, plus ``"qmd"`` -> the Quarto source.
    """
    from radval.report.document import build_report

    caller = "render_report"
    fmts = _check_formats(formats, caller)
    run = Path(run_dir)
    if not run.is_dir():
        raise MissingInputError(f"run folder {run} does not exist")
    results = _read_results(run)
    predictions = None
    pq = run / "predictions.parquet"
    if pq.is_file():
        import pandas as pd

        predictions = pd.read_parquet(pq)
    report_dir = run / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    parts = build_report(results, predictions, report_dir)
    qmd = report_dir / "report.qmd"
    atomic_write_text(qmd, parts.qmd)
    logger.info("wrote %s with %d figures and %d tables in %.1f s", qmd, len(parts.figures),
                len(parts.tables), time.perf_counter() - t0)
    out = render_document(qmd, formats=fmts, out_dir=out_dir, engine=engine)
    out["qmd"] = qmd
    return out


def build_reference_docx(path: str | Path) -> Path:
    """Write the journal-style ``reference.docx`` (pandoc default + radval styles).

    Starts from ``pandoc --print-default-data-file reference.docx`` and sets
    body text to 11 pt Calibri, captions to 9 pt bold, and adds a paragraph
    style ``Callout`` (shaded, left border) used by the crossref filter.
    """
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    p = Path(path)
    raw = subprocess.run([_pandoc(), "--print-default-data-file", "reference.docx"],
                         capture_output=True, check=True).stdout
    p.write_bytes(raw)
    d = docx.Document(str(p))
    styles = d.styles
    normal = styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    for name in ("Body Text", "First Paragraph", "Compact"):
        if name in [s.name for s in styles]:
            styles[name].font.name = "Calibri"
    for name in ("Image Caption", "Table Caption"):
        if name in [s.name for s in styles]:
            styles[name].font.size = Pt(9)
            styles[name].font.bold = True
            styles[name].font.italic = False
    if "Callout" not in [s.name for s in styles]:
        st = styles.add_style("Callout", WD_STYLE_TYPE.PARAGRAPH)
        st.base_style = styles["Normal"]
        st.font.size = Pt(10)
        st.font.color.rgb = RGBColor(0x33, 0x33, 0x33)
        st.paragraph_format.left_indent = Pt(8)
        ppr = st.element.get_or_add_pPr()
        bdr = OxmlElement("w:pBdr")
        left = OxmlElement("w:left")
        for k, v in (("w:val", "single"), ("w:sz", "24"), ("w:space", "6"),
                     ("w:color", "D55E00")):
            left.set(qn(k), v)
        bdr.append(left)
        ppr.append(bdr)
        shd = OxmlElement("w:shd")
        for k, v in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", "FBEFE8")):
            shd.set(qn(k), v)
        ppr.append(shd)
    d.save(str(p))
    return p
