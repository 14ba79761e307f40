"""Comparison classifiers: deterministic for a seed, probabilities, JSON settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radval.exceptions import InputError
from radval.models.classifiers import CLASSIFIERS, classifier_settings, fit_classifier


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_fit_predict_deterministic(name: str, rng: np.random.Generator) -> None:
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] + rng.normal(scale=0.8, size=80) > 0).astype(int)
    a = fit_classifier(name, x, y, seed=7).predict_proba(x)[:, 1]
    b = fit_classifier(name, x, y, seed=7).predict_proba(x)[:, 1]
    np.testing.assert_array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()
    # the informative feature is picked up: AUC on the training data well above 0.5
    from radval import stats

    assert stats.roc_auc(y, a) > 0.7
    json.dumps(classifier_settings(name, 7))


def test_bad_inputs(rng: np.random.Generator) -> None:
    with pytest.raises(InputError):
        fit_classifier("boosted_unicorn", np.zeros((4, 1)), [0, 1, 0, 1], seed=1)
    with pytest.raises(InputError):
        fit_classifier("logistic", np.zeros((4, 0)), [0, 1, 0, 1], seed=1)
    with pytest.raises(InputError):
        fit_classifier("logistic", np.zeros((3, 1)), [0, 1, 0, 1], seed=1)
