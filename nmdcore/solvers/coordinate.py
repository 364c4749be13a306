r"""CD-NMD: exact coordinate descent on LS-RMD (Awari et al., EUSIPCO 2024).

Minimises

.. math:: f(W, H) = \|X - \max(0, WH)\|_F^2

one entry of W or H at a time, each time exactly: with the other entries fixed,
f restricted to one entry is a piecewise quadratic of one variable whose global
minimiser is found by sorting its breakpoints.

The sweeps run on every core through compiled kernels (:mod:`nmdcore._cd_kernels`) when
numba is installed, else through whole-block NumPy operations; both give the same
minimisers up to rounding. A Stop (``decompose(..., stop_event=...)``) is honoured
between blocks of columns, inside a sweep.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _kernels
from .._linalg import sq_norm
from .._parallel import thread_count
from .._spec import GENERAL_PAGES, MemoryModel, SolverSpec
from .._cd_kernels import position_mask
from .._starts import balanced_tsvd_factors, start_array

#: Number of float64 entries of one block of columns processed at once: keeps a block's
#: sort workspace in cache and bounds memory on large matrices (compiled path on the MNIST
#: sample, r = 20: 2^15–2^17 equally fast, 2^18 7 % and 2^19 15 % slower per iteration).
BLOCK_ENTRIES = 1 << 16


def exact_coordinate_minimisers(a: np.ndarray, B: np.ndarray, C: np.ndarray,
                                current: np.ndarray) -> np.ndarray:
    r"""Global minimisers of many one-dimensional ReLU least-squares problems.

    For every row j, find

    .. math:: x_j = \arg\min_x \varphi_j(x), \quad
              \varphi_j(x) = \sum_i \bigl(C_{ji} - \max(0, a_i x + B_{ji})\bigr)^2 .

    φ_j is quadratic between the sorted breakpoints ``t = -B_ji / a_i`` (``a_i ≠ 0``);
    the best candidate of all K + 1 intervals, the two unbounded ones included, is
    returned. The running sums are checked against a direct evaluation: where the
    candidate is not better than ``current`` (possible only through rounding),
    ``current`` is kept, so φ_j never increases.

    Parameters
    ----------
    a : ndarray, shape (p,)
        Coefficients shared by all rows (a column of W, or a row of H).
    B, C : ndarray, shape (q, p)
        Offsets and targets, one problem per row.
    current : ndarray, shape (q,)
        The present values of the q variables.

    Returns
    -------
    ndarray, shape (q,), float64
    """
    current = np.asarray(current, dtype=np.float64)
    nonzero = np.flatnonzero(a)
    if nonzero.size == 0:  # φ is constant: nothing to improve
        return current.copy()
    a = np.asarray(a, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    if nonzero.size < a.size:  # entries with a_i = 0 add a constant to φ: leave them out
        a, B, C = a[nonzero], B[:, nonzero], C[:, nonzero]
    q, K = B.shape

    # Entry i is active (a_i x + b_i > 0) left of its breakpoint when a_i < 0, right of it
    # when a_i > 0; crossing it from left to right adds (sign +1) or removes (-1) the terms
    # a_i² x² + 2 a_i (b_i - c_i) x + (b_i - c_i)² - c_i²   (the constant Σ c_i² is left out).
    sign = np.where(a > 0, 1, -1)
    breaks = B * (-1.0 / a)
    order = np.argsort(breaks, axis=1)
    flat_order = order + (K * np.arange(q))[:, None]
    linear = (B - C) * (2.0 * sign * a)
    constant = (B * sign) * (B - 2.0 * C)

    # Coefficients on interval l = [t_(l), t_(l+1)] (t_(0) = -inf, t_(K+1) = +inf), l = 0..K:
    # column 0 holds those of (-inf, t_(1)], where exactly the entries with a_i < 0 are active
    # (minus their toggles); a running sum along the sorted toggles gives the others.
    # Column 0's sums are taken in index order, one entry after another, as the compiled
    # kernels take them: the running sums can cancel, so a BLAS dot product (whose order
    # depends on the CPU) would let the two paths pick minimisers ~1e-7 apart.
    negative = np.flatnonzero(a < 0)
    Q2 = np.empty((q, K + 1))
    Q1 = np.empty((q, K + 1))
    Q0 = np.empty((q, K + 1))
    count = np.empty((q, K + 1), dtype=np.int64)
    Q2[:, 0] = _sequential_sum((a * a)[negative])
    Q1[:, 0] = -_sequential_sum(linear[:, negative])
    Q0[:, 0] = -_sequential_sum(constant[:, negative])
    count[:, 0] = negative.size
    np.take(sign * a * a, order, out=Q2[:, 1:])
    np.take(linear, flat_order, out=Q1[:, 1:])
    np.take(constant, flat_order, out=Q0[:, 1:])
    np.take(sign, order, out=count[:, 1:])
    for Q in (Q2, Q1, Q0, count):
        np.cumsum(Q, axis=1, out=Q)

    # Candidate of each interval: its vertex clipped to the interval; with no active entry φ
    # is constant there and the finite endpoint is taken (an infinite "vertex" of the right
    # sign is clipped onto it).
    active = count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = Q1 / (-2.0 * Q2)
    x[:, 1:] = np.where(active[:, 1:], x[:, 1:], -np.inf)
    x[:, 0] = np.where(active[:, 0], x[:, 0], np.inf)
    t = np.take(breaks, flat_order)
    np.maximum(x[:, 1:], t, out=x[:, 1:])
    np.minimum(x[:, :-1], t, out=x[:, :-1])
    value = np.where(active, (Q2 * x + Q1) * x + Q0, Q0)
    best = x[np.arange(q), np.argmin(value, axis=1)]

    def phi(v):
        return np.sum((C - np.maximum(0.0, B + v[:, None] * a)) ** 2, axis=1)

    return np.where(phi(best) <= phi(current), best, current)


def _sequential_sum(values: np.ndarray) -> np.ndarray:
    """Sums along the last axis, one entry after another from 0.0 (not pairwise, not by BLAS)."""
    if values.shape[-1] == 0:
        return np.zeros(values.shape[:-1])
    return np.cumsum(values, axis=-1)[..., -1] + 0.0


def _sweep_rows_of_H(X: np.ndarray, theta: np.ndarray, W: np.ndarray, H: np.ndarray,
                     kernels=None, stop_requested=None) -> bool:
    """Minimise f exactly over H[0, :], then H[1, :], ... (in place; keeps theta = W H).

    Columns do not interact, so they are processed in blocks, every block through
    all r rows of H before the next (the source's column-outer, row-inner order).
    The W-sweep is this function applied to ``(X.T, theta.T, H.T, W.T)``.

    With ``kernels`` (the compiled kernels of :mod:`nmdcore._kernels`) the blocks run on
    every core, each through :func:`_minimise_block_compiled`; without, one after another
    through :func:`exact_coordinate_minimisers`. The compiled blocks leave out what cannot
    change: the rows of X where W is zero throughout (:func:`_coordinates`) and the columns
    where X and H are (:func:`_idle_columns`). Before each block ``stop_requested()``
    is asked; once it answers True no further block starts and False is returned
    (the finished blocks keep their updates, so f has not increased). Returns True when
    the sweep is complete.
    """
    m, n = X.shape
    width = max(1, BLOCK_ENTRIES // m)
    blocks = [slice(start, min(n, start + width)) for start in range(0, n, width)]
    stop_requested = stop_requested or (lambda: False)
    if kernels is None:
        for cols in blocks:
            if stop_requested():
                return False
            _minimise_block_numpy(X, theta, W, H, cols)
        return True
    used, coordinates = _coordinates(W)
    idle = _idle_columns(X, H)
    if idle.size:  # blocks of the other columns
        columns = np.setdiff1d(np.arange(n), idle)
        blocks = [columns[start:start + width] for start in range(0, columns.size, width)]
        if not blocks:
            return True

    def run(cols):
        if stop_requested():
            return False
        _minimise_block_compiled(kernels, X, theta, H, cols, coordinates, used)
        return True

    with ThreadPoolExecutor(max_workers=min(len(blocks), thread_count())) as pool:
        return all(list(pool.map(run, blocks)))


def _idle_columns(X, H):
    """The columns j where X and H are zero throughout: there φ_j(x) = Σ_i max(0, x W_ik)² is
    least at the current value 0, and the sweep would leave H[:, j] at ±0 and Θ's column
    unchanged. The compiled blocks leave them out (the W-sweep of the MNIST sample: the 99 of
    784 pixels no image uses, once W's rows there are 0; 12 % of the sweep)."""
    zero_h = np.flatnonzero(~np.any(H != 0, axis=0))
    return zero_h[~np.any(X[:, zero_h] != 0, axis=0)]


def _block_index(rows, cols):
    """The index of Θ's and X's block with the given rows and columns (slices or index arrays)."""
    if isinstance(rows, slice) or isinstance(cols, slice):
        return rows, cols
    return np.ix_(rows, cols)


def _block_arrays(X, theta, H, cols, rows=slice(None)):
    """float64 copies of one block: Θ and X transposed (row j = column j, its entries those of
    ``rows``), and H's columns."""
    index = _block_index(rows, cols)
    T = np.array(theta[index].T, dtype=np.float64)
    C = np.array(X[index].T, dtype=np.float64)
    h = np.array(H[:, cols], dtype=np.float64)
    return T, C, h


def _minimise_block_numpy(X, theta, W, H, cols):
    """One block of :func:`_sweep_rows_of_H` with whole-block NumPy operations."""
    T, C, h = _block_arrays(X, theta, H, cols)
    for k in range(H.shape[0]):
        a = W[:, k].astype(np.float64)
        T -= np.multiply.outer(h[k], a)   # B: theta without the contribution of entry k
        h[k] = exact_coordinate_minimisers(a, T, C, h[k])
        T += np.multiply.outer(h[k], a)
    theta[:, cols] = T.T
    H[:, cols] = h


class _Coordinate:
    """What the compiled path needs of one column a of W, computed once per sweep.

    The names and the operations are those of :func:`exact_coordinate_minimisers`
    (restricted to the nonzero entries of a), so that the kernels see the same numbers.
    """

    def __init__(self, column):
        self.a = column.astype(np.float64)
        self.nonzero = np.flatnonzero(self.a)
        a = self.a[self.nonzero]
        self.sign = np.where(a > 0, 1, -1)
        self.neg_inv_a = -1.0 / a
        self.two_sign_a = 2.0 * self.sign * a
        self.sign_a2 = self.sign * a * a
        self.mask = position_mask(a.size)


def _coordinates(W):
    """The rows of W with a nonzero entry and a :class:`_Coordinate` for each column of W there.

    A row of W that is zero in every column (a pixel no image uses) adds a constant to every
    φ, and its row of Θ does not change: the compiled blocks leave it out. On the MNIST sample
    (r = 20) that is 99 of 784 rows, and every coordinate then reads its rows in place; the
    H-sweep runs 6–10 % faster with the same iterates. ``used`` is ``slice(None)`` when every
    row has a nonzero entry.
    """
    used = np.flatnonzero(np.any(W != 0, axis=1))
    if used.size == W.shape[0]:
        used = slice(None)
    return used, [_Coordinate(W[used, k]) for k in range(W.shape[1])]


def _minimise_block_compiled(kernels, X, theta, H, cols, coordinates, used):
    """One block of :func:`_sweep_rows_of_H` through the compiled kernels (the same minimisers),
    on the rows ``used`` of X, where W has a nonzero entry (``coordinates`` are W's columns there)."""
    T, C, h = _block_arrays(X, theta, H, cols, used)
    rows = T.shape[0]
    size = rows * max(c.nonzero.size for c in coordinates)
    breaks_space, keys_space = np.empty(size), np.empty(size)
    for k, c in enumerate(coordinates):
        if c.nonzero.size == 0:  # φ is constant: nothing to improve
            continue
        breaks = breaks_space[:rows * c.nonzero.size].reshape(rows, -1)
        keys = keys_space[:rows * c.nonzero.size].reshape(rows, -1)
        kernels.cd_detach(T, h[k], c.a, c.nonzero, c.neg_inv_a, breaks, keys, c.mask)
        keys.sort(axis=1)  # the breakpoints in increasing order, their positions in the low bits
        kernels.cd_attach(T, C, h[k], c.a, c.nonzero, keys, c.mask, breaks, c.sign, c.two_sign_a, c.sign_a2)
    theta[_block_index(used, cols)] = T.T
    H[:, cols] = h


def _prepare_cd(problem, init):
    m, n = problem.shape
    r = problem.rank
    if not isinstance(init, str):
        return {"W": start_array(init, "W", (m, r), problem),
                "H": start_array(init, "H", (r, n), problem)}
    if init == "tsvd":
        W, H = balanced_tsvd_factors(problem)
    else:
        W = problem.rng.random((m, r)).astype(problem.dtype)
        H = problem.rng.random((r, n)).astype(problem.dtype)
    # Optimal scaling: max(0, sΘ) = s max(0, Θ) for s > 0, so f(sW, H) is a quadratic in s.
    positive_part = np.maximum(W @ H, 0)
    overlap = float(np.einsum("ij,ij->", positive_part, problem.X, dtype=np.float64))
    size = sq_norm(positive_part)
    if overlap > 0 and size > 0:
        W *= problem.dtype.type(overlap / size)
    return {"W": W, "H": H}


def _run_cd(problem, start, params, monitor):
    X = problem.X
    W, H = start["W"], start["H"]
    theta = W @ H
    work = np.empty_like(X)
    with np.errstate(over="ignore", invalid="ignore"):
        error = _kernels.relu_error(X, theta, problem.norm_X, work)
    best_error, best_W, best_H = error, W.copy(), H.copy()
    kernels = _kernels.fused_kernels()
    stop = monitor.record(error, error)
    while not stop:
        with np.errstate(over="ignore", invalid="ignore"):
            # a Stop inside the H-sweep skips the W-sweep; record() then ends the run
            if _sweep_rows_of_H(X, theta, W, H, kernels, monitor.stop_requested):
                _sweep_rows_of_H(X.T, theta.T, H.T, W.T, kernels, monitor.stop_requested)
            np.matmul(W, H, out=theta)  # drop the rounding drift of the rank-one updates
            error = _kernels.relu_error(X, theta, problem.norm_X, work)
        stop = monitor.record(error, error)
        if error < best_error:
            best_error = error
            np.copyto(best_W, W)
            np.copyto(best_H, H)
    if not error <= best_error:  # the last iterate is not the best one seen
        return best_W @ best_H, {"W": best_W, "H": best_H}
    return theta, {"W": W, "H": H}


SPECS = (
    SolverSpec(
        key="cd",
        label="CD-NMD",
        family="coordinate",
        model="LS-RMD",
        paper=('Awari, Nguyen, Wertz, Vandaele & Gillis (2024), "Coordinate descent algorithm for nonlinear '
               'matrix decomposition with the ReLU function", EUSIPCO 2024'),
        objective="ReLU error ‖X − max(0, WH)‖_F/‖X‖_F (what the public port records)",
        run=_run_cd,
        prepare_start=_prepare_cd,
        memory=MemoryModel(held=3, transient=2.5),
        pages=GENERAL_PAGES,
        start_names=("W", "H"),
        required_start=("W", "H"),
        tol=1e-4,
        tol_stall=1e-5,
        description=(
            "Exact coordinate descent on ‖X − max(0, WH)‖²: every entry of H, then of W, is set "
            "to the global minimiser of the piecewise-quadratic objective in that entry. The "
            "objective never increases; the best iterate seen is returned. Starts: 'tsvd' "
            "(U Σ^½, Σ^½ Vᵀ) or 'random' (U(0,1)), both optimally rescaled; explicit W, H as given."),
        summary=("Fits max(0, W H) to X directly in least squares, setting one entry of W or H at a time to "
                 "its exact best value. Pick it for the least-squares ReLU fit itself rather than a latent "
                 "model; it is slow on large data."),
    ),
)
