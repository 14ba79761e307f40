"""Feature selection: glmnet-equivalent LASSO logistic regression and the selection funnel.

* :func:`lasso_logistic`, :func:`lasso_path`, :func:`cv_lasso_logistic` (``glmnet`` /
  ``cv.glmnet``, binomial, alpha = 1);
* :func:`select_features`: checks, ICC, Mann-Whitney, redundancy, LASSO-CV.

Names are loaded lazily so that ``import radval.selection`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "LassoResult": "lasso",
    "LassoPath": "lasso",
    "LassoCVResult": "lasso",
    "lasso_logistic": "lasso",
    "lasso_path": "lasso",
    "cv_lasso_logistic": "lasso",
    "glmnet_lambda_sequence": "lasso",
    "SelectionResult": "steps",
    "select_features": "steps",
    "spearman_matrix": "steps",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'radval.selection' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f"radval.selection.{module}"), name)


def __dir__() -> list[str]:
    return __all__
