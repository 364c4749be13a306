"""The public entry point :func:`decompose` and its :class:`Result`."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from ._errors import HyperparameterError, OffsetNotSupportedError, UnknownSolverError
from ._memory import check_memory
from ._monitor import Monitor
from ._problem import Problem
from ._scaling import scale_data, scale_exponent, scale_start, unscale
from ._starts import check_init
from ._validation import check_matrix, check_rank
from .registry import SOLVERS
from .solvers import offset as _offset


@dataclass
class Result:
    """Outcome of :func:`decompose`.

    Attributes
    ----------
    theta : ndarray
        m×n matrix of rank at most r (``U @ U.T`` for symmetric solvers); the
        approximation of X is ``max(0, theta)``.
    factors : dict of ndarray
        The arrays the solver works with, e.g. ``{"W": W, "H": H}``.
    history : dict of ndarray
        Equal-length float64 arrays, entry 0 at the starting point, entry k after
        iteration k: ``"objective"`` (what the solver's reference code records),
        ``"relu_error"`` (‖X − max(0, Θ + c)‖_F/‖X‖_F, c = ``offset``), ``"time"`` (seconds since the
        start), plus solver extras.
    n_iter : int
        Iterations performed.
    stop_reason : str
        ``"tol"``, ``"stall"``, ``"max_iter"``, ``"time_limit"``, ``"callback"``,
        ``"interrupted"`` (``stop_event`` was set), ``"diverged"``, or ``"exact"`` for
        one-shot baselines.
    solver, rank, params
        The solver key, the rank and the resolved hyperparameters.
    relu_error : float
        ‖X − max(0, Θ + c)‖_F/‖X‖_F of the returned ``theta`` (c = ``offset``, usually 0).
    data_scale : float
        1.0, unless the largest entry of X was outside the safe range of its dtype (about
        1e±77 for float64, 2e-10 to 4e9 for float32): then the solver ran on X / data_scale (a
        power of two, so exact), ``theta`` and ``factors`` are scaled back, and ``history``
        holds the run on X / data_scale -- ``relu_error`` is the same for both, the objective
        is that of the scaled problem.
    offset : float
        The known constant c of the offset model X ≈ max(0, Θ + c·11ᵀ) (0: the plain model).
    """

    theta: np.ndarray
    factors: dict
    history: dict
    n_iter: int
    stop_reason: str
    solver: str
    rank: int
    params: dict = field(default_factory=dict)
    relu_error: float = math.nan
    data_scale: float = 1.0
    offset: float = 0.0

    def __repr__(self) -> str:
        m, n = self.theta.shape
        return (f"Result(solver={self.solver!r}, shape={m}x{n}, rank={self.rank}, n_iter={self.n_iter}, "
                f"stop_reason={self.stop_reason!r}, relu_error={self.relu_error:.6g})")


def get_solver(key: str):
    """Return the :class:`SolverSpec` registered under ``key``."""
    try:
        return SOLVERS[key]
    except (KeyError, TypeError):
        raise UnknownSolverError(
            f"unknown solver {key!r} (available: {', '.join(SOLVERS)})") from None


def _check_number(name, value, *, integer=False, low=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and float(value) != int(value)):
        kind = "an integer" if integer else "a number"
        raise HyperparameterError(f"{name} must be {kind}, got {value!r}")
    value = int(value) if integer else float(value)
    if math.isnan(value):
        raise HyperparameterError(f"{name} must be a number, got nan")
    if low is not None and value < low:
        raise HyperparameterError(f"{name} must be >= {low}, got {value!r}")
    return value


def decompose(X, rank, solver="ebcd", *, init="tsvd", max_iter=1000, time_limit=None,
              tol=None, tol_stall=None, random_state=None, callback=None, stop_event=None,
              dtype=None, offset=0.0, **hyperparams) -> Result:
    r"""Find a rank-``rank`` matrix Θ with max(0, Θ) ≈ X (or max(0, Θ + c·11ᵀ) ≈ X, c = ``offset``).

    Parameters
    ----------
    X : array-like or scipy.sparse matrix, shape (m, n)
        Nonnegative data (symmetric for the symmetric solvers; any real matrix for ``"gd"``).
    rank : int
        Target rank r, ``1 <= r < min(m, n)`` (``<= min(m, n)`` for ``"tsvd"``).
    solver : str
        Key of :data:`nmdcore.SOLVERS`.
    init : {"tsvd", "random"} or mapping
        ``"tsvd"``: the truncated SVD of X; ``"random"``: the papers' rescaled
        Gaussian start; or explicit arrays named as in the solver's spec
        (``{"W", "H", "Z"}``, ``{"theta", "Z"}``, ``{"U"}``, ``{"U", "V"}``).
    max_iter : int
        Number of iterations; the history has at most ``max_iter + 1`` entries.
    time_limit : float or None
        Seconds after which the run stops (checked after each iteration).
    tol : float or None
        Stop when the recorded objective falls below ``tol`` (0 switches it off;
        None: the reference code's default).
    tol_stall : float or None
        Stop when ``|obj[k] − obj[k−11]| < tol_stall`` (0 switches it off).
    random_state : int, numpy.random.Generator or None
        Seed of the one generator used for the start and randomized linear algebra.
    callback : callable or None
        ``callback(progress)`` with a :class:`nmdcore.Progress` at the start and after
        every iteration; returning ``True`` stops the run (stop_reason ``"callback"``).
    stop_event : threading.Event or None
        Any object with an ``is_set()`` method. Once it is set, the run stops at the
        next check -- after every iteration, and inside the iterations of solvers
        whose single iteration is long -- and returns its latest point with
        stop_reason ``"interrupted"``. Lets another thread stop a run.
    dtype : float32, float64 or None
        Working precision; None keeps float32 input as float32, else float64.
    offset : float
        A known constant c added to Θ: fit X ≈ max(0, Θ + c·11ᵀ) with rank Θ ≤ r (Euclidean
        distance matrix completion: c = d, Θ = −D). ``theta`` is returned without c; the
        objective is the latent residual ‖Z − c − Θ‖_F/‖X‖_F (NMD-TM, A-EM: the ReLU error).
        The latent and three-block solvers support it (a spec with ``run_offset``);
        init ``"tsvd"`` is then the truncated SVD of X − c. 0 is the plain model.
    **hyperparams
        Solver hyperparameters, validated against ``SOLVERS[solver].hyperparameters``.

    Returns
    -------
    Result

    Raises
    ------
    NMDError
        A specific subclass for each kind of bad input, before any work is done;
        :class:`nmdcore.MemoryLimitError` when :func:`nmdcore.estimate_memory` exceeds
        the memory available.

    Examples
    --------
    >>> import numpy as np, nmdcore
    >>> rng = np.random.default_rng(0)
    >>> X = np.maximum(0, rng.standard_normal((60, 5)) @ rng.standard_normal((5, 40)))
    >>> res = nmdcore.decompose(X, 5, solver="ebcd", max_iter=500, random_state=0)
    >>> res.relu_error < 1e-3
    True
    """
    spec = get_solver(solver)
    params = spec.resolve(hyperparams)
    check_memory(X, rank, spec, dtype)  # from X's shape alone, before any copy
    A, scan = check_matrix(X, input_kind=spec.input_kind, dtype=dtype, with_scan=True)  # X itself if it can
    r = check_rank(rank, A.shape, inclusive=spec.max_rank_inclusive)
    max_iter = _check_number("max_iter", max_iter, integer=True, low=0)
    time_limit = _check_number("time_limit", time_limit, low=0, allow_none=True)
    tol = spec.tol if tol is None else _check_number("tol", tol)
    tol_stall = spec.tol_stall if tol_stall is None else _check_number("tol_stall", tol_stall)
    if callback is not None and not callable(callback):
        raise HyperparameterError(f"callback must be callable, got {type(callback).__name__}")
    if stop_event is not None and not callable(getattr(stop_event, "is_set", None)):
        raise HyperparameterError(
            f"stop_event must have an is_set() method (e.g. threading.Event), got {type(stop_event).__name__}")
    offset = _check_number("offset", offset)
    if not math.isfinite(offset):
        raise HyperparameterError(f"offset must be a finite number, got {offset!r}")
    if offset and spec.run_offset is None:
        having = ", ".join(key for key, s in SOLVERS.items() if s.run_offset is not None)
        raise OffsetNotSupportedError(f"{spec.key} has no offset model; offset={offset:g} needs one of {having}")
    if offset:
        _offset.check_params(spec.key, params)
    check_init(init, spec)
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise HyperparameterError(
            f"random_state must be a nonnegative integer, a numpy Generator or None, got {random_state!r}") from None
    k = scale_exponent(scan.largest, A.dtype)
    init = scale_start(init, k, A.dtype, A.shape, r)
    # the scan's counts and ‖X‖² hold for X itself; scaled data is counted again (entries may underflow)
    known = {} if k else {"nonzeros": scan.nonzero, "sq_norm_X": scan.sq_norm}
    problem = Problem(scale_data(A, k), r, rng, **known)
    c = float(np.ldexp(offset, -k))  # the offset of the scaled problem
    start = _offset.prepare_start(spec, problem, init, c) if offset else spec.prepare_start(problem, init)
    monitor = Monitor(max_iter=max_iter, tol=tol, tol_stall=tol_stall, time_limit=time_limit,
                      callback=callback, extras=spec.extras, stop_event=stop_event)
    if offset:
        theta, factors = spec.run_offset(problem, start, params, monitor, c)
    else:
        theta, factors = spec.run(problem, start, params, monitor)
    if monitor.stop_reason is None:  # a solver that ran out of work without a rule firing
        monitor.stop_reason = "max_iter"
    error = None if offset else problem.known_relu_error(theta)
    if error is None:
        error = _kernels.relu_error(problem.X, theta + problem.dtype.type(c) if offset else theta, problem.norm_X)
    theta, factors = unscale(theta, factors, k)
    return Result(
        theta=theta,
        factors=factors,
        history=monitor.arrays(),
        n_iter=max(monitor.iteration, 0),
        stop_reason=monitor.stop_reason,
        solver=spec.key,
        rank=r,
        params=params,
        relu_error=error,
        data_scale=2.0 ** k,
        offset=offset,
    )
