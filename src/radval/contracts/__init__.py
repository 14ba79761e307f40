"""radval.contracts: one typed definition of every artifact that crosses a boundary.

===================  ==========================================================
file                 definition
===================  ==========================================================
``results.json``     :class:`ResultsFile` (``radval run`` / ``evaluate`` /
                     ``validate``; read by ``radval report``)
``selection.json``   :class:`SelectionFile` (``radval select``; read by ``fit``)
``models.json``      :class:`ModelsFile` (``radval fit``; read by ``evaluate``)
``signature.json``   :class:`SignatureFile` (the frozen bundle; read by ``validate``)
``share.json``       :class:`ShareFile` (a site's aggregates; read by ``pool``)
``run.json``         :class:`RunRecord` (written last by every step: what finished)
===================  ==========================================================

Each is a :class:`Document`: :meth:`Document.write` validates before writing,
:meth:`Document.read` validates after reading (an error names the field), and
``data-dictionary/<file>.yaml`` is generated from the definition (``python -m
radval.contracts data-dictionary``; a test fails when the committed copy differs).
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Document": "_base",
    "Record": "_base",
    "describe": "_base",
    "ResultsFile": "_results",
    "SelectionFile": "_files",
    "ModelsFile": "_files",
    "RunRecord": "_files",
    "SignatureFile": "_signature",
    "ShareFile": "_share",
    "DOCUMENTS": "_registry",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
