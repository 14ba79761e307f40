"""The section protocol: how the report is assembled from independent section builders.

The report is two documents, ``report.*`` (the main text a journal takes) and
``supplement.*`` (everything else), assembled from a registry of **section builders**.
A builder is a function ``build(ctx: SectionContext) -> Section | Sequence[Section] |
None``; it is registered once with a :class:`SectionSpec` that names it, places it
(``"main"`` or ``"supplement"``) and orders it::

    from radval.report._sections import Section, SectionContext, SectionSpec

    def build(ctx: SectionContext) -> Section | None:
        surv = ctx.results.survival            # the typed results (ResultsFile)
        if surv is None:
            return None                        # part not in the run: no section
        w = ctx.writer()                       # collects markdown, figures and tables
        w.h(2, "Time-dependent AUC", "sec-survival-auc")
        if w.table(frame, "tbl-td-auc", "Time-dependent AUC by horizon."):
            w.p("@tbl-td-auc gives the AUC at each horizon.")
        w.figure("fig-td-auc", "Time-dependent AUC.", draw=lambda: my_figure(ctx))
        return w.section()

    SECTION = SectionSpec(key="survival-validation", build=build, placement="main",
                          order=72)

A module lists its specs in ``SECTIONS`` (a spec's order places it in one document, so a
part with a summary in the main report and its detail in the supplement has two specs) and
is wired into the report by **one entry** in the loop of :mod:`radval.report.document`::

    for _spec in (*MH.SECTIONS, *SURV.SECTIONS, *CU.SECTIONS, *SC.SECTIONS):
        REGISTRY.add(_spec)

A function written against the dict form of results.json (a user's own section), returning
``(markdown, {label: figure path})`` or an object with ``markdown``, ``figures`` and
``tables``, is wired with the adapter :func:`markdown_section`::

    REGISTRY.add(markdown_section("my-part", my_function, placement="supplement",
                                  order=185))

Rules of a section builder
--------------------------
* Read the run from ``ctx`` only: ``ctx.results`` (typed), ``ctx.data`` (tidy frames and
  labels: :class:`radval.report._data.ReportData`), ``ctx.raw`` (the dict form, for
  modules written against it).  Compute nothing statistical.
* Return ``None`` when the part is not in the run; a section that has content returns it
  whole (heading included).  Headings carry ids ``{#sec-...}``, tables ``{#tbl-...}``,
  figures ``{#fig-...}``; ids are unique across both documents.
* Refer to any table, figure or section with ``@tbl-x`` / ``@fig-x`` / ``@sec-x``,
  whichever document it is in: the assembler numbers each document (the supplement's
  items are ``S1``, ``S2``...) and writes a reference into the other document as
  "Supplementary Table S3" (a link in HTML).
* Text from input files goes through :func:`radval.report._escape.md_text` (the writer's
  ``table`` and captions do it); figures are written under ``ctx.fig_dir`` with
  :func:`radval.report.figures.save` and drawn with the primitives of
  :mod:`radval.report._plots`.
* ``placement`` of the spec is the default; a builder may return several
  :class:`Section` objects with their own ``placement`` (a main-text table and its
  supplementary detail).
* ``needs_index=True`` builds the section after all others, when ``ctx.sections`` holds
  every section id of both documents (the reporting checklists use it).

Order slots (``SectionSpec.order``)
-----------------------------------
main: 10 summary, 15 methods, 20 participants (flow, Table 1), 22 a site's sample size,
25 missing data and harmonisation, 30 model (specification, formulas, nomogram),
40 discrimination and classification, 45 key comparison, 50 calibration, 52 calibration
corrected for optimism, 60 clinical utility, 62 optimism-corrected net benefit,
70 secondary (time-to-event) endpoint, 72 its validation at the horizons, 80-84 site
sections (shift, updating, origin), 95 references.  supplement: 100 about, 110 cohorts and
participants, 115 missing data and harmonisation in detail, 120 feature selection,
130 stability, 140 performance of every model, 150 pairwise comparisons, 160 calibration,
162 calibration and clinical utility in detail, 165 score distributions, 170 subgroups,
172 calibration and net benefit per subgroup, 175 time-to-event detail, 180 checklists,
190 provenance.  New sections take a free number between these.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from radval.contracts._results import ResultsFile
from radval.report._data import ReportData
from radval.report._escape import md_identifier, md_text

__all__ = ["PLACEMENTS", "Section", "SectionContext", "SectionRegistry", "SectionSpec",
           "SectionWriter", "markdown_section"]

logger = logging.getLogger(__name__)

Placement = Literal["main", "supplement"]
#: The two documents.
PLACEMENTS: tuple[Placement, ...] = ("main", "supplement")
_SEC_ID = re.compile(r"\{#(sec-[a-z0-9-]+)")


@dataclass
class Section:
    """What a builder returns: markdown, the figure and table files it wrote (label ->
    path), and where it goes (``None``: the spec's placement)."""

    markdown: str
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    placement: Placement | None = None

    @property
    def section_ids(self) -> list[str]:
        """The ``sec-`` ids of the headings in the markdown."""
        return _SEC_ID.findall(self.markdown)


Builder = Callable[["SectionContext"], "Section | Sequence[Section] | None"]


@dataclass(frozen=True)
class SectionSpec:
    """A registered section builder.

    Parameters
    ----------
    key : str
        Unique name (``"performance"``).
    build : callable
        ``build(ctx) -> Section | Sequence[Section] | None``.
    placement : {"main", "supplement"}
        Default document of the sections it returns.
    order : float
        Position within its document (see the slots in the module docstring).
    needs_index : bool
        Build after every other section (``ctx.sections`` is then complete).
    """

    key: str
    build: Builder
    placement: Placement = "main"
    order: float = 50.0
    needs_index: bool = False


class SectionRegistry:
    """The ordered set of section builders of a report."""

    def __init__(self, specs: Iterable[SectionSpec] = ()) -> None:
        self._specs: dict[str, SectionSpec] = {}
        for s in specs:
            self.add(s)

    def add(self, spec: SectionSpec) -> SectionSpec:
        """Register ``spec`` (a second spec with the same key replaces the first)."""
        if spec.placement not in PLACEMENTS:
            raise ValueError(f"placement of section {spec.key!r} must be one of "
                             f"{PLACEMENTS}; got {spec.placement!r}")
        self._specs[spec.key] = spec
        return spec

    def remove(self, key: str) -> None:
        """Unregister the section ``key`` (no error when absent)."""
        self._specs.pop(key, None)

    def specs(self) -> list[SectionSpec]:
        """The specs in document order (main first, then by ``order``, then key)."""
        return sorted(self._specs.values(),
                      key=lambda s: (PLACEMENTS.index(s.placement), s.order, s.key))

    def copy(self) -> SectionRegistry:
        """A registry with the same specs (to add or remove some for one report)."""
        return SectionRegistry(self._specs.values())

    def __contains__(self, key: object) -> bool:
        return key in self._specs

    def build(self, ctx: SectionContext) -> list[tuple[SectionSpec, Section]]:
        """Run every builder; return (spec, section) in document order.  A builder that
        raises is logged and its part replaced by a sentence saying so."""
        specs = self.specs()
        built: dict[str, list[Section]] = {}
        for phase in (False, True):
            for spec in specs:
                if spec.needs_index != phase:
                    continue
                built[spec.key] = self._run(spec, ctx)
                for sec in built[spec.key]:
                    place = sec.placement or spec.placement
                    for sid in sec.section_ids:
                        ctx.sections.add(sid)
                        ctx.where[sid] = place
        out = []
        for spec in specs:
            out += [(spec, sec) for sec in built.get(spec.key, [])]
        return out

    @staticmethod
    def _run(spec: SectionSpec, ctx: SectionContext) -> list[Section]:
        try:
            res = spec.build(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken section must not kill the report
            logger.warning("report section %s failed: %s: %s", spec.key,
                           type(exc).__name__, exc)
            return [Section(markdown=f"_The section {md_text(spec.key)} could not be "
                                     f"written ({md_text(type(exc).__name__)}: "
                                     f"{md_text(exc)})._\n")]
        if res is None:
            return []
        secs = [res] if isinstance(res, Section) else list(res)
        return [s for s in secs if s.markdown.strip()]


class SectionContext:
    """What a section builder reads and where it writes.

    Attributes
    ----------
    data : ReportData
        Typed results, tidy frames and display names.
    out : Path
        The report folder; figures go to ``fig_dir``, tables (CSV) to ``tab_dir``.
    drawn : dict
        Figures drawn beside the sections (label -> PNG, ``None`` or an error message):
        :func:`radval.report.figures.draw_all`, or the
        :class:`radval.report.figures.PendingFigures` still being drawn.
    sections : set of str
        Section ids known so far (every id of both documents for ``needs_index``
        builders); ``where`` maps each to its document.
    split : bool
        ``False`` when the report is one document (a site report): every section goes
        to the main document.
    """

    def __init__(self, data: ReportData, out: str | Path, *,
                 drawn: Mapping[str, Path | None | str] | None = None,
                 split: bool = True) -> None:
        self.data = data
        self.out = Path(out)
        self.fig_dir = self.out / "figures"
        self.tab_dir = self.out / "tables"
        # kept as given: a PendingFigures is still being drawn (a lookup waits for one)
        self.drawn: MutableMapping[str, Path | None | str] = (
            drawn if isinstance(drawn, MutableMapping) else dict(drawn or {}))
        self.sections: set[str] = set()
        self.where: dict[str, Placement] = {}
        self.split = split

    def save(self, fig: Any, name: str) -> Path:
        """Write a figure built by a section as ``fig_dir/name.{svg,pdf,png}``; the PNG's
        path.  With worker processes (:class:`radval.report.figures.PendingFigures`) a
        worker writes the files while the sections go on."""
        from radval.report import figures

        if isinstance(self.drawn, figures.PendingFigures) and self.drawn.workers:
            return self.drawn.save(fig, self.fig_dir, name)
        return figures.save(fig, self.fig_dir, name)

    @property
    def results(self) -> ResultsFile:
        """The typed results."""
        return self.data.results

    @cached_property
    def raw(self) -> dict[str, Any]:
        """The dict form of results.json (for modules written against it)."""
        return self.results.to_data()

    def writer(self, placement: Placement | None = None) -> SectionWriter:
        """A :class:`SectionWriter` for one :class:`Section`."""
        return SectionWriter(self, placement)


class SectionWriter:
    """Collects the markdown, figures and tables of one section."""

    def __init__(self, ctx: SectionContext, placement: Placement | None = None) -> None:
        self.ctx = ctx
        self.placement = placement
        self.parts: list[str] = []
        self.figures: dict[str, Path] = {}
        self.tables: dict[str, Path] = {}

    def h(self, level: int, text: str, sec: str, *, escape: bool = True) -> None:
        """A heading with id ``sec`` (``text`` escaped unless ``escape=False``)."""
        self.parts.append(f"{'#' * level} {md_text(text) if escape else text} {{#{sec}}}\n")

    def p(self, markdown: str) -> None:
        """A paragraph of markdown (built by radval; input text escaped by the caller)."""
        if markdown.strip():
            self.parts.append(markdown.strip() + "\n")

    def table(self, df: pd.DataFrame | None, label: str, caption: str, *,
              markdown: pd.DataFrame | None = None,
              notes: Sequence[str | tuple[str, str]] = (), raw: Sequence[str] = (),
              align: Sequence[str] | None = None) -> bool:
        """A captioned table (its CSV under ``tables/``); ``False`` when ``df`` is empty.

        ``df`` holds plain text (the CSV); ``markdown``, when given, the same cells as
        markdown built by radval (shown instead of ``df``); ``notes`` are plain-text
        footnotes printed under the table, each a text or a ``(marker, text)`` pair
        (the marker, a letter, printed as a superscript).
        """
        from radval.report.tables import to_pipe, write_csv

        if df is None or df.empty:
            return False
        self.tables[label] = write_csv(df, self.ctx.tab_dir / f"{label}.csv")
        if markdown is not None:
            self.parts.append(to_pipe(markdown, caption, label, align,
                                      raw=[str(c) for c in markdown.columns]))
        else:
            self.parts.append(to_pipe(df, caption, label, align, raw=raw))
        if notes:
            def note(n: str | tuple[str, str]) -> str:
                if isinstance(n, tuple):
                    return f"^{md_text(n[0])}^\u2009{md_text(n[1])}"
                return md_text(n)
            self.parts.append("::: {.table-note}\n" + "; ".join(note(n) for n in notes)
                              + ".\n:::\n")
        return True

    def figure(self, label: str, caption: str, *,
               draw: Callable[[], Path | None] | None = None, width: str = "100%") -> bool:
        """A captioned figure: the one drawn beforehand under ``label``, else ``draw()``;
        ``False`` when the part is not in the run.  A figure that fails is replaced by
        a sentence saying so."""
        if label in self.ctx.drawn:
            res = self.ctx.drawn[label]
        elif draw is not None:
            try:
                res = draw()
            except Exception as exc:  # noqa: BLE001 - a broken figure must not kill the report
                res = f"{type(exc).__name__}: {exc}"
            self.ctx.drawn[label] = res
        else:
            return False
        if isinstance(res, str):
            logger.warning("figure %s could not be drawn: %s", label, res)
            self.p(f"_The figure {md_text(label.removeprefix('fig-'))} could not be drawn "
                   f"({md_text(res)})._")
            return False
        if res is None:
            return False
        self.figures[label] = res
        rel = Path(res).relative_to(self.ctx.out).as_posix()
        self.parts.append(f"![{md_text(caption)}]({rel}){{#{md_identifier(label)} "
                          f"width={width}}}\n")
        return True

    def section(self) -> Section | None:
        """The collected section (``None`` when nothing was written)."""
        if not self.parts:
            return None
        return Section(markdown="\n".join(self.parts), figures=self.figures,
                       tables=self.tables, placement=self.placement)


def markdown_section(key: str, func: Callable[..., Any], *, placement: Placement = "main",
                     order: float = 50.0, needs_index: bool = False) -> SectionSpec:
    """A :class:`SectionSpec` for a function written against the dict form of results.json:
    ``func(results_dict, out_dir)`` returning markdown, ``(markdown, {label: path})`` or
    an object with ``markdown`` (and ``figures`` / ``tables``) attributes."""

    def build(ctx: SectionContext) -> Section | None:
        res = func(ctx.raw, ctx.out)
        if isinstance(res, str):
            return Section(markdown=res)
        if isinstance(res, tuple):
            text, figs = res[0], (res[1] if len(res) > 1 else {})
            return Section(markdown=str(text or ""),
                           figures={k: Path(v) for k, v in dict(figs or {}).items()
                                    if isinstance(v, str | Path)})
        if res is None:
            return None
        return Section(markdown=str(getattr(res, "markdown", "") or ""),
                       figures=dict(getattr(res, "figures", {}) or {}),
                       tables=dict(getattr(res, "tables", {}) or {}))

    return SectionSpec(key=key, build=build, placement=placement, order=order,
                       needs_index=needs_index)
