"""The batched loess of the bootstrap band (radval.stats._loess) against the one-fit path.

``loess_fit`` (R's QR + SVD at every vertex) is what the R reference tests check; these
tests tie the batch (level-by-level k-d trees, weighted-moment normal equations,
vectorised prediction) to it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit

from radval.exceptions import DataError
from radval.stats import _loess, calibration_curve
from radval.stats._loess import (
    _kd_vertices,
    _kd_vertices_many,
    _sorted_rows,
    loess_fit,
    loess_fit_many,
    loess_predict_many,
)


def _risks(rng: np.random.Generator, n: int, decimals: int | None) -> np.ndarray:
    p = expit(rng.normal(-1.0, 1.2, n))
    return p if decimals is None else np.round(p, decimals)


@pytest.mark.parametrize(("n", "decimals", "span", "cell"), [
    (500, None, 0.75, 0.2), (300, 2, 0.75, 0.2), (120, 1, 0.5, 0.05), (300, 3, 0.3, 0.01),
    (300, None, 0.3, 0.01),
])
def test_kd_vertices_of_all_rows_equal_the_sequential_tree(n: int, decimals: int | None,
                                                           span: float, cell: float) -> None:
    rng = np.random.default_rng(n)
    p = _risks(rng, n, decimals)
    xs = np.sort(p[rng.integers(0, n, size=(60, n))], axis=1)
    xs[0] = 0.25  # one value only: the root cell has width 0 and is a leaf
    rows, verts = _kd_vertices_many(xs, span=span, cell=cell)
    sizes = []
    for i in range(xs.shape[0]):
        one = _kd_vertices(xs[i], span=span, cell=cell)
        assert_array_equal(verts[rows == i], one)
        sizes.append(one.size)
    if cell == 0.01:  # R's cap on the cells (nvmax) stops the splitting in some rows
        cells = 1 + 2 * (np.array(sizes) - 2)
        assert np.any(cells + 2 > max(200, n))


def test_sorting_resample_indices_equals_the_stable_sort_of_the_rows() -> None:
    rng = np.random.default_rng(3)
    p = np.concatenate([np.round(rng.uniform(size=80), 1), [0.0, -0.0, 0.0]])
    y = rng.normal(size=p.size)  # distinct y: a different tie order would show
    idx = rng.integers(0, p.size, size=(50, p.size))
    xs, ys = _sorted_rows(p, y, idx)
    order = np.argsort(p[idx], axis=1, kind="stable")
    assert_array_equal(xs, np.take_along_axis(p[idx], order, axis=1))
    assert_array_equal(np.signbit(xs), np.signbit(np.take_along_axis(p[idx], order, axis=1)))
    assert_array_equal(ys, np.take_along_axis(y[idx], order, axis=1))
    z = np.linspace(0.0, 1.0, 31)
    assert_array_equal(loess_predict_many(p, y, z, idx=idx),
                       loess_predict_many(p[idx], y[idx], z))


def test_vectorised_prediction_equals_each_fits_prediction() -> None:
    rng = np.random.default_rng(4)
    p = _risks(rng, 150, 2)
    y = (rng.uniform(size=150) < p).astype(float)
    idx = rng.integers(0, 150, size=(40, 150))
    z = np.concatenate([rng.uniform(-0.1, 1.1, 60), [np.nan], np.sort(p)[:5]])  # unsorted
    fits = loess_fit_many(p[idx], y[idx])
    assert_array_equal(loess_predict_many(p[idx], y[idx], z),
                       np.array([f.predict(z) for f in fits]))


@pytest.mark.parametrize(("degree", "span"), [(0, 0.75), (1, 0.5), (2, 0.75), (2, 1.5)])
def test_moment_fits_agree_with_the_R_path(degree: int, span: float) -> None:
    rng = np.random.default_rng(10 + degree)
    p = _risks(rng, 250, None)
    y = (rng.uniform(size=250) < expit(0.3 + np.log(p / (1 - p)))).astype(float)
    idx = rng.integers(0, 250, size=(30, 250))
    z = np.linspace(p.min(), p.max(), 101)
    many = loess_predict_many(p, y, z, span=span, degree=degree, idx=idx)
    for i in range(30):
        one = loess_fit(p[idx[i]], y[idx[i]], span=span, degree=degree).predict(z)
        assert_allclose(many[i], one, rtol=1e-9, atol=1e-12)


def test_nearly_singular_local_designs_take_the_R_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four tied x values: at the inner vertices the neighbours at the radius have
    weight 0, so the quadratic local design has one distinct x and R's pseudo-inverse
    decides; those vertices must be solved by R's path and equal loess_fit exactly."""
    rng = np.random.default_rng(6)
    x = np.repeat([0.0, 1.0, 2.0, 3.0], 10)
    y = rng.normal(size=x.size)
    idx = np.array([rng.permutation(x.size) for _ in range(5)])  # same x, new order
    calls: list[int] = []
    real = _loess._local_fits

    def spy(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(args[2].size)  # type: ignore[attr-defined]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_loess, "_local_fits", spy)
    fits = loess_fit_many(x[idx], y[idx], span=0.5)
    assert calls and calls[0] > 0
    monkeypatch.setattr(_loess, "_local_fits", real)
    for i in range(5):
        one = loess_fit(x[idx[i]], y[idx[i]], span=0.5)
        inner = (one.vertices > 0.0) & (one.vertices < 3.0)
        assert inner.any()
        assert_array_equal(fits[i].vertices, one.vertices)
        assert_array_equal(fits[i].values[inner], one.values[inner])
        assert_array_equal(fits[i].slopes[inner], one.slopes[inner])


@pytest.mark.parametrize("degree", [1, 2])
def test_neighbours_at_the_radius_get_weight_zero_as_in_R(degree: int) -> None:
    """At q = 0 the radius is 7 and 49 * (1 / 49) != 1 in floating point: R's
    r = sqrt(d / rho) gives the tied points at +-7 weight 0 (the local design then has
    one distinct x and R's pseudo-inverse sets the slope to 0); a radius rounded
    otherwise would give them weight ~1e-47 and let them set the slope."""
    from radval.stats._loess import _local_fits, _moment_fits

    xs = np.array([-30.0, -20, -7, -7, -7, 0, 0, 0, 0, 7, 7, 7, 20, 30])
    ys = np.array([0.0, 1, 1, 0, 2, 3, 1, 0, 2, 5, 1, 4, 0, 1])
    q = np.array([0.0])
    got = _moment_fits(xs[None], ys[None], np.zeros(1, dtype=np.intp), q, span=10 / 14,
                       degree=degree, nf=10)
    want = _local_fits(xs, ys, q, span=10 / 14, degree=degree, nf=10)
    assert_allclose(got, want, rtol=0, atol=1e-12)
    assert want[1][0] == 0.0


def test_zero_radius_neighbourhood_raises_as_R() -> None:
    x = np.array([np.linspace(0, 1, 20), np.r_[np.full(19, 0.5), 0.6]])
    with pytest.raises(DataError, match="radius 0"):
        loess_predict_many(x, np.ones_like(x), np.array([0.5]))


def test_band_is_the_quantiles_of_the_one_by_one_refits() -> None:
    """calibration_curve's band against a replay of its resamples with loess_fit and
    np.nanquantile (grid columns with and without undefined refits)."""
    rng = np.random.default_rng(9)
    n, b = 150, 200
    p = _risks(rng, n, None)
    y = (rng.uniform(size=n) < p).astype(int)
    res = calibration_curve(y, p, n_bootstrap=b, rng=5)
    g = res.curve["predicted"].to_numpy()
    idx = np.random.default_rng(5).integers(0, n, size=(b, n))
    boot = np.full((b, g.size), np.nan)
    for i in range(b):
        if y[idx[i]].min() != y[idx[i]].max():
            boot[i] = loess_fit(p[idx[i]], y[idx[i]].astype(float)).predict(g)
    used = np.isfinite(boot).sum(axis=0)
    assert (used < b).any() and (used == b).any()
    assert_array_equal(res.curve["n_resamples"], used)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(boot, [0.025, 0.975], axis=0)
    assert_allclose(res.curve["ci_low"], q[0], rtol=0, atol=1e-12)
    assert_allclose(res.curve["ci_high"], q[1], rtol=0, atol=1e-12)
