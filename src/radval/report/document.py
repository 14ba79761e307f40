"""Assemble the report from its section builders: ``report.qmd`` and ``supplement.qmd``.

The report is built by the section builders registered in :data:`REGISTRY` (the protocol
is in :mod:`radval.report._sections`): each returns markdown, the figures and tables it
wrote and its placement, the main report or the supplement.  This module runs them,
joins each document in order, numbers both documents the way the crossref filter does
(the supplement's items are S1, S2, ...), turns a reference into the other document into
"Supplementary Table S3" / "Table 2 of the main report" (a link between the HTML files),
and writes the front matter with the build date.

The ``.qmd`` files have no code cells and compute nothing: figures are files under
``figures/``, tables are pipe tables with ``: caption {#tbl-x}``, and cross-references
are Quarto's ``@fig-x`` / ``@tbl-x`` / ``@sec-x``; they render with Quarto as they are, or
through pandoc + ``filters/crossref.lua`` (:mod:`radval.report.render`).

Adding a section
----------------
Write a module with a builder and its :class:`~radval.report._sections.SectionSpec`
(listed in the module's ``SECTIONS``) and add the module to the loop below the registry; a
function written against the dict form of results.json is wired with
:func:`~radval.report._sections.markdown_section`.  See :mod:`radval.report._sections`
and DEVELOPERS.md.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report import _calibration_utility as CU
from radval.report import _main_sections, _site_sections, _supplement_sections
from radval.report import _missing_harmonisation as MH
from radval.report import _subgroup_calibration as SC
from radval.report import _survival_section as SURV
from radval.report import figures as F
from radval.report._data import ReportData
from radval.report._escape import md_text, yaml_str
from radval.report._sections import (
    PLACEMENTS,
    Section,
    SectionContext,
    SectionRegistry,
    SectionSpec,
)
from radval.report.methods import resolve_citations

__all__ = ["REGISTRY", "ReportParts", "build_date", "build_report", "number_items"]

logger = logging.getLogger(__name__)

#: The section builders of the report, in document order within each placement.
REGISTRY = SectionRegistry([*_main_sections.SECTIONS, *_supplement_sections.SECTIONS,
                            *_site_sections.SECTIONS])
# Section modules of other areas, each listing its builders (a module may have slots in both
# documents: a summary in the main report, its detail in the supplement)
for _spec in (*MH.SECTIONS, *SURV.SECTIONS, *CU.SECTIONS, *SC.SECTIONS):
    REGISTRY.add(_spec)

#: The rendered file names of the two documents (cross-document links between HTML files).
STEMS = {"main": "report", "supplement": "supplement"}
_PREFIX = {"fig": "Figure", "tbl": "Table", "sec": "Section"}
_REF = re.compile(r"(?<![\\\w@])@((?:fig|tbl|sec)-[a-z0-9-]*[a-z0-9])")
_HEADER = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_HEADER_ATTR = re.compile(r"\{([^{}]*)\}\s*$")


@dataclass
class ReportParts:
    """What :func:`build_report` wrote: the documents' markdown (``qmd``: the main report;
    ``supplement``: ``None`` for a one-document report) and the figure and table files."""

    qmd: str
    supplement: str | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


def build_date() -> datetime:
    """The build date of a report: ``SOURCE_DATE_EPOCH`` (seconds, UTC) when set, so that
    a rebuild gives identical files; else now."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        try:
            return datetime.fromtimestamp(int(raw), tz=UTC)
        except (ValueError, OverflowError, OSError):
            logger.warning("SOURCE_DATE_EPOCH=%r is not a number of seconds; ignored", raw)
    return datetime.now(tz=UTC).replace(microsecond=0)


def _date_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ----------------------------------------------------------------------------- numbering
def number_items(markdown: str, prefix: str = "") -> dict[str, str]:
    """Id -> display text (``"Table S3"``, ``"Figure 2"``, ``"Section 4.1"``) of every
    numbered table, figure and section of one document, in the order and with the rules of
    ``filters/crossref.lua`` (headers inside callouts and ``.unnumbered`` headers are not
    counted)."""
    out: dict[str, str] = {}
    counts = {"fig": 0, "tbl": 0}
    sec = [0] * 6
    fence = 0
    callout_depth: list[int] = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(":::"):
            if re.match(r"^:{3,}\s*\{", stripped) or re.match(r"^:{3,}\s*\w", stripped):
                fence += 1
                if ".callout" in stripped:
                    callout_depth.append(fence)
            elif stripped.strip(":") == "":
                if callout_depth and callout_depth[-1] == fence:
                    callout_depth.pop()
                fence = max(fence - 1, 0)
            continue
        m = _HEADER.match(line)
        if m and not callout_depth:
            attrs = _HEADER_ATTR.search(m.group(2))
            attr = attrs.group(1) if attrs else ""
            if ".unnumbered" in attr.split() or "-" in attr.split():
                continue
            level = len(m.group(1))
            sec[level - 1] += 1
            for i in range(level, 6):
                sec[i] = 0
            num = ".".join(str(x) for x in sec[:level])
            ident = re.search(r"#(sec-[a-z0-9-]+)", attr)
            if ident:
                out[ident.group(1)] = f"{_PREFIX['sec']} {prefix}{num}"
            continue
        for kind, pattern in (("tbl", r"^:\s.*\{#(tbl-[a-z0-9-]+)\}\s*$"),
                              ("fig", r"^!\[.*\]\(.*\)\{#(fig-[a-z0-9-]+)[\s}]")):
            mm = re.match(pattern, stripped)
            if mm:
                counts[kind] += 1
                out[mm.group(1)] = f"{_PREFIX[kind]} {prefix}{counts[kind]}"
    return out


def _link_other(markdown: str, own: Mapping[str, str], other: Mapping[str, str], *,
                target: str, wording: str) -> str:
    """Write each reference to an item of the other document as a link to it."""
    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in own or key not in other:
            return m.group(0)  # resolved by the filter in this document (or reported missing)
        text = wording.format(other[key])
        return f"[{text}]({target}.html#{key}){{.xref-ext}}"

    return _REF.sub(repl, markdown)


# --------------------------------------------------------------------------- front matter
def _front_matter(r: ResultsFile, *, subtitle: str, when: datetime,
                  prefix: str = "") -> str:
    lines = [
        "---",
        # pandoc reads front-matter strings as markdown: escape for markdown, then YAML
        f"title: {yaml_str(md_text(r.study.name))}",
        f"subtitle: {yaml_str(subtitle)}",
        f"date: {yaml_str('Built ' + _date_text(when))}",
        f"author: {yaml_str(md_text('radval ' + r.radval_version))}",
        "lang: en",
        "margin: {x: 2.2cm, y: 2.2cm}",   # typst pages (pandoc's default is 1.25 in)
    ]
    if prefix:
        lines.append(f"radval-prefix: {yaml_str(prefix)}")
    lines += ["format:", "  html:", "    toc: true", "    number-sections: true",
              "    embed-resources: true", "    css: styles.css",
              "  docx:", "    number-sections: true", "    reference-doc: reference.docx",
              "  typst:", "    section-numbering: " + (f"{prefix}1.1.a" if prefix else "1.1.a"),
              "    keep-typ: true", "---", ""]
    return "\n".join(lines)


def _join(sections: list[tuple[SectionSpec, Section]]) -> str:
    return "\n".join(s.markdown.rstrip() + "\n" for _, s in sections)


def build_report(results: ReportData | ResultsFile | Mapping[str, Any],
                 predictions: pd.DataFrame | None, out_dir: str | Path, *,
                 jobs: int | None = None, split: bool = True,
                 registry: SectionRegistry | None = None, when: datetime | None = None,
                 notice: str | None = None) -> ReportParts:
    """Draw the figures, write the CSV tables and return the documents' markdown.

    Parameters
    ----------
    results : ReportData, ResultsFile or its dict form (validated)
    predictions : pandas.DataFrame or None
        ``predictions.parquet`` (score distributions).
    out_dir : path
        Report folder; figures go to ``figures/``, tables to ``tables/``.
    jobs : int, optional
        Processes used to draw the figures (default: up to 2).
    split : bool
        ``True``: a main report and a supplement; ``False``: one document (site report).
    registry : SectionRegistry, optional
        The section builders (default :data:`REGISTRY`).
    when : datetime, optional
        The build date printed on the title page (default :func:`build_date`).
    notice : str, optional
        Markdown placed first in the main document (the site report's notice).
    """
    d = results if isinstance(results, ReportData) else ReportData.build(results, predictions)
    out = Path(out_dir)
    when = when or build_date()
    # the workers draw the report's figures while the sections are written here
    with F.start_figures(d, None, out / "figures", jobs=jobs) as drawn:
        ctx = SectionContext(d, out, drawn=drawn, split=split)
        built = (registry or REGISTRY).build(ctx)
    docs: dict[str, list[tuple[SectionSpec, Section]]] = {p: [] for p in PLACEMENTS}
    for spec, sec in built:
        place = (sec.placement or spec.placement) if split else "main"
        if not split and spec.key == "supplement-about":
            continue
        docs[place].append((spec, sec))
    figures = {k: v for _, s in built for k, v in s.figures.items()}
    tables = {k: v for _, s in built for k, v in s.tables.items()}
    main = _join(docs["main"])
    if notice:
        main = notice.strip() + "\n\n" + main
    supp = _join(docs["supplement"])
    main, supp = resolve_citations([main, supp])
    r = d.results
    if not split or not docs["supplement"]:
        labels = {"main": number_items(main)}
        qmd = _front_matter(r, subtitle="Validation report", when=when) + main
        return ReportParts(qmd=qmd, supplement=None, figures=figures, tables=tables,
                           labels=labels)
    labels = {"main": number_items(main), "supplement": number_items(supp, "S")}
    main = _link_other(main, labels["main"], labels["supplement"], target=STEMS["supplement"],
                       wording="Supplementary {}")
    supp = _link_other(supp, labels["supplement"], labels["main"], target=STEMS["main"],
                       wording="{} of the main report")
    return ReportParts(
        qmd=_front_matter(r, subtitle="Validation report", when=when) + main,
        supplement=_front_matter(r, subtitle="Supplementary material", when=when,
                                 prefix="S") + supp,
        figures=figures, tables=tables, labels=labels)
