"""Kernel bodies of CD-NMD's breakpoint sweeps (compiled by :mod:`nmdcore._kernels`).

One coordinate of CD-NMD updates one variable per row of a block (an entry of H per
column of X, or of W per row of X) to the global minimiser of a piecewise quadratic
(:func:`nmdcore.solvers.coordinate.exact_coordinate_minimisers`). The pure NumPy path
does that with whole-block operations; these kernels do it row by row with the same
floating-point operations on every entry, the running sums sequential as NumPy's
``cumsum`` (the sums over the entries active left of every breakpoint included) and the
direct evaluations of φ summed pairwise as NumPy's ``sum`` (:func:`_pairwise_sum`). Two
things differ. Where an interval's vertex −q1 / (2 q2) lies against the interval is
decided by comparing −q1 with 2 q2 times its ends, so the division is made only for a
vertex inside it (a local minimum of φ, rare). And the sort (below). So the minimisers
agree with NumPy's up to rounding, and on the test inputs bit for bit.

Between the two kernels the breakpoints are sorted by NumPy's float sort, on keys that
carry each breakpoint's position in the low bits of its significand
(:func:`position_mask`): a vectorized sort of the values is two to three times faster
than ``argsort`` (measured: 3.1 against 10.3 ns per entry for rows of 5000). Breakpoints
that agree in all but those bits (a relative difference below 2^-(52 - bits), about 1e-12
for 5000 entries) come out in the order of their positions instead of their values; φ is
continuous, so that changes the candidate values at such near-ties by rounding only.
"""
from __future__ import annotations

import numpy as np


def position_mask(K: int) -> np.uint64:
    """The low bits of a float64 sort key that hold a position among ``K`` breakpoints."""
    return np.uint64((1 << max(1, (K - 1).bit_length())) - 1)


def _cd_detach(T, h, a, nonzero, neg_inv_a, breaks, keys, mask):
    """``T −= h aᵀ`` (remove the coordinate's contribution), the breakpoints ``−T[:, nz] / a[nz]``
    and their sort keys.

    ``neg_inv_a`` is ``-1.0 / a[nonzero]``; ``breaks`` (rows, len(nonzero)) receives
    ``T[j, nonzero[l]] * neg_inv_a[l]``, and ``keys`` (same shape, float64) their sort keys
    (:func:`_breakpoint_keys`).
    """
    rows, p = T.shape
    for j in range(rows):
        hj = h[j]
        t_row = T[j]
        for i in range(p):
            t_row[i] = t_row[i] - hj * a[i]
        _breakpoint_keys(t_row, nonzero, neg_inv_a, breaks[j], keys[j], mask)


def _breakpoint_keys(t_row, nonzero, neg_inv_a, b_row, k_row, mask):
    """One row of breakpoints ``b_row[l] = t_row[nonzero[l]] * neg_inv_a[l]`` and their keys.

    ``k_row[l]`` is the breakpoint with the low bits of its significand (``mask``,
    :func:`position_mask`) replaced by its position l: sorting the row of keys with NumPy's
    float sort orders the breakpoints and carries their positions along. Keys are finite:
    ±inf becomes ±(a float just below the largest) and NaN the largest float, so the order
    is argsort's (−inf first; +inf, then NaN, last) and no key is a NaN, which NumPy's
    vectorized sort would replace by a NaN of its own, losing the position.
    """
    K = nonzero.shape[0]
    if K == t_row.shape[0]:  # every a_i is nonzero: read the row in place
        for l in range(K):
            b_row[l] = t_row[l] * neg_inv_a[l]
    else:
        for l in range(K):
            b_row[l] = t_row[nonzero[l]] * neg_inv_a[l]
    bb_row = b_row.view(np.uint64)
    kb_row = k_row.view(np.uint64)
    keep = ~mask
    sign = np.uint64(0x8000000000000000)
    infinity = np.uint64(0x7FF0000000000000)
    largest = np.uint64(0x7FEFFFFFFFFFFFFF)  # the largest float
    below_largest = largest - (mask + np.uint64(1))  # its key with the position bits cleared, one step down
    for l in range(K):
        bits = bb_row[l]
        magnitude = bits & ~sign
        bits = (bits & sign) | below_largest if magnitude == infinity else bits
        bits = largest if magnitude > infinity else bits
        kb_row[l] = (bits & keep) | np.uint64(l)


def _pairwise_leaf(v, start, n):
    """NumPy's sum of ``v[start:start + n]`` for n <= 128: 8 interleaved accumulators."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += v[start + i]
        return res
    r0, r1, r2, r3 = v[start], v[start + 1], v[start + 2], v[start + 3]
    r4, r5, r6, r7 = v[start + 4], v[start + 5], v[start + 6], v[start + 7]
    i = 8
    while i < n - n % 8:
        r0 += v[start + i]
        r1 += v[start + i + 1]
        r2 += v[start + i + 2]
        r3 += v[start + i + 3]
        r4 += v[start + i + 4]
        r5 += v[start + i + 5]
        r6 += v[start + i + 6]
        r7 += v[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += v[start + i]
        i += 1
    return res


def _pairwise_sum(v, n, frames, left):
    """``np.sum(v[:n])`` bit for bit: NumPy's pairwise summation.

    Ranges of more than 128 entries are split at half their length rounded down to a
    multiple of 8, and the halves' sums added; shorter ones go to :func:`_pairwise_leaf`.
    An explicit stack replaces the recursion: ``frames[f] = (start, size, stage)`` with
    stage 0 (nothing done), 1 (left half under way), 2 (right half under way, the left
    half's sum in ``left[f]``); 64 frames are enough for any length.
    """
    if n <= 128:
        return _pairwise_leaf(v, 0, n)
    frames[0, 0] = 0
    frames[0, 1] = n
    frames[0, 2] = 0
    top = 1
    while True:
        f = top - 1
        start = frames[f, 0]
        size = frames[f, 1]
        if size <= 128:
            value = _pairwise_leaf(v, start, size)
            top -= 1
            while True:  # hand the sum up, completing every parent whose right half it was
                parent = top - 1
                if frames[parent, 2] == 1:
                    left[parent] = value
                    break
                value = left[parent] + value
                top -= 1
                if top == 0:
                    return value
            continue
        half = size // 2
        half -= half % 8
        if frames[f, 2] == 0:
            frames[f, 2] = 1
            frames[top, 0] = start
            frames[top, 1] = half
        else:
            frames[f, 2] = 2
            frames[top, 0] = start + half
            frames[top, 1] = size - half
        frames[top, 2] = 0
        top += 1


def _cd_attach(T, C, h, a, nonzero, keys, mask, breaks, sign, two_sign_a, sign_a2):
    """For every row j: ``h[j]`` ← the global minimiser of φ_j (or h[j] where not better); ``T += h aᵀ``.

    T holds Θ without the coordinate's contribution and ``breaks`` the breakpoints;
    ``keys[j]`` is the sorted row of :func:`_cd_detach`'s keys, whose bits under ``mask``
    are the positions of ``breaks[j]`` in increasing order. φ_j(x) =
    Σ_{i in nonzero} (C[j, i] − max(0, T[j, i] + x a_i))². With a and sign restricted to
    ``nonzero``: ``two_sign_a = 2 sign a``, ``sign_a2 = sign a a`` (sign an integer array).
    """
    rows, p = T.shape
    K = nonzero.shape[0]
    key_bits = keys.view(np.uint64)
    a_nz = np.empty(K, np.float64)
    q2_start = 0.0
    count_start = 0
    negative = np.empty(K, np.int64)  # positions with a < 0, increasing
    for l in range(K):
        a_nz[l] = a[nonzero[l]]
        if a_nz[l] < 0:
            q2_start += a_nz[l] * a_nz[l]
            negative[count_start] = l
            count_start += 1
    pack = np.empty((K, 4), np.float64)  # sign a², sign, linear, constant: one cache line per gather
    for l in range(K):
        pack[l, 0] = sign_a2[l]
        pack[l, 1] = sign[l]
    dense = K == p  # every a_i is nonzero: the rows are read in place, without gathers
    t_buf = np.empty(K, np.float64)
    c_buf = np.empty(K, np.float64)
    err_best = np.empty(K, np.float64)
    err_current = np.empty(K, np.float64)
    frames = np.zeros((64, 3), np.int64)
    left = np.zeros(64, np.float64)
    for j in range(rows):
        t_row = T[j]
        c_row = C[j]
        kb_row = key_bits[j]
        b_row = breaks[j]
        if dense:
            t_nz = t_row
            c_nz = c_row
        else:
            for l in range(K):
                t_buf[l] = t_row[nonzero[l]]
                c_buf[l] = c_row[nonzero[l]]
            t_nz = t_buf
            c_nz = c_buf
        # entry i toggles a_i² x² + 2 a_i (b_i − c_i) x + (b_i − c_i)² − c_i² in or out at its breakpoint
        q1 = 0.0
        q0 = 0.0
        for l in range(K):
            b = t_nz[l]
            c = c_nz[l]
            lin = (b - c) * two_sign_a[l]
            con = (b * sign[l]) * (b - 2.0 * c)
            pack[l, 2] = lin
            pack[l, 3] = con
        for t in range(count_start):  # the entries active left of every breakpoint, in order
            q1 += pack[negative[t], 2]
            q0 += pack[negative[t], 3]
        q2 = q2_start
        q1 = -q1
        q0 = -q0
        count = count_start
        best_x = 0.0
        best_value = 0.0
        found = False  # a NaN value was met: np.argmin stops at the first one
        o = 0
        lower = 0.0
        # interval 0 is (-inf, t_(1)], interval l is [t_(l), t_(l+1)]: running sums along the order
        for l in range(K + 1):
            if l > 0:
                q2 += pack[o, 0]
                count += np.int64(pack[o, 1])
                q1 += pack[o, 2]
                q0 += pack[o, 3]
            active = count > 0
            if l < K:
                o = np.int64(kb_row[l] & mask)  # the breakpoint that ends this interval
                upper = b_row[o]
            if active and q2 > 0.0:
                # where the vertex -q1 / (2 q2) lies against the interval, without dividing
                twice = 2.0 * q2
                if l > 0 and not (-q1 > twice * lower):
                    x = lower
                elif l < K and not (-q1 < twice * upper):
                    x = upper
                else:
                    x = q1 / (-2.0 * q2)
                value = (q2 * x + q1) * x + q0
            else:
                if active:
                    x = q1 / (-2.0 * q2)
                elif l == 0:
                    x = np.inf
                else:
                    x = -np.inf
                x = lower if x <= lower and l > 0 else x
                x = upper if x >= upper and l < K else x
                value = (q2 * x + q1) * x + q0 if active else q0
            if l < K:
                lower = upper
            if value != value:  # np.argmin stops at the first NaN
                if not found:
                    best_x = x
                    found = True
            elif not found:
                better = l == 0 or value < best_value
                best_value = value if better else best_value
                best_x = x if better else best_x
        current = h[j]
        for l in range(K):
            b = t_nz[l]
            c = c_nz[l]
            y = b + best_x * a_nz[l]
            y = 0.0 if y <= 0.0 else y  # np.maximum(0, y): a NaN stays NaN
            err_best[l] = (c - y) * (c - y)
            y = b + current * a_nz[l]
            y = 0.0 if y <= 0.0 else y
            err_current[l] = (c - y) * (c - y)
        if _pairwise_sum(err_best, K, frames, left) <= _pairwise_sum(err_current, K, frames, left):
            h[j] = best_x
        hj = h[j]
        for i in range(p):
            t_row[i] = t_row[i] + hj * a[i]


#: Helpers the kernels call, compiled with them (not inlined: the pairwise sum is long).
JIT_HELPERS = (_pairwise_leaf, _pairwise_sum, _breakpoint_keys)
