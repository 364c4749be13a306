"""Kernel bodies of CD-NMD's breakpoint sweeps (compiled by :mod:`nmdcore._kernels`).

One coordinate of CD-NMD updates one variable per row of a block (an entry of H per
column of X, or of W per row of X) to the global minimiser of a piecewise quadratic
(:func:`nmdcore.solvers.coordinate.exact_coordinate_minimisers`). The pure NumPy path
does that with whole-block operations; these kernels do it row by row with the same
floating-point operations on every entry, the running sums sequential as NumPy's
``cumsum`` and the direct evaluations of φ summed pairwise as NumPy's ``sum``
(:func:`_pairwise_sum`). Only the three sums over the entries active left of every
breakpoint differ: NumPy has BLAS take them, in an order that depends on the block's
shape and even on where the arrays lie in memory; here they are sequential. So the
minimisers agree with NumPy's up to rounding.

The breakpoints are sorted between the two kernels by NumPy's ``argsort``, the call the
NumPy path makes (its vectorized sort is several times faster than a compiled one).
"""
from __future__ import annotations

import numpy as np


def _cd_detach(T, h, a, nonzero, neg_inv_a, breaks):
    """``T −= h aᵀ`` (remove the coordinate's contribution) and the breakpoints ``−T[:, nz] / a[nz]``.

    ``neg_inv_a`` is ``-1.0 / a[nonzero]``; ``breaks`` (rows, len(nonzero)) receives
    ``T[j, nonzero[l]] * neg_inv_a[l]``.
    """
    rows, p = T.shape
    K = nonzero.shape[0]
    for j in range(rows):
        hj = h[j]
        t_row = T[j]
        for i in range(p):
            t_row[i] = t_row[i] - hj * a[i]
        b_row = breaks[j]
        for l in range(K):
            b_row[l] = t_row[nonzero[l]] * neg_inv_a[l]


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


def _cd_attach(T, C, h, a, nonzero, order, breaks, sign, two_sign_a, sign_a2):
    """For every row j: ``h[j]`` ← the global minimiser of φ_j (or h[j] where not better); ``T += h aᵀ``.

    T holds Θ without the coordinate's contribution and ``breaks`` the breakpoints
    (:func:`_cd_detach`); ``order[j]`` sorts ``breaks[j]``. φ_j(x) =
    Σ_{i in nonzero} (C[j, i] − max(0, T[j, i] + x a_i))². With a and sign restricted to
    ``nonzero``: ``two_sign_a = 2 sign a``, ``sign_a2 = sign a a`` (sign an integer array).
    """
    rows, p = T.shape
    K = nonzero.shape[0]
    a_nz = np.empty(K, np.float64)
    q2_start = 0.0
    count_start = 0
    for l in range(K):
        a_nz[l] = a[nonzero[l]]
        if a_nz[l] < 0:
            q2_start += a_nz[l] * a_nz[l]
            count_start += 1
    linear = np.empty(K, np.float64)
    constant = np.empty(K, np.float64)
    err_best = np.empty(K, np.float64)
    err_current = np.empty(K, np.float64)
    frames = np.zeros((64, 3), np.int64)
    left = np.zeros(64, np.float64)
    for j in range(rows):
        t_row = T[j]
        c_row = C[j]
        o_row = order[j]
        b_row = breaks[j]
        # entry i toggles a_i² x² + 2 a_i (b_i − c_i) x + (b_i − c_i)² − c_i² in or out at its breakpoint
        q1 = 0.0
        q0 = 0.0
        for l in range(K):
            i = nonzero[l]
            b = t_row[i]
            c = c_row[i]
            linear[l] = (b - c) * two_sign_a[l]
            constant[l] = (b * sign[l]) * (b - 2.0 * c)
            if a_nz[l] < 0:
                q1 += linear[l]
                q0 += constant[l]
        q2 = q2_start
        q1 = -q1
        q0 = -q0
        count = count_start
        best_x = 0.0
        best_value = 0.0
        found = False  # a NaN value was met: np.argmin stops at the first one
        # interval 0 is (-inf, t_(1)], interval l is [t_(l), t_(l+1)]: running sums along the order
        for l in range(K + 1):
            if l > 0:
                o = o_row[l - 1]
                q2 += sign_a2[o]
                q1 += linear[o]
                q0 += constant[o]
                count += sign[o]
            active = count > 0
            if active:
                x = q1 / (-2.0 * q2)
            elif l == 0:
                x = np.inf
            else:
                x = -np.inf
            # clip to the interval as np.maximum / np.minimum do: a NaN stays NaN
            if l > 0:
                bound = b_row[o_row[l - 1]]
                if not (x != x or x > bound):
                    x = bound
            if l < K:
                bound = b_row[o_row[l]]
                if not (x != x or x < bound):
                    x = bound
            value = (q2 * x + q1) * x + q0 if active else q0
            if not found:
                if l == 0 or value != value or value < best_value:
                    best_value = value
                    best_x = x
                    found = value != value
        current = h[j]
        for l in range(K):
            i = nonzero[l]
            b = t_row[i]
            c = c_row[i]
            y = b + best_x * a_nz[l]
            if y <= 0.0:  # np.maximum(0, y): a NaN stays NaN
                y = 0.0
            err_best[l] = (c - y) * (c - y)
            y = b + current * a_nz[l]
            if y <= 0.0:
                y = 0.0
            err_current[l] = (c - y) * (c - y)
        if _pairwise_sum(err_best, K, frames, left) <= _pairwise_sum(err_current, K, frames, left):
            h[j] = best_x
        hj = h[j]
        for i in range(p):
            t_row[i] = t_row[i] + hj * a[i]


#: Helpers the kernels call, compiled with them (not inlined: the pairwise sum is long).
JIT_HELPERS = (_pairwise_leaf, _pairwise_sum)
