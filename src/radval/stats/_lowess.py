"""R's ``lowess`` (Cleveland 1979 LOWESS), re-implemented to match R bit for bit.

This is a port of the algorithm of ``clowess`` in R's ``src/library/stats/src/lowess.c``
(written from a reading of that file, not a copy): local linear fits with tricube
weights over the ``ns = max(2, min(n, floor(f n + 1e-7)))`` nearest neighbours,
evaluation skipping of points closer than ``delta`` (linearly interpolated
afterwards), ties on the right picked up into the window, and optional bisquare
robustness iterations with ``6 * median|residual|``.

The outer walk over evaluation points is inherently sequential (the window only
moves to the right), but each local fit is vectorised over its window, and with
R's default ``delta = 0.01 * range(x)`` only about 100 local fits are made.

References
----------
Cleveland WS. Robust locally weighted regression and smoothing scatterplots.
J Am Stat Assoc 1979;74:829-836.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["lowess"]

FloatArray = npt.NDArray[np.float64]


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Smallest j in [lo, hi) with ``pred(j)`` for a monotone predicate (else hi)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _local_fit(x: FloatArray, xl: list[float], y: FloatArray, xs: float, nleft: int,
               nright: int, rw: FloatArray | None) -> float | None:
    """Fitted value at ``xs`` from the window ``[nleft, nright]`` (0-based, inclusive).

    Mirrors R's ``lowest``: weights ``(1 - (r/h)^3)^3`` for ``r <= 0.999 h``
    (1 for ``r <= 0.001 h``) and 0 beyond, the window extended to the right over
    points with ``r <= 0.999 h`` (ties), and a weighted linear fit when the
    weighted spread of ``x`` exceeds ``0.001 * range(x)``.  Returns ``None`` when
    all weights are 0.
    """
    n = len(xl)
    rng = xl[n - 1] - xl[0]
    h = max(xs - xl[nleft], xl[nright] - xs)
    h9 = 0.999 * h
    h1 = 0.001 * h
    # R scans j = nleft, nleft+1, ... and stops at the first j with x_j > xs and
    # x_j - xs > h9; both tests are monotone in j on sorted x, so bisect.  Points
    # on the left with xs - x_j > h9 get weight 0 in R: skip them the same way.
    end = _first_true(nleft, n, lambda j: xl[j] > xs and xl[j] - xs > h9)
    begin = _first_true(nleft, end, lambda j: abs(xl[j] - xs) <= h9)
    xw = x[begin:end]
    r = np.abs(xw - xs)
    if h > 0.0:
        t = r / h
        u = 1.0 - t * t * t
        w = np.where(r <= h1, 1.0, u * u * u)
    else:
        w = np.ones_like(r)
    if rw is not None:
        w = w * rw[begin:end]
    a = float(w.sum())
    if a <= 0.0:
        return None
    w = w / a
    if h > 0.0:
        centre = float(np.sum(w * xw))
        b = xs - centre
        dx = xw - centre
        c = float(np.sum(w * dx * dx))
        if np.sqrt(c) > 0.001 * rng:
            b = b / c
            w = w * (b * dx + 1.0)
    # sums, not np.dot: BLAS threads are slow on a loaded machine and the
    # pairwise summation of np.sum is at least as accurate as R's loop
    return float(np.sum(w * y[begin:end]))


def _clowess(x: FloatArray, y: FloatArray, f: float, nsteps: int, delta: float) -> FloatArray:
    """Smooth ``y`` on sorted ``x``; returns the fitted values (R's ``clowess``)."""
    n = x.size
    ys = np.empty(n)
    if n < 2:
        ys[:] = y
        return ys
    ns = max(2, min(n, int(f * n + 1e-7)))
    xl = x.tolist()
    rw: FloatArray | None = None
    for iteration in range(nsteps + 1):
        nleft, nright = 0, ns - 1
        last = -1
        i = 0
        while True:
            if nright < n - 1:
                # Move the window right while that shrinks its radius: the first
                # k >= nleft with x_i - x_k <= x_{k+ns} - x_i.  The test is
                # monotone in k (also in floating point), so bisect instead of
                # stepping one point at a time as R does.
                lo, hi = nleft, n - ns
                xi = xl[i]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if xi - xl[mid] > xl[mid + ns] - xi:
                        lo = mid + 1
                    else:
                        hi = mid
                nleft, nright = lo, lo + ns - 1
            fit = _local_fit(x, xl, y, xl[i], nleft, nright, rw)
            ys[i] = y[i] if fit is None else fit
            if last < i - 1:
                # linear interpolation over the skipped points
                lo_y = ys[last]
                hi_y = ys[i]
                alpha = (x[last + 1:i] - xl[last]) / (xl[i] - xl[last])
                ys[last + 1:i] = alpha * hi_y + (1.0 - alpha) * lo_y
            last = i
            cut = xl[last] + delta
            if cut >= xl[last]:
                # points tied with x_last (contiguous, all <= cut) copy its fit
                tie_end = int(np.searchsorted(x, xl[last], side="right"))
                ys[last + 1:tie_end] = ys[last]
                last = tie_end - 1
                j = max(last + 1, int(np.searchsorted(x, cut, side="right")))
            else:
                j = last + 1
            i = max(last + 1, j - 1)
            if last >= n - 1:
                break
        if iteration == nsteps:
            break
        res = y - ys
        sc = float(np.sum(np.abs(res))) / n
        ares = np.abs(res)
        srt = np.sort(ares)
        m1 = n // 2
        cmad = 3.0 * float(srt[m1] + srt[n - m1 - 1]) if n % 2 == 0 else 6.0 * float(srt[m1])
        if cmad < 1e-7 * sc:
            break
        c9 = 0.999 * cmad
        c1 = 0.001 * cmad
        with np.errstate(divide="ignore", invalid="ignore"):
            q = ares / cmad
        v = 1.0 - q * q
        rw = np.where(ares <= c1, 1.0, np.where(ares <= c9, v * v, 0.0))
    return ys


def lowess(x: npt.ArrayLike, y: npt.ArrayLike, *, f: float = 2.0 / 3.0, iter: int = 3,
           delta: float | None = None) -> tuple[FloatArray, FloatArray]:
    """LOWESS smoother equal to R's ``stats::lowess``.

    Parameters
    ----------
    x, y : array-like
        Finite data of equal length.
    f : float, optional
        Smoother span: the proportion of points in each local fit (R default 2/3).
    iter : int, optional
        Number of robustness iterations (R default 3; ``rms::val.prob`` uses 0).
    delta : float, optional
        Points closer than ``delta`` to the last evaluation point are interpolated
        instead of fitted.  Default ``0.01 * (max(x) - min(x))`` as in R.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x_sorted, fitted)``, like R's ``list(x, y)``; ``x`` is sorted with a
        stable order (R's ``order``), so tied points keep their input order.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    order = np.argsort(xa, kind="stable")
    xs = xa[order]
    yo = ya[order]
    if delta is None:
        delta = 0.01 * (float(xs[-1] - xs[0]) if xs.size else 0.0)
    return xs, _clowess(xs, yo, float(f), int(iter), float(delta))
