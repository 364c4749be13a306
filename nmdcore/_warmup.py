"""Compile (or load) every solver's kernels ahead of the first run that needs them."""
from __future__ import annotations

import time

import numpy as np

from ._api import decompose, get_solver
from .registry import SOLVERS

#: Iterations of each warm-up run: enough to pass through every kernel of a solver's loop.
WARMUP_ITERATIONS = 3


def _tiny_problem(input_kind: str) -> np.ndarray:
    """A 24×20 matrix of the kind a solver accepts (20×20 symmetric for symmetric solvers)."""
    rng = np.random.default_rng(0)
    if input_kind == "symmetric":
        U = rng.standard_normal((20, 3))
        return np.maximum(0.0, U @ U.T - 0.5)
    if input_kind == "real":
        return rng.standard_normal((24, 20))
    return np.maximum(0.0, rng.standard_normal((24, 3)) @ rng.standard_normal((3, 20)))


def warmup(solvers=None) -> dict:
    """Make the first real run of every given solver start without compiling.

    The first run of a solver in a process compiles its numba kernels for the data's
    dtype (seconds for EM's E-step), or loads them from numba's disk cache when an
    earlier process compiled them (a few hundredths of a second each; where that cache
    lives is described in :mod:`nmdcore._kernels`). This function runs each solver for
    a few iterations on a tiny matrix, in float64 and in float32, so that every kernel
    and every first-call cost of the linear algebra is paid here, and later runs in
    this process start at once. It does not change any result; call it at start-up,
    for instance from a background thread (numba's compiler holds the GIL while it
    compiles, but a run may start meanwhile: it then compiles what it needs itself).

    Parameters
    ----------
    solvers : iterable of str or None
        Keys of :data:`nmdcore.SOLVERS` to prepare; None prepares all of them.

    Returns
    -------
    dict
        Seconds spent on each solver, keyed by solver.

    Raises
    ------
    UnknownSolverError
        For a key that is not a solver.

    Examples
    --------
    >>> import nmdcore
    >>> seconds = nmdcore.warmup(["ebcd", "em"])
    >>> sorted(seconds)
    ['ebcd', 'em']
    """
    keys = list(SOLVERS) if solvers is None else [get_solver(key).key for key in solvers]
    seconds = {}
    for key in keys:
        spec = SOLVERS[key]
        X = _tiny_problem(spec.input_kind)
        start = time.perf_counter()
        for dtype in (np.float64, np.float32):
            decompose(X.astype(dtype), 2, solver=key, max_iter=WARMUP_ITERATIONS, tol=0, tol_stall=0,
                      random_state=0)
        seconds[key] = time.perf_counter() - start
    return seconds
