"""Symmetric solvers: NSMD-APB / NSMD-AAPB (ReLU-NSMD) and the SymNMF baselines SymANLS / SymHALS.

ReLU-NSMD (Wang 2025, arXiv:2503.16846) approximates a symmetric nonnegative M by
max(0, U Uᵀ) through the model

    min_{U, W}  ½‖W − U Uᵀ‖_F² + (λ/2)‖U‖_F²   s.t.  max(0, W) = M,

alternating an exact W-step (the projection onto {max(0, W) = M}) with one
Bregman proximal-gradient step on U whose kernel
h(U) = (a/4)‖U‖_F⁴ + (b/2)‖U‖_F² makes the step a closed form.

SymNMF-penalty (Zhu et al. 2018) solves

    min_{U, V ≥ 0}  ½‖M − U Vᵀ‖_F² + (λ/2)‖U − V‖_F²

by alternating nonnegative least squares (block principal pivoting) or one HALS
sweep per block. Its ``theta`` is ``U Vᵀ`` -- the product the objective fits, so
``relu_error = sqrt(2·objective)`` exactly (U, V ≥ 0); it is symmetric only where
U = V, which the penalty enforces at critical points for λ large enough.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

from .._errors import InitError
from .._linalg import relu_error, sq_norm
from .._parallel import serial_blas
from .._spec import Hyperparameter, MemoryModel, SolverSpec
from .._starts import start_array

#: Quartic coefficient of the NSMD kernel h(U) = (a/4)‖U‖⁴ + (b/2)‖U‖².
KERNEL_QUARTIC = 6.0
#: Descent margin of the AAPB extrapolation safeguard (docs/solvers.md, NSMD-AAPB).
SAFEGUARD_MARGIN = 0.99
#: Halvings of β tried by the safeguard before β = 0.
SAFEGUARD_HALVINGS = 10
#: Below this many flops per n×n×r product the BLAS runs single-threaded: threads cost more than
#: they save on small products, and far more on a loaded machine (measured here: 2 threads made
#: a 400×400, r = 40 NSMD iteration 80× slower at load 12 on 2 cores).
THREADED_MIN_FLOPS = 2e8


def _blas_threads(problem):
    """Single-threaded BLAS for small problems (context manager), the default otherwise."""
    n, r = problem.shape[0], problem.rank
    if 2.0 * n * n * r < THREADED_MIN_FLOPS:
        return serial_blas()
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------------------------
# starting points
# ----------------------------------------------------------------------------------------------

def spectral_factor(M: np.ndarray, rank: int) -> np.ndarray:
    """``Q_r diag(√max(d_i, 0))`` from the ``rank`` largest eigenpairs ``(d_i, q_i)`` of symmetric M.

    ``U Uᵀ`` is then the best rank-r positive semidefinite approximation of M.
    """
    n = M.shape[0]
    d, Q = sla.eigh(M, subset_by_index=(n - rank, n - 1))
    d, Q = d[::-1], Q[:, ::-1]
    return np.ascontiguousarray(Q * np.sqrt(np.maximum(d, 0)), dtype=M.dtype)


def _prepare_nsmd(problem, init) -> dict:
    n, r = problem.shape[0], problem.rank
    if isinstance(init, str):
        if init == "tsvd":
            return {"U": spectral_factor(problem.X, r)}
        U = problem.rng.standard_normal((n, r))
        U *= math.sqrt(problem.norm_X) / np.linalg.norm(U)
        return {"U": U.astype(problem.dtype)}
    return {"U": start_array(init, "U", (n, r), problem)}


def _prepare_symnmf(problem, init) -> dict:
    n, r = problem.shape[0], problem.rank
    if isinstance(init, str):
        if init == "random":
            U = problem.rng.random((n, r)).astype(problem.dtype)
        else:
            U = np.abs(spectral_factor(problem.X, r))
        return {"U": U, "V": U.copy()}
    U = start_array(init, "U", (n, r), problem)
    V = start_array(init, "V", (n, r), problem) if "V" in init else U.copy()
    for name, A in (("U", U), ("V", V)):
        if np.any(A < 0):
            raise InitError(f"start array {name!r} must be nonnegative for SymNMF")
    return {"U": U, "V": V}


# ----------------------------------------------------------------------------------------------
# NSMD-APB / NSMD-AAPB
# ----------------------------------------------------------------------------------------------

def _kernel_value(sq: float, a: float, b: float) -> float:
    """h(U) = (a/4)‖U‖⁴ + (b/2)‖U‖² as a function of ‖U‖² = ``sq``."""
    return 0.25 * a * sq * sq + 0.5 * b * sq


def bregman_distance(A: np.ndarray, B: np.ndarray, a: float, b: float) -> float:
    """D_h(A, B) = h(A) − h(B) − ⟨∇h(B), A − B⟩ for h(U) = (a/4)‖U‖_F⁴ + (b/2)‖U‖_F²."""
    sa, sb = sq_norm(A), sq_norm(B)
    inner = float(np.vdot(B.astype(np.float64, copy=False), A.astype(np.float64, copy=False)))
    return _kernel_value(sa, a, b) - _kernel_value(sb, a, b) - (a * sb + b) * (inner - sb)


def cubic_root(a_norm: float, b: float) -> float:
    """The unique real root t > 0 of ``a_norm·t³ + b·t − 1 = 0`` (``a_norm, b > 0``).

    Evaluated as ``2√(p/3)·sinh(asinh((q/2)(3/p)^{3/2})/3)`` with ``p = b/a_norm``,
    ``q = 1/a_norm`` (no cancellation); when ``b = 0`` it is ``a_norm^{-1/3}``.
    """
    if b <= 0:
        return a_norm ** (-1.0 / 3.0)
    p, q = b / a_norm, 1.0 / a_norm
    return 2.0 * math.sqrt(p / 3.0) * math.sinh(math.asinh(0.5 * q * (3.0 / p) ** 1.5) / 3.0)


def nsmd_gradient(Y: np.ndarray, W: np.ndarray, lam: float) -> np.ndarray:
    """∇f(Y) of f(U) = ½‖W − U Uᵀ‖_F² + (λ/2)‖U‖_F² (W symmetric): ``2Y(YᵀY) − 2WY + λY``."""
    G = Y @ (2.0 * (Y.T @ Y))
    G -= 2.0 * (W @ Y)
    G += lam * Y
    return G


def bregman_step(Y: np.ndarray, W: np.ndarray, lam: float, L: float, b: float,
                 a: float = KERNEL_QUARTIC) -> np.ndarray:
    """Closed-form NSMD U-step: the minimiser of ⟨∇f(Y), U − Y⟩ + L·D_h(U, Y).

    Its optimality condition ∇h(U) = P with ``P = ∇h(Y) − ∇f(Y)/L`` gives
    ``U = t·P`` where t > 0 solves ``a‖P‖²t³ + b·t − 1 = 0``.
    """
    P = nsmd_gradient(Y, W, lam)
    P *= -1.0 / L
    P += (a * sq_norm(Y) + b) * Y
    sq_P = sq_norm(P)
    if sq_P == 0.0:
        return np.zeros_like(Y)
    P *= P.dtype.type(cubic_root(a * sq_P, b))
    return P


def _safeguarded_beta(k: int, U: np.ndarray, U_prev: np.ndarray, a: float, b: float,
                      beta_max: float, safeguard: bool) -> float:
    """β_k = min(β_max, (k−1)/(k+2)), halved until 2·D_h(U^k, Y) ≤ 0.99·D_h(U^{k−1}, U^k) (docs/solvers.md)."""
    beta = min(beta_max, (k - 1) / (k + 2))
    if beta <= 0:
        return 0.0
    if not safeguard:
        return beta
    budget = SAFEGUARD_MARGIN * bregman_distance(U_prev, U, a, b)
    step = U - U_prev
    for _ in range(SAFEGUARD_HALVINGS + 1):
        if 2.0 * bregman_distance(U, U + beta * step, a, b) <= budget:
            return beta
        beta *= 0.5
    return 0.0


def _run_nsmd(problem, start, params, monitor, *, accelerated: bool):
    M = problem.X
    lam, L = params["lam"], params["L"]
    a = KERNEL_QUARTIC
    scale = 1.0 / problem.norm_X ** 2
    U = start["U"]
    theta = np.empty_like(M)
    W = np.empty_like(M)

    def step_and_record(U, beta):
        """Θ = UUᵀ, the ReLU error (W as scratch), then W = P_M(Θ) and Φ (Θ as scratch)."""
        np.matmul(U, U.T, out=theta)
        rel = relu_error(M, theta, problem.norm_X, W)
        problem.project(theta, out=W)
        np.subtract(theta, W, out=theta)  # Θ is not needed again: the next iteration rebuilds it
        phi = 0.5 * (sq_norm(theta) + lam * sq_norm(U)) * scale
        extras = {"beta": beta} if accelerated else {}
        return monitor.record(phi, rel, **extras)

    with np.errstate(over="ignore", invalid="ignore"), _blas_threads(problem):
        U_prev = U
        stop = step_and_record(U, 0.0)
        while not stop:
            b = 2.0 * math.sqrt(sq_norm(W)) + lam
            beta = 0.0
            Y = U
            if accelerated:
                beta = _safeguarded_beta(monitor.iteration, U, U_prev, a, b,
                                         params["beta_max"], params["safeguard"])
                if beta > 0:
                    Y = U + beta * (U - U_prev)
            U_prev, U = U, bregman_step(Y, W, lam, L, b, a)
            stop = step_and_record(U, beta)
        if monitor.stop_reason == "diverged":
            U = U_prev
        return np.matmul(U, U.T, out=theta), {"U": U}


def _run_apb(problem, start, params, monitor):
    return _run_nsmd(problem, start, params, monitor, accelerated=False)


def _run_aapb(problem, start, params, monitor):
    return _run_nsmd(problem, start, params, monitor, accelerated=True)


# ----------------------------------------------------------------------------------------------
# SymNMF: nonnegative least squares by block principal pivoting, HALS sweeps
# ----------------------------------------------------------------------------------------------

#: Right-hand sides solved together by :func:`_solve_passive` (bounds its k×r×r workspace).
_BATCH_ENTRIES = 2_000_000


def _solve_passive(C, B, X, Y, F, cols) -> None:
    """For the columns ``cols``: X_F = C_FF⁻¹ B_F, X_G = 0 and Y = C X − B with Y_F = 0.

    Columns sharing a passive set share one Cholesky solve when there are few distinct
    sets; otherwise each column's system is embedded in an r×r one,
    ``[C_FF 0; 0 I] x = [b_F; 0]``, and all are solved in batches by one LAPACK call.
    """
    r = C.shape[0]
    patterns, groups = np.unique(F[:, cols].T, axis=0, return_inverse=True)
    if len(patterns) <= max(4, cols.size // 64):
        groups = groups.ravel()
        for g, pattern in enumerate(patterns):
            idx = cols[groups == g]
            x = np.zeros((r, idx.size))
            if pattern.any():
                Cff = C[np.ix_(pattern, pattern)]
                x[pattern] = sla.cho_solve(sla.cho_factor(Cff, check_finite=False), B[pattern][:, idx],
                                           check_finite=False)
            _store(C, B, X, Y, F, idx, x)
        return
    step = max(1, _BATCH_ENTRIES // (r * r))
    diag = np.arange(r)
    for start in range(0, cols.size, step):
        idx = cols[start:start + step]
        Fc = F[:, idx].T
        system = np.where(Fc[:, :, None] & Fc[:, None, :], C, 0.0)
        system[:, diag, diag] += ~Fc
        rhs = np.where(Fc, B[:, idx].T, 0.0)
        _store(C, B, X, Y, F, idx, np.linalg.solve(system, rhs[:, :, None])[:, :, 0].T)


def _store(C, B, X, Y, F, idx, x) -> None:
    X[:, idx] = x
    y = C @ x - B[:, idx]
    y[F[:, idx]] = 0.0
    Y[:, idx] = y


def nnls_bpp(C: np.ndarray, B: np.ndarray, passive: np.ndarray | None = None,
             max_rounds: int | None = None) -> np.ndarray:
    """Solve ``min_{x_j ≥ 0} ½x_jᵀCx_j − b_jᵀx_j`` for every column b_j of B (C positive definite).

    Block principal pivoting (Kim & Park, SIAM J. Sci. Comput. 2011): full exchanges of
    the infeasible variables while their number decreases, three more full exchanges
    after it stops decreasing, then single exchanges of the largest infeasible index.

    Parameters
    ----------
    C : ndarray, shape (r, r)
        Gram matrix ``AᵀA`` (symmetric positive definite).
    B : ndarray, shape (r, k)
        ``AᵀRHS``.
    passive : bool ndarray, shape (r, k), optional
        Starting guess of the positive variables (e.g. those of the previous iterate).
    max_rounds : int, optional
        Pivoting rounds before the remaining columns are finished by
        :func:`scipy.optimize.nnls` (a guard against floating-point cycling; default 5r + 50).

    Returns
    -------
    X : ndarray, shape (r, k)
        The unique nonnegative minimisers.
    """
    C = np.asarray(C, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    r, k = B.shape
    F = np.zeros((r, k), dtype=bool) if passive is None else np.array(passive, dtype=bool)
    X = np.zeros((r, k))
    Y = -B.copy()
    if F.any():
        _solve_passive(C, B, X, Y, F, np.flatnonzero(F.any(axis=0)))
    n_infeasible_best = np.full(k, r + 1)
    full_exchanges_left = np.full(k, 3)
    rounds = 5 * r + 50 if max_rounds is None else max_rounds
    for _ in range(rounds):
        infeasible = (F & (X < 0)) | (~F & (Y < 0))
        count = infeasible.sum(axis=0)
        active = np.flatnonzero(count > 0)
        if active.size == 0:
            return X
        improved = count < n_infeasible_best
        n_infeasible_best[improved] = count[improved]
        full_exchanges_left[improved] = 3
        stalled = ~improved & (count > 0)
        exhausted = stalled & (full_exchanges_left == 0)
        full_exchanges_left[stalled & ~exhausted] -= 1
        full = np.flatnonzero((count > 0) & ~exhausted)
        F[:, full] ^= infeasible[:, full]
        for j in np.flatnonzero(exhausted):
            i = np.flatnonzero(infeasible[:, j])[-1]
            F[i, j] = ~F[i, j]
        _solve_passive(C, B, X, Y, F, active)
    infeasible = (F & (X < 0)) | (~F & (Y < 0))
    left = np.flatnonzero(infeasible.any(axis=0))
    if left.size:
        R = sla.cholesky(C)  # C = RᵀR: ½xᵀCx − bᵀx = ½‖Rx − R⁻ᵀb‖² + const
        D = sla.solve_triangular(R, B[:, left], trans="T")
        for col, j in enumerate(left):
            X[:, j] = sopt.nnls(R, D[:, col])[0]
    return X


def _hals_sweep(F: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    """One HALS pass over the columns of F ≥ 0 for ``min ½tr(FBFᵀ) − tr(FᵀA)``, in place.

    A column that becomes entirely zero is reset to ``1e-16·max(F)`` (reference behaviour).
    """
    for k in range(F.shape[1]):
        col = F[:, k] + (A[:, k] - F @ B[:, k]) / B[k, k]
        np.maximum(col, 0, out=col)
        F[:, k] = col
        if not col.any():
            F[:, k] = 1e-16 * F.max()


def _run_symnmf(problem, start, params, monitor, *, method: str):
    M = problem.X
    lam = params["lam"]
    r = problem.rank
    U, V = start["U"], start["V"]
    sq_M = problem.norm_X ** 2
    eye = np.eye(r)
    dtype = problem.dtype

    def half_sq_error(MU, U, V) -> float:
        """½‖M − UVᵀ‖²/‖M‖² from r-sized products; dense when cancellation would bite."""
        U64, V64 = U.astype(np.float64, copy=False), V.astype(np.float64, copy=False)
        cross = float(np.vdot(MU.astype(np.float64, copy=False), V64))
        gram = float(np.vdot(U64.T @ U64, V64.T @ V64))
        value = 0.5 * (sq_M - 2.0 * cross + gram) / sq_M
        if value < 1e-6:
            value = 0.5 * sq_norm(M - U @ V.T) / sq_M
        return max(value, 0.0)

    def record(MU, U, V) -> bool:
        obj = half_sq_error(MU, U, V)
        return monitor.record(obj, math.sqrt(2.0 * obj), diff_UV=sq_norm(U - V))

    def update(F, G, MG):
        """New F ≥ 0 for fixed G: min ½‖M − F Gᵀ‖² + (λ/2)‖F − G‖²."""
        A = MG + lam * G
        Bm = G.T.astype(np.float64) @ G + lam * eye
        if method == "anls":
            sol = nnls_bpp(Bm, A.T.astype(np.float64), passive=F.T > 0)
            return np.ascontiguousarray(sol.T, dtype=dtype)
        F = F.astype(np.float64)
        _hals_sweep(F, A.astype(np.float64), Bm)
        return F.astype(dtype, copy=False)

    with np.errstate(over="ignore", invalid="ignore"), _blas_threads(problem):
        if record(M @ U, U, V):
            return U @ V.T, {"U": U, "V": V}
        while True:
            U_prev, V_prev = U, V
            U = update(U, V, M @ V)
            MU = M @ U
            V = update(V, U, MU)
            if record(MU, U, V):
                if monitor.stop_reason == "diverged":
                    U, V = U_prev, V_prev
                return U @ V.T, {"U": U, "V": V}


def _run_anls(problem, start, params, monitor):
    return _run_symnmf(problem, start, params, monitor, method="anls")


def _run_hals(problem, start, params, monitor):
    return _run_symnmf(problem, start, params, monitor, method="hals")


# ----------------------------------------------------------------------------------------------
# specs
# ----------------------------------------------------------------------------------------------

_NSMD_LAM = Hyperparameter(
    "lam", 1e-4, low=0.0, log=True, slider_range=(1e-8, 1.0), symbol="λ",
    help="Tikhonov weight (λ/2)‖U‖_F² of the NSMD model")
_NSMD_L = Hyperparameter(
    "L", 1.0, low=1.0, slider_range=(1.0, 10.0), symbol="L",
    help="Step constant: the U-step minimises ⟨∇f, U − Y⟩ + L·D_h(U, Y); L ≥ 1 keeps Φ decreasing")
_BETA_MAX = Hyperparameter(
    "beta_max", 0.9, low=0.0, high=1.0, high_open=True, symbol="β̄",
    help="Cap of the extrapolation weight β_k = min(β̄, (k−1)/(k+2))")
_SAFEGUARD = Hyperparameter(
    "safeguard", True, kind="bool",
    help="Halve β until 2·D_h(U^k, Y) ≤ 0.99·D_h(U^{k−1}, U^k) (keeps Φ + 0.99·D decreasing)")
_SYMNMF_LAM = Hyperparameter(
    "lam", 0.66, low=0.0, low_open=True, log=True, slider_range=(1e-3, 100.0), symbol="λ",
    help="Penalty weight (λ/2)‖U − V‖_F² pulling U and V together")

_NSMD_OBJECTIVE = ("Φ/‖M‖_F² with Φ = ½‖W − UUᵀ‖_F² + (λ/2)‖U‖_F² and W = P_M(UUᵀ) "
                   "(the NSMD model objective at its best W)")
_SYMNMF_OBJECTIVE = "½‖M − UVᵀ‖_F²/‖M‖_F² (as the reference code records it)"
_NSMD_PAPER = ('Wang (2025), "An efficient alternating algorithm for ReLU-based symmetric matrix '
               'decomposition", arXiv:2503.16846')
_SYMNMF_PAPER = ('Zhu, Li, Liu & Li (2018), "Dropping symmetry for fast symmetric nonnegative matrix '
                 'factorization", NeurIPS 2018')


def _symnmf_spec(key: str, label: str, run, description: str, summary: str) -> SolverSpec:
    return SolverSpec(
        key=key, label=label, family="symmetric", model="SymNMF-penalty", paper=_SYMNMF_PAPER,
        objective=_SYMNMF_OBJECTIVE, run=run, prepare_start=_prepare_symnmf,
        hyperparameters=(_SYMNMF_LAM,), start_names=("U", "V"), required_start=("U",),
        input_kind="symmetric", extras=("diff_UV",), description=description, summary=summary,
        memory=MemoryModel(held=2, transient=1.1, setup=2, setup_square=0.5), pages=("symmetric",))


SPECS = (
    SolverSpec(
        key="nsmd_apb", label="NSMD-APB", family="symmetric", model="NSMD", paper=_NSMD_PAPER,
        objective=_NSMD_OBJECTIVE, run=_run_apb, prepare_start=_prepare_nsmd,
        memory=MemoryModel(held=3, transient=1.1, setup=3, setup_square=1.5), pages=("symmetric",),
        hyperparameters=(_NSMD_LAM, _NSMD_L), start_names=("U",), required_start=("U",),
        input_kind="symmetric",
        description=("Alternating partial Bregman: exact W-step, then one closed-form Bregman "
                     "proximal-gradient step on U; Θ = UUᵀ. tsvd start: Q_r diag(√max(d,0)) from the "
                     "r largest eigenpairs of M; random start: N(0,1) with ‖U0‖_F² = ‖M‖_F."),
        summary=("For symmetric data such as similarity graphs: finds a symmetric low-rank Θ with "
                 "max(0, Θ) ≈ X, alternating an exact latent step with one Bregman gradient step on its "
                 "factor. Pick it for kNN graphs and other sparse symmetric matrices."),
    ),
    SolverSpec(
        key="nsmd_aapb", label="NSMD-AAPB", family="symmetric", model="NSMD", paper=_NSMD_PAPER,
        objective=_NSMD_OBJECTIVE, run=_run_aapb, prepare_start=_prepare_nsmd,
        memory=MemoryModel(held=3, transient=1.1, setup=3, setup_square=1.5), pages=("symmetric",),
        hyperparameters=(_NSMD_LAM, _NSMD_L, _BETA_MAX, _SAFEGUARD), start_names=("U",),
        required_start=("U",), input_kind="symmetric", extras=("beta",),
        description=("NSMD-APB with inertial extrapolation Y = U^k + β_k(U^k − U^{k−1}) before the "
                     "U-step, β_k safeguarded by a Bregman-distance test; Θ = UUᵀ."),
        summary=("NSMD-APB with an extra momentum step that a safety test switches off when it would hurt. "
                 "The faster choice for symmetric ReLU-NMD."),
    ),
    _symnmf_spec("sym_anls", "SymANLS", _run_anls,
                 "Alternating exact nonnegative least squares on U and V (block principal pivoting); "
                 "Θ = UVᵀ. random start (reference): U0 = V0 ~ U(0,1); tsvd start: |Q_r diag(√max(d,0))|.",
                 "Symmetric nonnegative matrix factorization X ≈ W Wᵀ with W ≥ 0 (no ReLU), solved exactly "
                 "block by block on two copies of W pulled together by a penalty. A classical baseline that "
                 "shows what the ReLU adds on symmetric data."),
    _symnmf_spec("sym_hals", "SymHALS", _run_hals,
                 "One HALS sweep over the columns of U, then of V; Θ = UVᵀ. Starts as SymANLS.",
                 "The same symmetric NMF baseline as SymANLS, updated one column at a time, which makes "
                 "each iteration cheap. A fast classical baseline for symmetric data."),
)
