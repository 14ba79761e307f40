"""IRLS logistic regression against R glm(); design matrix of clinical predictors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from radval.exceptions import ConvergenceWarning, InputError
from radval.models.logistic import DesignSpec, expit, fit_logistic, logit
from radval.workflow import performance_indexes

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "glm_logistic.json")
                 .read_text())


def _design() -> tuple[pd.DataFrame, np.ndarray]:
    d = REF["data"]
    frame = pd.DataFrame({"x1": d["x1"], "x2": d["x2"], "g": d["g"]})
    spec = DesignSpec.from_frame(frame, [("x1", "numeric"), ("x2", "numeric"),
                                         ("g", "categorical")])
    return spec.transform(frame), np.asarray(d["y"])


def test_matches_r_glm() -> None:
    x, y = _design()
    fit = fit_logistic(x.to_numpy(), y, names=list(x.columns))
    assert fit.converged
    # deterministic up to IRLS convergence (R epsilon 1e-12): rtol 1e-8
    assert_allclose(fit.coef, REF["coef"], rtol=1e-8)
    # R's summary.glm takes the information matrix at the weights of the last IRLS
    # iteration (one step before the final coefficients); radval at the final
    # coefficients: agreement ~2e-7 relative.
    assert_allclose(fit.se, REF["se"], rtol=1e-6)
    assert_allclose(fit.deviance, REF["deviance"], rtol=1e-10)
    assert_allclose(fit.null_deviance, REF["null_deviance"], rtol=1e-10)
    assert_allclose(fit.loglik, REF["loglik"], rtol=1e-10)
    assert fit.names == ["(Intercept)", "x1", "x2", "g[G2]", "g[G3]"]
    tab = fit.table()
    assert_allclose(tab["odds_ratio"], np.exp(REF["coef"]), rtol=1e-8)


def test_calibration_intercept_slope_match_r() -> None:
    idx = performance_indexes(REF["data"]["y"], REF["data"]["p"])
    assert_allclose(idx["intercept"], REF["cal_intercept"], rtol=1e-8)
    assert_allclose(idx["slope"], REF["cal_slope"], rtol=1e-8)
    y = np.asarray(REF["data"]["y"])
    p = np.asarray(REF["data"]["p"])
    assert_allclose(idx["brier"], np.mean((p - y) ** 2), rtol=1e-12)


def test_design_spec_levels_and_unknown() -> None:
    frame = pd.DataFrame({"sex": ["M", "F", "F", None], "grade": [1, 2, 3, 1],
                          "age": [50, 60, 70, 80]})
    spec = DesignSpec.from_frame(frame, [("sex", "categorical"), ("grade", "categorical"),
                                         ("age", "numeric")])
    assert spec.levels == {"sex": ["F", "M"], "grade": ["1", "2", "3"]}
    assert spec.columns == ["sex[M]", "grade[2]", "grade[3]", "age"]
    new = pd.DataFrame({"sex": ["M", "X"], "grade": [3.0, 1.0], "age": [1, 2]})
    d = spec.transform(new)
    assert d["sex[M]"].tolist()[0] == 1.0 and np.isnan(d["sex[M]"].tolist()[1])
    assert d["grade[3]"].tolist() == [1.0, 0.0]
    again = DesignSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    with pytest.raises(InputError, match="fewer than two levels"):
        DesignSpec.from_frame(frame.assign(sex="M"), [("sex", "categorical")])
    with pytest.raises(InputError, match="not a column"):
        DesignSpec.from_frame(frame, [("nope", "numeric")])


def test_separation_warns_and_bad_input() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning):
        fit = fit_logistic(x, y)
    assert not fit.converged
    with pytest.raises(InputError, match="one class"):
        fit_logistic(x, np.zeros(4))
    with pytest.raises(InputError, match="NaN"):
        fit_logistic(np.array([[np.nan], [1], [2], [3]]), y)
    with pytest.raises(InputError, match="rows"):
        fit_logistic(x[:3], y)


def test_intercept_only_and_helpers() -> None:
    y = np.array([0, 1, 1, 0, 1])
    fit = fit_logistic(np.empty((5, 0)), y)
    assert_allclose(fit.coef[0], np.log(3 / 2), rtol=1e-10)
    assert_allclose(expit(logit([0.2, 0.7])), [0.2, 0.7], rtol=1e-12)
    assert expit(np.array([-800.0, 800.0])).tolist() == [0.0, 1.0]
