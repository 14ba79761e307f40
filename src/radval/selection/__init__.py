"""Feature selection: glmnet-equivalent LASSO logistic regression and the selection funnel.

* :func:`lasso_logistic`, :func:`lasso_path`, :func:`cv_lasso_logistic` (``glmnet`` /
  ``cv.glmnet``, binomial, alpha = 1);
* :func:`select_features`: checks, ICC, Mann-Whitney, redundancy, LASSO-CV.

Names are loaded lazily so that ``import radval.selection`` stays cheap.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
