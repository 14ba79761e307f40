"""Weighted concordance counts by merge sort: the one pair-counting routine of Harrell's C
(:func:`radval.stats.concordance_index`) and Uno's C (:func:`radval.stats.uno_c`).

Both count, over comparable pairs, how often the patient with the earlier event has the
higher score, with ties in score counted half, weighted by the event's weight (1 for
Harrell, the inverse squared censoring survival for Uno), in O(n log^2 n), and give the
infinitesimal-jackknife variance of ``survival::concordancefit``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_NAN = float("nan")


def _merge_counts(srank: IntArray, wt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inversions of a sequence, counted from both ends, by a vectorised merge sort.

    For each position i: ``count[i] = #{j > i : s_j < s_i}`` and
    ``wsum[i] = sum(wt_j for j < i with s_j > s_i)``.  Each level of the bottom-up
    merge sort compares left and right halves of blocks with ``searchsorted``
    on (block, rank) keys, so the cost is O(n log^2 n) in numpy.
    """
    n = srank.size
    count = np.zeros(n)
    wsum = np.zeros(n)
    pos = np.arange(n, dtype=np.int64)
    big = int(srank.max()) + 2
    s64 = srank.astype(np.int64)
    h = 1
    while h < n:
        block = pos // (2 * h)
        left = (pos % (2 * h)) < h
        key = block * big + s64
        # right halves, sorted by key: count right elements below each left element
        rk = np.sort(key[~left])
        li = np.flatnonzero(left)
        count[li] += (np.searchsorted(rk, key[li], side="left")
                      - np.searchsorted(rk, block[li] * big, side="left"))
        # left halves, sorted by key, cumulative weights: weight above each right element
        lo = np.argsort(key[left], kind="stable")
        lk = key[left][lo]
        lw = np.concatenate(([0.0], np.cumsum(wt[left][lo])))
        ri = np.flatnonzero(~left)
        upto = np.searchsorted(lk, key[ri], side="right")
        block_end = np.searchsorted(lk, (block[ri] + 1) * big, side="left")
        wsum[ri] += lw[block_end] - lw[upto]
        h *= 2
    return count, wsum


def _weighted_concordance(t: FloatArray, e: FloatArray, s: FloatArray, w_event: FloatArray
                          ) -> tuple[float, float, float, float]:
    """Weighted concordance counts and IJ variance, as ``survival::concordancefit``.

    A pair (i, j) is comparable when i has an event and j is still at risk after
    it (``T_j > T_i``, or ``T_j = T_i`` with j censored); its weight is
    ``w_event[i]``.  Concordant when ``s_i > s_j`` (higher score, earlier event).
    Returns (concordant, discordant, tied_score, variance of C).
    """
    n = t.size
    # position key: (time, censored after events); comparable <=> key_j > key_i
    pkey = np.lexsort((1.0 - e, t))
    pos_rank = np.empty(n, dtype=np.int64)
    tk = np.stack([t[pkey], 1.0 - e[pkey]], axis=1)
    new = np.ones(n, dtype=bool)
    new[1:] = (tk[1:] != tk[:-1]).any(axis=1)
    pos_rank[pkey] = np.cumsum(new) - 1
    _, srank = np.unique(s, return_inverse=True)
    srank = srank.astype(np.intp)
    w = np.where(e == 1, w_event, 0.0)
    # concordant: order by (position, score asc) so tied positions never count
    o1 = np.lexsort((srank, pos_rank))
    c_e, c_l = _merge_counts(srank[o1], w[o1])
    # discordant: order by (position, score desc)
    o2 = np.lexsort((-srank, pos_rank))
    d_e, d_l = _merge_counts(-srank[o2] + int(srank.max()), w[o2])
    conc_e, conc_l = np.empty(n), np.empty(n)
    disc_e, disc_l = np.empty(n), np.empty(n)
    conc_e[o1], conc_l[o1] = c_e, c_l
    disc_e[o2], disc_l[o2] = d_e, d_l
    # comparable: everyone at a later position (as earlier member), weight of earlier events
    n_pos = int(pos_rank.max()) + 1
    per_pos = np.bincount(pos_rank, minlength=n_pos).astype(np.float64)
    w_pos = np.bincount(pos_rank, weights=w, minlength=n_pos)
    comp_e = per_pos[::-1].cumsum()[::-1][pos_rank] - per_pos[pos_rank]
    comp_l = np.cumsum(w_pos)[pos_rank] - w_pos[pos_rank]
    tie_e = comp_e - conc_e - disc_e
    tie_l = comp_l - conc_l - disc_l
    i_conc = w * conc_e + conc_l
    i_disc = w * disc_e + disc_l
    i_tie = w * tie_e + tie_l
    nc = float((w * conc_e).sum())
    nd = float((w * disc_e).sum())
    nt = float((w * tie_e).sum())
    npair = nc + nd + nt
    if npair <= 0:
        return nc, nd, nt, _NAN
    somer = (nc - nd) / npair
    dfbeta = (i_conc - i_disc) / npair - somer / npair * (i_conc + i_disc + i_tie)
    return nc, nd, nt, float(np.sum(dfbeta**2) / 4.0)
