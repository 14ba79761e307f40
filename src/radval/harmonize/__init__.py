"""Harmonisation of features across scanners and sites.

* :class:`ComBat`: empirical-Bayes location/scale harmonisation equal to R
  ``sva::ComBat`` / neuroCombat, fitted on development data, frozen, applied to new
  patients and to sites never seen in development, serialisable to JSON;
* :func:`batch_separability`, :func:`batch_outcome_association`: diagnostics of batch
  effects before/after harmonisation and of the guard against removing real signal.

Names are loaded lazily so that ``import radval.harmonize`` stays cheap.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ComBat": "_combat",
    "BatchEstimates": "_eb",
    "batch_separability": "_diagnostics",
    "BatchSeparabilityResult": "_diagnostics",
    "batch_outcome_association": "_diagnostics",
    "BatchOutcomeResult": "_diagnostics",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
