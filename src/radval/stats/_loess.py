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

:func:`loess_fit` and :func:`loess_direct` (the curve compared with R) solve every
local fit by R's QR + SVD.  The bootstrap band (:func:`loess_fit_many`,
:func:`loess_predict_many`) fits thousands of resamples in one batch and computes
the same quantities another way:

* the k-d trees of all rows are built one tree level at a time
  (:func:`_kd_vertices_many`); a cell's split depends only on its own positions,
  bounds and data, so the vertices are R's; only R's cap on the number of cells
  depends on the order of the splits, and rows that come near it are rebuilt with
  the sequential :func:`_kd_vertices`;
* the local fits (:func:`_moment_fits`) solve the equilibrated normal equations,
  built from weighted power sums of :math:`x - q` (the same Gram matrix as R's
  design, summed in another order), where the design's condition number is below
  1e4, and use R's QR + SVD on the others; the tricube radius is rounded as R
  rounds it and the rows are in the stable sort order, so that tied neighbours at
  the radius get weight 0 as in R and the nearly singular designs take R's path
  exactly as :func:`loess_fit` does.  Band values agree with the one-by-one QR
  fits to ~1e-13 on the benchmark and test data (the normal equations lose at
  most :math:`\\kappa^2\\epsilon` ~ 1e-8 relative, reached only near the
  threshold).  One known difference: when ties leave neighbours just inside the
  radius with weights ~1e-44, the equilibrated design can be well conditioned
  while R's Householder QR loses those weights in rounding; the normal equations
  then give the exact weighted fit and R's path a rounding-dominated slope;
* the surfaces are evaluated at the grid for all rows at once
  (``_Batch.predict``, the arithmetic of :meth:`LoessFit.predict`).

Speed comes from processing the (vertex, neighbour) arrays in blocks that stay in
the CPU cache instead of materialising them whole, from indexing each sorted row
instead of copying it per vertex, and from removing the per-resample Python loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radval.exceptions import DataError

__all__ = ["LoessFit", "loess_direct", "loess_fit", "loess_fit_many", "loess_predict_many"]

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
                nf: int) -> tuple[FloatArray, FloatArray]:
    """Value and slope of the local polynomial at each point of ``q`` (R's ``ehg127``).

    ``xs`` is sorted data (n,) shared by every point, or one sorted row per point
    (len(q), n), with ``y`` in the same order, so that fits to many bootstrap
    resamples run in one batch.  This is the path of the curve compared with R; the
    bootstrap band uses :func:`_moment_fits`.
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
    coef = _qr_svd_solve(b, eta) / colnorm
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
        s = _hermite(z, v[j], v[j + 1], self.values[j], self.values[j + 1], self.slopes[j],
                     self.slopes[j + 1])
        return np.where(inside, s, np.nan)


def _hermite(z: FloatArray, lo: FloatArray, hi: FloatArray, v0: FloatArray, v1: FloatArray,
             s0: FloatArray, s1: FloatArray) -> FloatArray:
    """Cubic Hermite interpolant on ``[lo, hi]`` with end values ``v0, v1`` and slopes
    ``s0, s1`` (R's ``ehg128``), shared by one fit and the batch of a band."""
    width = hi - lo
    h = (z - lo) / width
    phi0 = (1.0 - h) ** 2 * (1.0 + 2.0 * h)
    phi1 = h**2 * (3.0 - 2.0 * h)
    psi0 = h * (1.0 - h) ** 2
    psi1 = h**2 * (h - 1.0)
    return np.asarray(phi0 * v0 + phi1 * v1 + (psi0 * s0 + psi1 * s1) * width)


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


def _kd_vertices_many(xs: FloatArray, *, span: float,
                      cell: float) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """:func:`_kd_vertices` of every sorted row of ``xs`` (B, n), level by level.

    Returns the row of each vertex and the vertices, sorted by row and within rows.
    Each cell is split (or not) by its own positions, bounds and data only, so
    processing all cells of one tree level of all rows at once gives R's vertices;
    the order of the splits matters only for R's cap on the number of cells
    (``nvmax``), so a row whose tree comes near that cap is redone with the
    sequential :func:`_kd_vertices`.
    """
    b, n = xs.shape
    alpha, beta = xs[:, 0], xs[:, -1]
    mu = 0.005 * np.maximum(beta - alpha,
                            1e-10 * np.maximum(np.abs(alpha), np.abs(beta)) + 1e-30)
    lower, upper = alpha - mu, beta + mu
    fc = math.floor(n * (span * cell))
    nvmax = max(200, n)
    flat = xs.ravel()
    vrows = [np.arange(b), np.arange(b)]
    vvals = [lower, upper]
    n_cells = np.ones(b, dtype=np.intp)
    # the cells of one level: row, first and last 1-based positions, bounds
    row = np.arange(b)
    lo = np.ones(b, dtype=np.intp)
    hi = np.full(b, n, dtype=np.intp)
    v_lo, v_hi = lower, upper
    while row.size:
        split = (hi - lo + 1 > fc) & (v_hi - v_lo > 0.0)
        row, lo, hi, v_lo, v_hi = row[split], lo[split], hi[split], v_lo[split], v_hi[split]
        base = row * n - 1  # flat index of 1-based position m is base + m
        m = (lo + hi) // 2
        # the split moves off ties to the nearest position m + offset, offsets
        # 0, 1, -1, 2, -2, ... (R's loop), and stays at m once that leaves the cell
        pending = np.arange(row.size)
        offset = 0
        while pending.size:
            pos = m[pending] + offset
            inside = (lo[pending] <= pos) & (pos < hi[pending])
            pending, pos = pending[inside], pos[inside]
            tied = flat[base[pending] + pos] == flat[base[pending] + pos + 1]
            m[pending[~tied]] = pos[~tied]
            pending = pending[tied]
            offset = -offset + (1 if offset <= 0 else 0)
        xi = flat[base + m]
        ok = (xi != v_lo) & (xi != v_hi)
        row, lo, hi, m, v_lo, v_hi, xi = (a[ok] for a in (row, lo, hi, m, v_lo, v_hi, xi))
        vrows.append(row)
        vvals.append(xi)
        np.add.at(n_cells, row, 2)
        row = np.concatenate([row, row])
        lo, hi = np.concatenate([lo, m + 1]), np.concatenate([m, hi])
        v_lo, v_hi = np.concatenate([v_lo, xi]), np.concatenate([xi, v_hi])
    rows = np.concatenate(vrows)
    verts = np.concatenate(vvals)
    capped = np.flatnonzero(n_cells + 2 > nvmax)
    if capped.size:  # the cap may have stopped R's splitting early: R's sequential order
        keep = ~np.isin(rows, capped)
        redo = [_kd_vertices(xs[i], span=span, cell=cell) for i in capped]
        rows = np.concatenate([rows[keep], np.repeat(capped, [v.size for v in redo])])
        verts = np.concatenate([verts[keep], *redo])
    order = np.lexsort((verts, rows))
    return rows[order], verts[order]


def _window_starts(flat: FloatArray, n: int, rows: npt.NDArray[np.intp], q: FloatArray,
                   nf: int) -> npt.NDArray[np.intp]:
    """:func:`_nearest_windows` for points ``q`` of rows ``rows`` of the flattened
    sorted (B, n) data, indexing ``flat`` instead of copying each point's row."""
    base = rows * n
    lo = np.zeros(q.size, dtype=np.intp)
    hi = np.full(q.size, n - nf, dtype=np.intp)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        right = q - flat[base + mid] > flat[base + np.minimum(mid + nf, n - 1)] - q
        right &= lo < hi
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right | (lo >= hi), hi, mid)
    return lo


def _moment_fits(xs: FloatArray, ys: FloatArray, rows: npt.NDArray[np.intp], q: FloatArray,
                 *, span: float, degree: int, nf: int) -> tuple[FloatArray, FloatArray]:
    """Value and slope of the local fit at points ``q`` of rows ``rows`` of sorted
    (B, n) data, from weighted moments (the bootstrap band's fast path).

    With tricube weights :math:`W_i = (1 - r_i^3)^3` the local least-squares problem
    has the normal equations :math:`\\sum_{l} S_{j+l} \\beta_l = T_j` with
    :math:`S_j = \\sum_i W_i\\,\\Delta_i^j`, :math:`T_j = \\sum_i W_i\\,\\Delta_i^j\\,y_i`,
    :math:`\\Delta_i = x_i - q`: exactly the Gram matrix ``b'b`` and ``b'eta`` of R's
    weighted design (rows :math:`\\sqrt{W_i}\\,(1, \\Delta_i, \\Delta_i^2)`), summed in
    another order.  They are equilibrated (``b``'s column norms are
    :math:`\\sqrt{S_{2j}}`) and solved where that design's condition number is below
    1e4 (coefficients within ~1e-8 relative of R's at worst, ~1e-13 typically);
    elsewhere R's QR + SVD on the design (:func:`_local_fits`).

    Why it is fast: the (point, neighbour) arrays are processed in blocks of about
    32,000 entries that stay in the CPU cache, each neighbourhood is a slice of its
    sorted row (no (V, n) copy), the window's radius is its larger end distance,
    and the sums are BLAS matrix-vector products (``@ ones``) and ``vecdot``.
    """
    n = xs.shape[1]
    start = _window_starts(xs.ravel(), n, rows, q, nf)
    xwin = np.lib.stride_tricks.sliding_window_view(xs, nf, axis=1)
    ywin = np.lib.stride_tricks.sliding_window_view(ys, nf, axis=1)
    k = degree + 1
    s = np.empty((q.size, 2 * degree + 1))
    t = np.empty((q.size, k))
    ones = np.ones(nf)
    chunk = max(1, 32_768 // nf)
    pw = np.empty((k, chunk, nf))  # W, W dx, W dx^2 of one block
    dsq = np.empty((chunk, nf))
    tmp = np.empty((chunk, nf))
    for first in range(0, q.size, chunk):
        sl = slice(first, first + chunk)
        c = q[sl].size
        dx = xwin[rows[sl], start[sl]]
        yw = ywin[rows[sl], start[sl]]
        dx -= q[sl, None]
        d = np.multiply(dx, dx, out=dsq[:c])
        # the window is sorted, so its largest distance is at one of its ends
        rho = np.maximum(d[:, 0], d[:, -1]) * max(1.0, span)
        if np.any(rho <= 0.0):
            msg = ("loess: a neighbourhood has radius 0 (too many tied x values for the "
                   "span); R stops with the same error.")
            raise DataError(msg)
        # r exactly as R (and _local_fits) round it: points tied at the radius get
        # weight 0 there and here alike, which matters when ties make the fit
        # depend on such points (a nearly singular design)
        r = np.divide(d, rho[:, None], out=tmp[:c])
        np.sqrt(r, out=r)
        w = pw[0, :c]
        np.multiply(r, r, out=w)
        w *= r
        np.subtract(1.0, w, out=w)  # 1 - r^3
        np.multiply(w, w, out=r)
        w *= r  # (1 - r^3)^3
        for j in range(1, k):
            np.multiply(pw[j - 1, :c], dx, out=pw[j, :c])
        p = pw[:, :c]
        s[sl, :k] = (p.reshape(k * c, nf) @ ones).reshape(k, c).T
        t[sl] = np.vecdot(p, yw).T
        if degree >= 1:
            s[sl, k] = np.vecdot(p[-1], dx)
        if degree >= 2:
            s[sl, k + 1] = np.vecdot(p[-1], d)
    colnorm = np.sqrt(s[:, 0::2])
    colnorm[colnorm <= 0.0] = 1.0
    idx = np.arange(k)
    gram = s[:, idx[:, None] + idx[None, :]] / (colnorm[:, :, None] * colnorm[:, None, :])
    rhs = t / colnorm
    ev = np.linalg.eigvalsh(gram)
    good = ev[:, 0] > ev[:, -1] * 1e-8  # condition number of the design below 1e4
    if good.all():  # the usual case: no boolean-mask copies
        coef = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0] / colnorm
    else:
        coef = np.empty((q.size, k))
        coef[good] = np.linalg.solve(gram[good], rhs[good][:, :, None])[:, :, 0] / colnorm[good]
    bad = np.flatnonzero(~good)
    if bad.size:  # R's path on the (rare) nearly singular local designs
        value, slope = _local_fits(xs[rows[bad]], ys[rows[bad]], q[bad], span=span,
                                   degree=degree, nf=nf)
        coef[bad, 0] = value
        if degree >= 1:
            coef[bad, 1] = slope
    return coef[:, 0], (coef[:, 1] if degree >= 1 else np.zeros(q.size))


@dataclass(frozen=True)
class _Batch:
    """Interpolating loess surfaces of B rows, flat: the vertices of row ``i`` are
    ``vertices[bounds[i]:bounds[i + 1]]`` (sorted), with their values and slopes."""

    vertices: FloatArray
    values: FloatArray
    slopes: FloatArray
    bounds: npt.NDArray[np.intp]

    def predict(self, z: FloatArray) -> FloatArray:
        """(B, len(z)): every row's :meth:`LoessFit.predict` at ``z``, vectorised."""
        z = np.asarray(z, dtype=np.float64)
        first, last = self.bounds[:-1], self.bounds[1:] - 1
        out = np.empty((first.size, z.size))
        # blocks of rows whose (rows, z) temporaries stay in the CPU cache
        step = max(1, 65_536 // max(1, z.size))
        for r0 in range(0, first.size, step):
            f, e = first[r0:r0 + step], last[r0:r0 + step]
            width = e - f + 1
            # searchsorted(vertices, z, "left") of each row: its vertices below z (a
            # row with fewer vertices repeats its last; the clip absorbs the extra)
            below = np.zeros((f.size, z.size), dtype=np.intp)
            for i in range(int(width.max())):
                below += self.vertices[np.minimum(f + i, e)][:, None] < z
            j = f[:, None] + np.clip(below - 1, 0, width[:, None] - 2)
            s = _hermite(z, self.vertices[j], self.vertices[j + 1], self.values[j],
                         self.values[j + 1], self.slopes[j], self.slopes[j + 1])
            inside = (z >= self.vertices[f][:, None]) & (z <= self.vertices[e][:, None])
            out[r0:r0 + step] = np.where(inside, s, np.nan)
        return out


def _sorted_rows(x: FloatArray, y: FloatArray,
                 idx: npt.NDArray[np.intp] | None) -> tuple[FloatArray, FloatArray]:
    """Rows of ``x`` and ``y`` (or of ``x[idx]``, ``y[idx]``) sorted by ``x`` as the
    stable argsort sorts them (R's QR path, taken on nearly singular local designs,
    can depend on the order of tied x values through its rounding: keep one order).

    With ``idx`` the sort is on integer keys (dense rank of the value, then column),
    which order exactly as the stable float argsort and sort several times faster.
    """
    if idx is None:
        b, n = x.shape
        order = np.argsort(x, axis=1, kind="stable")
        flat = (order + n * np.arange(b)[:, None]).ravel()
        xs = np.ascontiguousarray(x, dtype=np.float64).ravel().take(flat).reshape(b, n)
        ys = np.ascontiguousarray(y, dtype=np.float64).ravel().take(flat).reshape(b, n)
        return xs, ys
    b, n = idx.shape
    _, rank = np.unique(x, return_inverse=True)  # equal values share a rank
    key = np.sort(rank.reshape(-1)[idx] * n + np.arange(n), axis=1)
    flat = (key % n + n * np.arange(b)[:, None]).ravel()
    who = idx.ravel().take(flat).reshape(b, n)
    return (np.asarray(x, dtype=np.float64)[who], np.asarray(y, dtype=np.float64)[who])


def _fit_batch(xs: FloatArray, ys: FloatArray, *, span: float, degree: int,
               cell: float) -> _Batch:
    """Interpolating loess fits of the sorted rows ``xs`` with ``ys``."""
    b, n = xs.shape
    nf = _n_neighbours(n, span, degree)
    rows, verts = _kd_vertices_many(xs, span=span, cell=cell)
    values, slopes = _moment_fits(xs, ys, rows, verts, span=span, degree=degree, nf=nf)
    bounds = np.searchsorted(rows, np.arange(b + 1))
    return _Batch(vertices=verts, values=values, slopes=slopes, bounds=bounds)


def loess_fit_many(x: FloatArray, y: FloatArray, *, span: float = 0.75, degree: int = 2,
                   cell: float = 0.2) -> list[LoessFit]:
    """:func:`loess_fit` of every row of ``x`` and ``y`` (shape (B, n)), batched.

    The k-d trees of all rows are built level by level and the local fits at all
    their vertices solved together from weighted moments (``_moment_fits``: the
    normal equations where the local design is well conditioned, R's QR + SVD
    elsewhere), which is what makes a 2000-resample bootstrap band cheap.
    """
    batch = _fit_batch(*_sorted_rows(x, y, None), span=span, degree=degree, cell=cell)
    bd = batch.bounds
    return [LoessFit(vertices=batch.vertices[bd[i]:bd[i + 1]],
                     values=batch.values[bd[i]:bd[i + 1]],
                     slopes=batch.slopes[bd[i]:bd[i + 1]]) for i in range(bd.size - 1)]


def loess_predict_many(x: FloatArray, y: FloatArray, z: FloatArray, *, span: float = 0.75,
                       degree: int = 2, cell: float = 0.2,
                       idx: npt.NDArray[np.intp] | None = None) -> FloatArray:
    """``[fit.predict(z) for fit in loess_fit_many(x, y)]`` as one (B, len(z)) array,
    without the per-row Python loop.

    ``idx`` (B, n): bootstrap indices; the rows are then ``x[idx]`` and ``y[idx]``
    for one-dimensional ``x`` and ``y`` (the same fits, sorted faster).
    """
    xs, ys = _sorted_rows(x, y, None if idx is None else np.asarray(idx, dtype=np.intp))
    return _fit_batch(xs, ys, span=span, degree=degree, cell=cell).predict(z)
