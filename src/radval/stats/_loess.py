"""R's ``loess`` for one predictor, re-implemented to match ``stats::loess``.

A port (from a reading of ``src/library/stats/src/loessf.f`` and ``loessc.c``, the
dloess code of Cleveland, Grosse and Shyu, not a copy) of what R computes for
``loess(y ~ x, span, degree, family = "gaussian")`` with one numeric predictor:

* **local fit** (``ehg127``) at a point :math:`q`: the
  :math:`n_f = \\lfloor n \\cdot \\mathrm{span} \\rfloor` nearest observations, radius
  :math:`h` = distance of the :math:`n_f`-th nearest (times ``span`` when ``span > 1``),
  tricube weights :math:`(1 - (|x - q|/h)^3)^3`, weighted least squares on
  :math:`1, (x - q), (x - q)^2` (up to ``degree``) with equilibrated columns and a
  pseudo-inverse that drops singular values below :math:`100\\,\\epsilon\\,\\sigma_1`.
  The fitted value is the intercept, the slope the linear coefficient.
* ``surface = "direct"``: the local fit at every evaluation point.
* ``surface = "interpolate"`` (R's default): a k-d tree (``ehg126``/``ehg124``).  The
  bounding box is the data range widened by 0.5% on each side; a cell holding more
  than :math:`f_c = \\lfloor n \\cdot \\mathrm{span} \\cdot \\mathrm{cell} \\rfloor`
  points is split at its median (ties go to the upper cell: the split moves to the
  nearest position, alternately right and left, where two neighbouring order
  statistics differ) unless the split value equals a cell bound.  The local fit
  (value and slope) is computed at every vertex, and the surface is the cubic
  Hermite interpolant of those values and slopes within each leaf cell
  (``ehg128``).  Outside the bounding box the prediction is NaN, as R's ``predict``.

``family = "symmetric"`` (robustness iterations) is not ported: the calibration
curve uses R's default gaussian family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radval.exceptions import DataError

__all__ = ["LoessFit", "loess_direct", "loess_fit", "loess_fit_many"]

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(np.float64).eps)


def _n_neighbours(n: int, span: float, degree: int) -> int:
    nf = min(n, math.floor(n * span))
    k = degree + 1
    if k > nf - 1:
        msg = (f"loess: span {span!r} is too small for {n} observations and degree {degree} "
               f"({nf} neighbours for {k} coefficients; R stops with 'span too small').")
        raise DataError(msg)
    return nf


def _nearest_windows(xs: FloatArray, q: FloatArray, nf: int) -> npt.NDArray[np.intp]:
    """First index of the ``nf`` nearest neighbours of ``q`` in each sorted row of ``xs``.

    On sorted data the ``nf`` nearest points form a window; its start ``s`` is the
    smallest with ``q - xs[s] <= xs[s + nf] - q`` (found by a vectorised bisection).
    Points tied at the window's radius have weight 0, so which of them is inside
    does not change the fit.
    """
    n = xs.shape[1]
    lo = np.zeros(q.size, dtype=np.intp)
    hi = np.full(q.size, n - nf, dtype=np.intp)
    rows = np.arange(q.size)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        right = q - xs[rows, mid] > xs[rows, np.minimum(mid + nf, n - 1)] - q
        right &= lo < hi
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right | (lo >= hi), hi, mid)
    return lo


def _householder(b: FloatArray, eta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Batched Householder QR without pivoting (LINPACK ``dqrdc``/``dqrsl``).

    ``b`` holds one design per row, columns first: shape (V, k, m).  Returns the
    upper-triangular ``R`` (V, k, k) and the first ``k`` entries of ``Q' eta``
    (V, k); ``b`` and ``eta`` are overwritten.  Written out because
    ``numpy.linalg.qr`` forms ``Q``, which is several times slower for the tall,
    thin local designs.
    """
    a, e = b, eta  # overwritten: both are temporaries of the caller
    k = a.shape[1]
    for j in range(k):
        u = a[:, j, :].copy()
        u[:, :j] = 0.0
        norm = np.sqrt(np.einsum("vm,vm->v", u, u))
        alpha = -np.copysign(norm, u[:, j])
        u[:, j] -= alpha
        unorm = np.sqrt(np.einsum("vm,vm->v", u, u))
        ok = unorm > 0.0
        u[ok] /= unorm[ok, None]
        u[~ok] = 0.0
        u *= np.sqrt(2.0)
        for c in range(j, k):
            a[:, c, :] -= u * np.einsum("vm,vm->v", u, a[:, c, :])[:, None]
        e -= u * np.einsum("vm,vm->v", u, e)[:, None]
    return np.triu(np.swapaxes(a[:, :, :k], 1, 2)), e[:, :k]


def _qr_svd_solve(b: FloatArray, eta: FloatArray) -> FloatArray:
    """R's ehg127 solve: QR, the SVD of R, and a pseudo-inverse dropping singular values
    below 100 eps times the largest (``b`` columns equilibrated; overwritten)."""
    rm, qty = _householder(b, eta)
    u, sig, vt = np.linalg.svd(rm)
    tol = sig[:, :1] * (100.0 * _EPS)
    gam = np.einsum("vjk,vj->vk", u, qty)
    with np.errstate(divide="ignore", invalid="ignore"):
        gam = np.where(sig > tol, gam / sig, 0.0)
    return np.asarray(np.einsum("vkj,vk->vj", vt, gam), dtype=np.float64)


def _local_fits(xs: FloatArray, y: FloatArray, q: FloatArray, *, span: float, degree: int,
                nf: int, fast: bool = False) -> tuple[FloatArray, FloatArray]:
    """Value and slope of the local polynomial at each point of ``q`` (R's ``ehg127``).

    ``xs`` is sorted data (n,) shared by every point, or one sorted row per point
    (len(q), n), with ``y`` in the same order, so that fits to many bootstrap
    resamples run in one batch.

    ``fast``: solve the (equilibrated) normal equations instead of R's QR + SVD
    wherever the local design is well conditioned (condition number < 1e4, so the
    coefficients agree to ~1e-8 relative at worst, ~1e-13 typically) and R's path
    elsewhere; used for bootstrap bands, never for the curve compared with R.
    """
    x2 = np.broadcast_to(xs, (q.size, xs.shape[-1]))
    y2 = np.broadcast_to(y, (q.size, y.shape[-1]))
    start = _nearest_windows(x2, q, nf)
    cols_idx = start[:, None] + np.arange(nf)
    xw = np.take_along_axis(x2, cols_idx, axis=1)
    yw = np.take_along_axis(y2, cols_idx, axis=1)
    dx = xw - q[:, None]
    d = dx * dx
    rho = d.max(axis=1) * max(1.0, span)
    if np.any(rho <= 0.0):
        msg = ("loess: a neighbourhood has radius 0 (too many tied x values for the span); "
               "R stops with the same error.")
        raise DataError(msg)
    r = np.sqrt(d / rho[:, None])
    t = 1.0 - r * r * r
    w = np.sqrt(t * t * t)  # Fortran's (1 - r**3)**3: integer powers by multiplication
    k = degree + 1
    b = np.empty((q.size, k, nf))
    b[:, 0, :] = w
    if degree >= 1:
        np.multiply(w, dx, out=b[:, 1, :])
    if degree >= 2:
        np.multiply(b[:, 1, :], dx, out=b[:, 2, :])
    eta = w * yw
    colnorm = np.sqrt(np.einsum("vkm,vkm->vk", b, b))
    colnorm[colnorm <= 0.0] = 1.0
    b /= colnorm[:, :, None]
    coef = np.empty((q.size, k))
    exact = np.ones(q.size, dtype=bool)
    if fast:
        gram = np.einsum("vkm,vlm->vkl", b, b)
        rhs = np.einsum("vkm,vm->vk", b, eta)
        ev = np.linalg.eigvalsh(gram)
        good = ev[:, 0] > ev[:, -1] * 1e-8  # condition number of b below 1e4
        if good.any():
            coef[good] = np.linalg.solve(gram[good], rhs[good][:, :, None])[:, :, 0]
        exact = ~good
    if exact.any():
        coef[exact] = _qr_svd_solve(b[exact], eta[exact])
    coef = coef / colnorm
    value = coef[:, 0]
    slope = coef[:, 1] if degree >= 1 else np.zeros_like(value)
    return value, slope


def loess_direct(x: FloatArray, y: FloatArray, z: FloatArray, *, span: float = 0.75,
                 degree: int = 2) -> FloatArray:
    """``predict(loess(y ~ x, span, degree, surface = "direct"), z)``."""
    nf = _n_neighbours(x.size, span, degree)
    order = np.argsort(x, kind="stable")
    return _local_fits(x[order], y[order], z, span=span, degree=degree, nf=nf)[0]


@dataclass(frozen=True)
class LoessFit:
    """An interpolating loess surface: sorted vertices with values and slopes."""

    vertices: FloatArray
    values: FloatArray
    slopes: FloatArray

    def predict(self, z: FloatArray) -> FloatArray:
        """Cubic Hermite interpolation within the k-d tree cells (R's ``ehg128``)."""
        v = self.vertices
        z = np.asarray(z, dtype=np.float64)
        inside = (z >= v[0]) & (z <= v[-1])
        j = np.clip(np.searchsorted(v, z, side="left") - 1, 0, v.size - 2)
        lo, hi = v[j], v[j + 1]
        width = hi - lo
        h = (z - lo) / width
        phi0 = (1.0 - h) ** 2 * (1.0 + 2.0 * h)
        phi1 = h**2 * (3.0 - 2.0 * h)
        psi0 = h * (1.0 - h) ** 2
        psi1 = h**2 * (h - 1.0)
        s = (phi0 * self.values[j] + phi1 * self.values[j + 1]
             + (psi0 * self.slopes[j] + psi1 * self.slopes[j + 1]) * width)
        return np.where(inside, s, np.nan)


def _kd_vertices(xs: FloatArray, *, span: float, cell: float) -> FloatArray:
    """Vertices of R's k-d tree for sorted one-dimensional ``xs`` (``ehg126``, ``ehg124``)."""
    n = xs.size
    alpha, beta = float(xs[0]), float(xs[-1])
    mu = 0.005 * max(beta - alpha, 1e-10 * max(abs(alpha), abs(beta)) + 1e-30)
    lower, upper = alpha - mu, beta + mu
    fc = math.floor(n * (span * cell))
    nvmax = max(200, n)
    verts = [lower, upper]
    # cells as (first, last) 1-based positions in xs with their bounds, in R's order
    cells: list[tuple[int, int, float, float]] = [(1, n, lower, upper)]
    p = 0
    while p < len(cells):
        lo_pos, hi_pos, v_lo, v_hi = cells[p]
        leaf = (hi_pos - lo_pos + 1) <= fc or (v_hi - v_lo) <= 0.0
        if not leaf:
            leaf = nvmax < len(cells) + 2 or nvmax < len(verts) + 1
        if not leaf:
            m = (lo_pos + hi_pos) // 2
            offset = 0
            while lo_pos <= m + offset < hi_pos:
                if xs[m + offset - 1] == xs[m + offset]:
                    offset = -offset
                    if offset >= 0:
                        offset += 1
                else:
                    m += offset
                    break
            xi = float(xs[m - 1])
            leaf = xi in (v_lo, v_hi)
            if not leaf:
                verts.append(xi)
                cells.append((lo_pos, m, v_lo, xi))
                cells.append((m + 1, hi_pos, xi, v_hi))
        p += 1
    return np.sort(np.asarray(verts, dtype=np.float64))


def loess_fit(x: FloatArray, y: FloatArray, *, span: float = 0.75, degree: int = 2,
              cell: float = 0.2) -> LoessFit:
    """``loess(y ~ x, span, degree, family = "gaussian")`` with R's default surface.

    ``surface = "interpolate"``, ``cell = 0.2``; ``fitted(fit)`` is
    ``LoessFit.predict(x)``.
    """
    nf = _n_neighbours(x.size, span, degree)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    verts = _kd_vertices(xs, span=span, cell=cell)
    values, slopes = _local_fits(xs, ys, verts, span=span, degree=degree, nf=nf)
    return LoessFit(vertices=verts, values=values, slopes=slopes)


def loess_fit_many(x: FloatArray, y: FloatArray, *, span: float = 0.75, degree: int = 2,
                   cell: float = 0.2) -> list[LoessFit]:
    """:func:`loess_fit` of every row of ``x`` and ``y`` (shape (B, n)), batched.

    The local fits at the vertices of all rows are solved together, by the normal
    equations where the local design is well conditioned (see ``_local_fits``),
    which is what makes a 2000-resample bootstrap band cheap.
    """
    b, n = x.shape
    nf = _n_neighbours(n, span, degree)
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    verts = [_kd_vertices(xs[i], span=span, cell=cell) for i in range(b)]
    sizes = np.array([v.size for v in verts])
    rows = np.repeat(np.arange(b), sizes)
    q = np.concatenate(verts)
    values = np.empty(q.size)
    slopes = np.empty(q.size)
    chunk = max(1, 4_000_000 // max(1, n))
    for start in range(0, q.size, chunk):
        sl = slice(start, start + chunk)
        values[sl], slopes[sl] = _local_fits(xs[rows[sl]], ys[rows[sl]], q[sl], span=span,
                                             degree=degree, nf=nf, fast=True)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [LoessFit(vertices=verts[i], values=values[bounds[i]:bounds[i + 1]],
                     slopes=slopes[bounds[i]:bounds[i + 1]]) for i in range(b)]
