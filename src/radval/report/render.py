"""Render a report: Quarto when available, else pandoc + Lua filter (+ typst for PDF).

:func:`render_document` is the generic renderer (used for the pooled and site
reports too); :func:`render_report` builds the validation report of one run
directory, the main report and its supplement, and renders both.

Without ``quarto`` on PATH:

* HTML: ``pandoc -s --embed-resources --toc --css styles.css`` (self-contained);
* DOCX: ``pandoc --reference-doc reference.docx``, then
  :func:`radval.report._docx.finish_docx` (three-line Word tables with a repeated header
  row, captions kept with their table or figure, caption numbers as Word fields);
* PDF: ``pandoc -t typst`` then ``typst.compile`` (typst from PyPI, fonts embedded).

All three pass through ``filters/crossref.lua`` which numbers figures, tables
and sections, resolves ``@fig-``/``@tbl-``/``@sec-`` references and styles
callouts.

Reproducible builds: the only date in the outputs is the build date, which
``SOURCE_DATE_EPOCH`` sets (:func:`radval.report.document.build_date`); with it fixed,
rendering the same results twice gives byte-identical HTML, DOCX and PDF.  The report
folder is replaced atomically: everything is written to a staging folder next to it,
which then takes its place, so a failed render leaves the previous complete report.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radval._provenance import atomic_write_text
from radval._validation import param_error
from radval.exceptions import InputError, MissingInputError, RadvalError

if TYPE_CHECKING:
    from radval.contracts._results import ResultsFile

__all__ = ["FORMATS", "build_reference_docx", "render_document", "render_report",
           "replace_folder", "template_path"]

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
    if os.environ.get("PYPANDOC_PANDOC"):  # the user's explicit choice
        return str(os.environ["PYPANDOC_PANDOC"])
    # The pandoc shipped with pypandoc-binary (3.x: writes typst) by its path.
    # pypandoc's own choice (the highest version among those whose `pandoc --version`
    # succeeds) once fell back to an older system pandoc (2.17: no typst writer) on a
    # loaded machine, and the PDF failed.
    files = Path(pypandoc.__file__).resolve().parent / "files"
    for name in ("pandoc", "pandoc.exe"):
        if (files / name).is_file() and os.access(files / name, os.X_OK):
            return str(files / name)
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


def _front_matter(qmd: Path) -> dict[str, Any]:
    import yaml

    text = qmd.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return {}
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _render_pandoc(qmd: Path, fmt: str, out: Path, when: datetime) -> Path:
    pandoc = _pandoc()
    lua = str(template_path("crossref.lua"))
    base = [pandoc, qmd.name, "--from", "markdown", "--lua-filter", lua,
            "--resource-path", str(qmd.parent)]
    meta = _front_matter(qmd)
    prefix = str(meta.get("radval-prefix") or "")
    if fmt == "html":
        css = qmd.parent / "styles.css"
        _run(base + ["--toc", "--to", "html5", "--standalone", "--embed-resources",
                     "--css", str(css), "--section-divs", "-o", str(out)], qmd.parent)
    elif fmt == "docx":
        from radval.report._docx import finish_docx

        ref = qmd.parent / "reference.docx"
        _run(base + ["--to", "docx", "--reference-doc", str(ref), "-o", str(out)], qmd.parent)
        finish_docx(out, when=when)
    else:
        import typst

        typ = qmd.with_suffix(".typ")
        headers = ["--include-in-header", str(qmd.parent / "preamble.typ")]
        if prefix:  # the supplement: Table S1, Figure S1, Section S1
            extra = qmd.with_name(f"{qmd.stem}-numbering.typ")
            atomic_write_text(extra, f'#set figure(numbering: n => "{prefix}" + str(n))\n')
            headers += ["--include-in-header", str(extra)]
        _run(base + ["--toc", "--to", "typst", "--standalone", "-V",
                     f"section-numbering={prefix}1.1.1", *headers,
                     "-V", "papersize=a4", "-V", "fontsize=10pt", "-o", str(typ)], qmd.parent)
        try:
            typst.compile(str(typ), output=str(out), root=str(qmd.parent),
                          timestamp=int(when.timestamp()))
        except Exception as exc:  # typst raises its own error type
            raise RadvalError(f"typst failed to compile {typ}: {exc}") from exc
    return out


def render_document(qmd_path: str | Path, *, formats: Iterable[str] | str = FORMATS,
                    out_dir: str | Path | None = None, engine: str = "auto",
                    when: datetime | None = None) -> dict[str, Path]:
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
    when : datetime, optional
        Build date of the DOCX and PDF metadata (default
        :func:`radval.report.document.build_date`: ``SOURCE_DATE_EPOCH`` or now).

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
    if when is None:
        from radval.report.document import build_date

        when = build_date()
    results: dict[str, Path] = {}
    for fmt in fmts:
        target = out / f"{qmd.stem}.{_EXT[fmt]}"
        t0 = time.perf_counter()
        if use_quarto:
            results[fmt] = _render_quarto(qmd, fmt, target)
            if fmt == "docx":
                from radval.report._docx import finish_docx

                finish_docx(target, when=when)
        else:
            results[fmt] = _render_pandoc(qmd, fmt, target, when)
        logger.info("rendered %s in %.1f s", target, time.perf_counter() - t0)
    return results


def _read_results(run_dir: Path) -> ResultsFile:
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
    return ResultsFile.read(path)


def replace_folder(stage: Path, target: Path) -> Path:
    """Put the complete folder ``stage`` in the place of ``target`` (stage and swap).

    ``target`` is first renamed aside, then ``stage`` renamed to ``target`` and the old
    folder removed: at every moment the path holds a complete folder (or, between the two
    renames, nothing).  A ``target`` that holds files but no ``report.qmd`` or
    ``pooled.qmd`` is not a radval report folder and is not replaced.
    """
    if target.exists():
        if not target.is_dir():
            raise InputError(f"{target} exists and is not a folder; the report was not "
                             "written")
        markers = ("report.qmd", "pooled.qmd")
        if any(target.iterdir()) and not any((target / m).is_file() for m in markers):
            raise InputError(f"{target} holds files but no radval report; choose an empty "
                             "or new folder (nothing was replaced)")
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage, target)
    return target


def staging_folder(target: Path) -> Path:
    """A fresh staging folder next to ``target`` (same file system: the swap is a rename)."""
    stage = target.with_name(f".{target.name}.staging")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    return stage


def render_report(run_dir: str | Path, *, formats: Iterable[str] | str = FORMATS,
                  out_dir: str | Path | None = None, engine: str = "auto",
                  jobs: int | None = None) -> dict[str, Path]:
    """Build and render the validation report of a run: ``report.*`` (the main text) and
    ``supplement.*``; for a site run (``radval validate``) one document, ``report.*``,
    headed by the notice that it stays at the site.

    Reads ``RUN_DIR/results.json`` (validated, :class:`radval.contracts.ResultsFile`) and,
    when present, ``RUN_DIR/predictions.parquet``; writes the figures (SVG, PDF, 300 dpi
    PNG), tables (CSV), ``report.qmd`` and ``supplement.qmd`` and their renderings into
    the report folder, which is replaced as a whole only when everything succeeded.

    Parameters
    ----------
    run_dir : path
        Output folder of ``radval run`` (or ``evaluate`` / ``validate``).
    formats : iterable of {"html", "docx", "pdf"} or comma-separated str, optional
        An empty sequence writes the sources only (qmd, figures, tables).
    out_dir : path, optional
        The report folder (default ``RUN_DIR/report``); replaced as a whole.
    engine : {"auto", "quarto", "pandoc"}, optional
    jobs : int, optional
        Processes for the figures and the renderings (default: up to 2).

    Returns
    -------
    dict
        Format -> main report file, ``"qmd"`` -> its source; ``"supplement_<format>"`` and
        ``"supplement_qmd"`` for the supplement.
    """
    from radval.report.document import build_date, build_report

    caller = "render_report"
    fmts = () if not isinstance(formats, str) and not list(formats) else \
        _check_formats(formats, caller)
    run = Path(run_dir)
    if not run.is_dir():
        raise MissingInputError(f"run folder {run} does not exist")
    results = _read_results(run)
    predictions = None
    pq = run / "predictions.parquet"
    if pq.is_file():
        import pandas as pd

        predictions = pd.read_parquet(pq)
    target = Path(out_dir) if out_dir is not None else run / "report"
    stage = staging_folder(target)
    when = build_date()
    site = results.shift is not None or results.updating is not None
    try:
        t0 = time.perf_counter()
        from radval.report._site_sections import INTERNAL_USE_NOTICE

        parts = build_report(results, predictions, stage, jobs=jobs, when=when,
                             split=not site, notice=INTERNAL_USE_NOTICE if site else None)
        docs = {"report": parts.qmd}
        if parts.supplement is not None:
            docs["supplement"] = parts.supplement
        for stem, text in docs.items():
            atomic_write_text(stage / f"{stem}.qmd", text)
        _ensure_support_files(stage)
        logger.info("wrote the report sources with %d figures and %d tables in %.1f s",
                    len(parts.figures), len(parts.tables), time.perf_counter() - t0)
        rendered = _render_all([stage / f"{stem}.qmd" for stem in docs], fmts, engine,
                               when, jobs) if fmts else {}
        replace_folder(stage, target)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    out: dict[str, Path] = {}
    for (stem, fmt), path in rendered.items():
        key = fmt if stem == "report" else f"{stem}_{fmt}"
        out[key] = target / path.name
    out["qmd"] = target / "report.qmd"
    if "supplement" in docs:
        out["supplement_qmd"] = target / "supplement.qmd"
    return out


def _render_all(qmds: list[Path], fmts: tuple[str, ...], engine: str, when: datetime,
                jobs: int | None) -> dict[tuple[str, str], Path]:
    """Render every (document, format), in threads (pandoc and typst run outside Python)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [(q, f) for f in ("pdf", "html", "docx") if f in fmts for q in qmds]
    n = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    out: dict[tuple[str, str], Path] = {}
    if n <= 1:
        for q, f in todo:
            out[(q.stem, f)] = render_document(q, formats=(f,), engine=engine, when=when)[f]
        return out
    with ThreadPoolExecutor(max_workers=n) as ex:
        futs = {(q.stem, f): ex.submit(render_document, q, formats=(f,), engine=engine,
                                       when=when) for q, f in todo}
        for key, fut in futs.items():
            out[key] = fut.result()[key[1]]
    return out


def build_reference_docx(path: str | Path) -> Path:
    """Write the journal-style ``reference.docx`` (pandoc default + radval styles).

    Starts from ``pandoc --print-default-data-file reference.docx`` and sets
    body text to 11 pt Calibri, captions to 9 pt bold, A4 pages with 2.5 cm margins,
    and adds the paragraph styles ``Callout`` (shaded, left border) and ``Table Note``
    (8 pt, under a table) used by the crossref filter.
    """
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

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
    if "Table Note" not in [s.name for s in styles]:
        note = styles.add_style("Table Note", WD_STYLE_TYPE.PARAGRAPH)
        note.base_style = styles["Normal"]
        note.font.size = Pt(8)
        note.paragraph_format.space_before = Pt(2)
        note.paragraph_format.space_after = Pt(10)
    for section in d.sections:  # A4, 2.5 cm margins
        section.page_width, section.page_height = Mm(210), Mm(297)
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Mm(25))
    d.save(str(p))
    return p
