"""radval.report: the multicohort validation report (Quarto markdown -> HTML / DOCX / PDF).

Public API:

* :func:`render_report` -- build and render the report of one run directory;
* :func:`render_document` -- render any ``.qmd`` (Quarto if installed, else pandoc +
  the crossref Lua filter + typst);
* :func:`plot_roc`, :func:`plot_calibration`, :func:`plot_decision_curve`,
  :func:`plot_km` -- the report's plotting primitives: tidy data, ``ax=None``, radval's
  style applied with ``matplotlib.rc_context`` only (no global state changes).

matplotlib, pandoc and typst are only imported when a report is built.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "render_document": "render",
    "render_report": "render",
    "plot_roc": "_plots",
    "plot_calibration": "_plots",
    "plot_decision_curve": "_plots",
    "plot_km": "_plots",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
