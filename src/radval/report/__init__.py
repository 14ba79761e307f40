"""radval.report: the multicohort validation report (Quarto markdown -> HTML / DOCX / PDF).

Public API:

* :func:`render_report` -- build and render the report of one run directory;
* :func:`render_document` -- render any ``.qmd`` (Quarto if installed, else pandoc +
  the crossref Lua filter + typst).

matplotlib, pandoc and typst are only imported when a report is built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_document", "render_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from radval.report import render

        return getattr(render, name)
    msg = f"module 'radval.report' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return __all__
