"""Comparison classifiers from scikit-learn, fitted on the same selected features.

Every classifier is a scikit-learn ``Pipeline(StandardScaler, estimator)`` with a
deterministic ``random_state`` (the study seed) and default hyper-parameters
close to the libraries' defaults (no tuning: the comparison shows what the
selected features give to a flexible learner, not a tuned benchmark).  Fitted
estimators are never serialised (no pickle): their predictions are written to
``predictions.parquet`` and their settings to ``results.json``.

=====================  ============================================================
name                   estimator
=====================  ============================================================
``logistic``           ``LogisticRegression(C=1.0, max_iter=5000)`` (L2)
``svm``                ``SVC(kernel="rbf", C=1.0, probability=True)`` (Platt scaling)
``random_forest``      ``RandomForestClassifier(n_estimators=300, min_samples_leaf=3)``
``extra_trees``        ``ExtraTreesClassifier(n_estimators=300, min_samples_leaf=3)``
``gradient_boosting``  ``GradientBoostingClassifier(n_estimators=150, max_depth=2,
                       learning_rate=0.05, subsample=0.8)``
``mlp``                ``MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2,
                       max_iter=2000)``
``knn``                ``KNeighborsClassifier(n_neighbors=15)``
``naive_bayes``        ``GaussianNB()``
=====================  ============================================================
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from radval._validation import check_binary, check_choice
from radval.exceptions import InputError

__all__ = ["CLASSIFIERS", "LABELS", "classifier_settings", "fit_classifier"]

CLASSIFIERS = ("logistic", "svm", "random_forest", "extra_trees", "gradient_boosting", "mlp",
               "knn", "naive_bayes")
LABELS = {
    "logistic": "Logistic (L2)", "svm": "SVM (RBF)", "random_forest": "Random forest",
    "extra_trees": "Extra trees", "gradient_boosting": "Gradient boosting", "mlp": "MLP",
    "knn": "k-nearest neighbours", "naive_bayes": "Naive Bayes",
}


def _estimator(name: str, seed: int) -> Any:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    rs = int(seed) % (2**32 - 1)
    table: dict[str, Any] = {
        "logistic": lambda: LogisticRegression(C=1.0, max_iter=5000),
        "svm": lambda: SVC(kernel="rbf", C=1.0, probability=True, random_state=rs),
        "random_forest": lambda: RandomForestClassifier(n_estimators=300, min_samples_leaf=3,
                                                        random_state=rs, n_jobs=1),
        "extra_trees": lambda: ExtraTreesClassifier(n_estimators=300, min_samples_leaf=3,
                                                    random_state=rs, n_jobs=1),
        "gradient_boosting": lambda: GradientBoostingClassifier(
            n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=rs),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2, max_iter=2000,
                                     random_state=rs),
        "knn": lambda: KNeighborsClassifier(n_neighbors=15),
        "naive_bayes": lambda: GaussianNB(),
    }
    return table[name]()


def classifier_settings(name: str, seed: int) -> dict[str, Any]:
    """The estimator's parameters (JSON-safe) for ``results.json``."""
    check_choice(name, CLASSIFIERS, caller="classifier_settings", param="name")
    est = _estimator(name, seed)
    out: dict[str, Any] = {"estimator": type(est).__name__}
    for k, v in sorted(est.get_params().items()):
        if v is None or isinstance(v, bool | int | float | str):
            out[k] = v
        elif isinstance(v, tuple | list):
            out[k] = list(v)
    return out


def fit_classifier(name: str, x_train: npt.ArrayLike, y_train: npt.ArrayLike, *,
                   seed: int) -> Any:
    """Fit ``StandardScaler + <name>`` on the development data.

    Parameters
    ----------
    name : str
        One of :data:`CLASSIFIERS`.
    x_train, y_train : array-like
        Development features (selected) and outcomes.
    seed : int
        ``random_state`` of the estimator.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; ``predict_proba(x)[:, 1]`` is the probability of the event.  Kept in
        memory only (never pickled).
    """
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_choice(name, CLASSIFIERS, caller="fit_classifier", param="name")
    y = check_binary(y_train, caller="fit_classifier")
    x = np.asarray(x_train, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise InputError(f"fit_classifier: x_train must be (n, p) with n = {y.size}; got "
                         f"{x.shape}.")
    if x.shape[1] == 0:
        raise InputError("fit_classifier: no selected features to fit on.")
    model = make_pipeline(StandardScaler(), _estimator(name, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        # scikit-learn 1.9 deprecates SVC(probability=True) (still supported until 1.11)
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(x, y)
    return model
