"""radval.report: the multicohort validation report (Quarto markdown -> HTML / DOCX / PDF).

The report of a development run is two documents, ``report.*`` (the main text a journal
takes: summary, methods, Table 1, the models, one performance table per endpoint,
comparison, calibration, clinical utility) and ``supplement.*`` (selection, stability,
every model, all pairwise comparisons, subgroups, TRIPOD+AI / CLEAR / METRICS / RQS /
IBSI checklists, provenance), assembled from a registry of section builders
(:mod:`radval.report._sections`, :mod:`radval.report.document`) that read the typed
results (:class:`radval.contracts.ResultsFile`) and the study file's labels.

Public API:

* :func:`render_report` -- build and render the report of one run directory;
* :func:`check_results` -- are the run's results still current (``radval report --check``);
* :func:`render_document` -- render any ``.qmd`` (Quarto if installed, else pandoc +
  the crossref Lua filter + typst);
* :func:`plot_roc`, :func:`plot_calibration`, :func:`plot_decision_curve`,
  :func:`plot_km`, :func:`log_axis` -- the report's plotting primitives: tidy data,
  ``ax=None``, radval's style applied with ``matplotlib.rc_context`` only (no global
  state changes).

matplotlib, pandoc and typst are only imported when a report is built.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "render_document": "render",
    "render_report": "render",
    "check_results": "_freshness",
    "plot_roc": "_plots",
    "plot_calibration": "_plots",
    "plot_decision_curve": "_plots",
    "plot_km": "_plots",
    "log_axis": "_plots",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
