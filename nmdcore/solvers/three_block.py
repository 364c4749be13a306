r"""Three-block solvers of 3B-RMD: BCD-NMD, eBCD-NMD, 3B-NMD and NMD-TM.

They work on the three-block model (ALGORITHMS.md §1.1, §8–11)

.. math::

    \min_{Z \in F(X),\, W \in \mathbb{R}^{m\times r},\, H \in \mathbb{R}^{r\times n}}
    \tfrac12 \|Z - WH\|_F^2 \;\Big(+ \tfrac{\lambda}{2}(\|W\|_F^2 + \|H\|_F^2)\ \text{for NMD-TM}\Big),
    \qquad F(X) = \{Z : \max(0, Z) = X\},

and reproduce the reference MATLAB codes iteration by iteration. Every solver
returns ``theta = W @ H`` (never an extrapolated matrix) and ``factors = {"W", "H"}``.

Performance (DESIGN.md "Performance shape"): an iteration costs three m×n×r
products plus a few elementwise passes; m×n work arrays are allocated once,
the projection is one ``np.clip`` against ``problem.lower``, extrapolations are
in-place BLAS axpy, least-squares steps use the inverse of an r×r Gram matrix
and one product, and the latent residual ``‖Z − WH‖`` comes from r-sized
products (``‖Z‖² − 2⟨WᵀZ, H⟩ + ⟨WᵀW, HHᵀ⟩``) unless cancellation would make that
inaccurate, in which case it is computed entry by entry.
"""
from __future__ import annotations

import numpy as np

from .._errors import InitError
from .._linalg import axpby_inplace, cholqr2, relu_error, spd_inverse, sq_norm
from .._spec import Hyperparameter, SolverSpec
from .._starts import factor_start, start_array

PAPER_S25 = "Gillis, Porcelli, Seraghiti 2025 (arXiv:2503.23832)"
PAPER_S23 = "Seraghiti et al., MLSP 2023 (arXiv:2305.08687)"
PAPER_W24 = "Wang, Cui, Han, IEEE SPL 2024 (arXiv:2402.02442)"

#: The r-sized residual formula is used only while ‖Z − WH‖² is at least this fraction of the
#: magnitude of its terms; below it the cancellation error would exceed ~1e-10 (float64) or
#: ~1e-4 (float32) of the residual, so the residual is computed entry by entry instead.
_GRAM_RESIDUAL_MIN = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2}


# ---------------------------------------------------------------------------------------------
# starts

def _factor_and_latent_start(problem, init, *, use_z: bool) -> dict:
    m, n = problem.shape
    r = problem.rank
    if isinstance(init, str):
        W, H = factor_start(problem, init)
        return {"W": W, "H": H, "Z": None}
    W = start_array(init, "W", (m, r), problem)
    H = start_array(init, "H", (r, n), problem)
    Z = None
    if "Z" in init:
        Z = start_array(init, "Z", (m, n), problem)
        if not use_z:
            Z = None  # NMD-TM starts from Z0 = X whatever is passed (reference code)
        elif not np.array_equal(problem.project(Z), Z):
            raise InitError("start array 'Z' is not feasible: it must equal X where X > 0 "
                            "and be <= 0 where X == 0")
    return {"W": W, "H": H, "Z": Z}


def _prepare(problem, init) -> dict:
    """Start ``{"W", "H", "Z"}``; ``Z`` None means ``Z0 = X``."""
    return _factor_and_latent_start(problem, init, use_z=True)


def _prepare_tm(problem, init) -> dict:
    """As :func:`_prepare`, but a given ``Z`` is only checked for shape and then ignored."""
    return _factor_and_latent_start(problem, init, use_z=False)


# ---------------------------------------------------------------------------------------------
# small-matrix helpers (r×r work is done in float64, m×n and m×r work in the data's dtype)

def _f64(A: np.ndarray) -> np.ndarray:
    return A if A.dtype == np.float64 else A.astype(np.float64)


def _row_gram(H: np.ndarray, lam: float = 0.0) -> np.ndarray:
    """``H Hᵀ + λI`` in float64."""
    H64 = _f64(H)
    G = H64 @ H64.T
    if lam:
        G[np.diag_indices_from(G)] += lam
    return G


def _col_gram(W: np.ndarray, lam: float = 0.0) -> np.ndarray:
    """``WᵀW + λI`` in float64."""
    W64 = _f64(W)
    G = W64.T @ W64
    if lam:
        G[np.diag_indices_from(G)] += lam
    return G


def _solve_w(ZHt: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``W = (Z Hᵀ) G⁻¹`` for the r×r Gram ``G`` (min-norm if singular)."""
    return ZHt @ spd_inverse(G).astype(ZHt.dtype, copy=False)


def _solve_h(G: np.ndarray, WtZ: np.ndarray) -> np.ndarray:
    """``H = G⁻¹ (Wᵀ Z)`` for the r×r Gram ``G`` (min-norm if singular)."""
    return np.ascontiguousarray(spd_inverse(G).astype(WtZ.dtype, copy=False) @ WtZ)


def _lowrank_residual_sq(z_sq: float, WtZ: np.ndarray, H: np.ndarray, GW: np.ndarray,
                         GH: np.ndarray, dtype) -> float | None:
    """``‖Z − WH‖²`` from ``‖Z‖²``, ``WᵀZ``, ``WᵀW`` and ``HHᵀ``; None when cancellation bites."""
    cross = float(np.sum(_f64(WtZ) * _f64(H)))
    wh_sq = float(np.sum(GW * GH))
    s_sq = z_sq - 2.0 * cross + wh_sq
    if s_sq >= _GRAM_RESIDUAL_MIN[np.dtype(dtype)] * (z_sq + 2.0 * abs(cross) + wh_sq):
        return s_sq
    return None  # also for NaN, so that a diverging run reports a non-finite value


def _distance(A: np.ndarray, B: np.ndarray, work: np.ndarray) -> float:
    """``‖A − B‖_F`` through the m×n buffer ``work``."""
    np.subtract(A, B, out=work)
    return float(np.sqrt(sq_norm(work)))


def _finish(monitor, W, H, W_prev, H_prev, theta):
    """Result pair; on divergence the last finite iterate ``W_prev @ H_prev``."""
    if monitor.stop_reason == "diverged":
        return W_prev @ H_prev, {"W": W_prev, "H": H_prev}
    return theta, {"W": W, "H": H}


# ---------------------------------------------------------------------------------------------
# BCD-NMD (§8)

def _run_bcd(problem, start, params, monitor):
    """Exact block coordinate descent: Z ← P(WH); W ← LS_W(Z, H); H ← LS_H(Z, W)."""
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    W, H = start["W"], start["H"]
    Z0 = X if start["Z"] is None else start["Z"]
    A = W @ H  # holds Θ, then Z = P(Θ) in place
    B = np.empty_like(X)  # holds the new Θ; doubles as work buffer
    if monitor.record(_distance(Z0, A, B) / nX, relu_error(X, A, nX, B)):
        return A, {"W": W, "H": H}
    m, n = problem.shape
    ZHt = np.empty((m, problem.rank), dt)
    ZtW = np.empty((n, problem.rank), dt)
    GH = _row_gram(H)
    W_prev, H_prev = W, H
    with np.errstate(all="ignore"):  # a diverging run ends through the monitor
        while True:
            W_prev, H_prev = W, H
            problem.project(A, out=A)  # A = Z
            W = _solve_w(np.matmul(A, H.T, out=ZHt), GH)
            np.matmul(A.T, W, out=ZtW)  # (Wᵀ Z)ᵀ: this layout is the fast GEMM
            GW = _col_gram(W)
            H = _solve_h(GW, ZtW.T)
            GH = _row_gram(H)
            s_sq = _lowrank_residual_sq(sq_norm(A), ZtW.T, H, GW, GH, dt)
            np.matmul(W, H, out=B)  # Θ = WH
            if s_sq is None:
                np.subtract(A, B, out=A)
                s_sq = sq_norm(A)
            rel = relu_error(X, B, nX, A)
            A, B = B, A
            if monitor.record(np.sqrt(s_sq) / nX, rel):
                break
    return _finish(monitor, W, H, W_prev, H_prev, A)


# ---------------------------------------------------------------------------------------------
# eBCD-NMD (§9)

def _run_ebcd(problem, start, params, monitor):
    """Extrapolated BCD with residual-based acceptance of each step.

    The code keeps the latent residual ``D = Z − WH`` instead of Z: then
    ``Z_α = WH + αD``, ``Z_α Hᵀ = W(HHᵀ) + α DHᵀ`` and ``W_eᵀ Z_α = (W_eᵀW)H + α W_eᵀD``,
    and for a candidate ``Θ_e`` with ``E = X − Θ_e`` the new residual is
    ``D_e = P(Θ_e) − Θ_e = min(E, U)`` (``U`` = +inf on Ω, 0 elsewhere) and the ReLU
    residual is ``X − max(0, Θ_e) = min(E, X)`` -- no m×n array for Z_α or Θ.
    """
    alpha, mu = params["alpha"], params["mu"]
    alpha_max, delta_bar = params["alpha_max"], params["delta_bar"]
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    W, H = start["W"], start["H"]
    Z0 = X if start["Z"] is None else start["Z"]
    T = W @ H  # Θ0, later the candidate Θ_e and E = X − Θ_e
    D = np.subtract(Z0, T)  # accepted residual Z − WH
    D_e = np.empty_like(X)  # candidate residual
    S = float(np.sqrt(sq_norm(D)))
    rel = relu_error(X, T, nX, D_e)
    if monitor.record(S / nX, rel, alpha=alpha, accepted=1.0):
        return T, {"W": W, "H": H}
    upper = np.where(problem.positive, np.array(np.inf, dt), np.array(0, dt))
    m, n = problem.shape
    DHt = np.empty((m, problem.rank), dt)
    DtW = np.empty((n, problem.rank), dt)
    GH = _row_gram(H)
    with np.errstate(all="ignore"):
        while True:
            alpha_used = alpha
            np.matmul(D, H.T, out=DHt)
            DHt *= alpha
            DHt += W @ GH.astype(dt, copy=False)  # Z_α Hᵀ
            W_e = cholqr2(DHt)
            np.matmul(D.T, W_e, out=DtW)
            H_e = _f64(W_e).T @ _f64(W)  # W_eᵀ W (r×r)
            H_e = (H_e.astype(dt, copy=False) @ H) + alpha * DtW.T  # W_eᵀ Z_α
            np.matmul(W_e, H_e, out=T)
            np.subtract(X, T, out=T)  # E = X − Θ_e
            np.minimum(T, upper, out=D_e)  # D_e = P(Θ_e) − Θ_e
            S_e = float(np.sqrt(sq_norm(D_e)))
            ratio = S_e / S if S > 0 else np.inf
            accepted = ratio < 1
            if accepted:
                W, H, S = W_e, H_e, S_e
                D, D_e = D_e, D
                GH = _row_gram(H)
                rel = float(np.sqrt(sq_norm(np.minimum(T, X, out=T)))) / nX
                if ratio > delta_bar:  # slow progress: extrapolate more
                    mu = max(mu, 0.25 * (alpha - 1.0))
                    alpha = min(alpha + mu, alpha_max)
                    if alpha == alpha_max:
                        alpha = 1.0
            else:
                alpha = 1.0
            if monitor.record(S / nX, rel, alpha=alpha_used, accepted=float(accepted)):
                break
    return W @ H, {"W": W, "H": H}


# ---------------------------------------------------------------------------------------------
# 3B-NMD (§10) and NMD-TM (§11): one momentum loop

def _momentum_loop(problem, start, monitor, *, momentum: float, lam: float, mix: float,
                   latent_objective: bool):
    """Shared loop of 3B-NMD (λ = 0, mix = 1) and NMD-TM.

    Per iteration: ``Z ← (1+a)P(Θ) − a Z_old``; ``W ← mix·LS_W^λ(Z, H_old) + (1−mix)W_old``;
    ``H ← mix·LS_H^λ(Z, W) + (1−mix)H_old``; ``Θ = WH``; then, except in the last two
    iterations, ``Θ ← (1+a)Θ − aΘ_old`` (reference quirk). The objective is the latent
    residual ``‖Z − WH‖`` (3B-NMD) or the ReLU error (NMD-TM).
    """
    a = momentum
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    W, H = start["W"], start["H"]
    Z0 = X if start["Z"] is None else start["Z"]
    Tx = W @ H  # Θ_old: the (extrapolated) Θ the next projection uses
    Zx = np.array(Z0, dtype=dt, copy=True)  # Z_old: the extrapolated Z
    P = np.empty_like(X)  # P(Θ), then Θ = WH
    work = np.empty_like(X)
    rel = relu_error(X, Tx, nX, work)
    obj = _distance(Zx, Tx, work) / nX if latent_objective else rel
    if monitor.record(obj, rel):
        return Tx, {"W": W, "H": H}
    m, n = problem.shape
    ZHt = np.empty((m, problem.rank), dt)
    ZtW = np.empty((n, problem.rank), dt)
    GH = _row_gram(H, lam)
    W_prev, H_prev = W, H
    with np.errstate(all="ignore"):
        while True:
            W_prev, H_prev = W, H
            problem.project(Tx, out=P)
            axpby_inplace(1.0 + a, P, -a, Zx)  # Z = (1+a)P(Θ) − a Z_old
            W = _solve_w(np.matmul(Zx, H.T, out=ZHt), GH)
            if mix != 1.0:
                axpby_inplace(1.0 - mix, W_prev, mix, W)
            np.matmul(Zx.T, W, out=ZtW)
            GW = _col_gram(W, lam)
            H = _solve_h(GW, ZtW.T)
            if mix != 1.0:
                axpby_inplace(1.0 - mix, H_prev, mix, H)
            GH = _row_gram(H, lam)
            np.matmul(W, H, out=P)  # Θ = WH
            rel = relu_error(X, P, nX, work)
            if latent_objective:
                s_sq = None
                if mix == 1.0 and not lam:  # then GW, GH are the plain Grams of W, H
                    s_sq = _lowrank_residual_sq(sq_norm(Zx), ZtW.T, H, GW, GH, dt)
                obj = np.sqrt(s_sq) / nX if s_sq is not None else _distance(Zx, P, work) / nX
            else:
                obj = rel
            if monitor.record(obj, rel):
                break
            if monitor.iteration < monitor.max_iter - 1:
                axpby_inplace(1.0 + a, P, -a, Tx)  # Θ_old = (1+a)Θ − a Θ_old
            else:  # the reference skips the Θ-extrapolation in the last two iterations
                Tx, P = P, Tx
    return _finish(monitor, W, H, W_prev, H_prev, P)


def _run_3b(problem, start, params, monitor):
    return _momentum_loop(problem, start, monitor, momentum=params["beta"], lam=0.0, mix=1.0,
                          latent_objective=True)


def _run_tm(problem, start, params, monitor):
    return _momentum_loop(problem, start, monitor, momentum=params["alpha"], lam=params["lam"],
                          mix=params["beta"], latent_objective=False)


# ---------------------------------------------------------------------------------------------
# registry entries

_STARTS = dict(start_names=("W", "H", "Z"), required_start=("W", "H"))
_LATENT_OBJECTIVE = "latent residual ‖Z − WH‖_F/‖X‖_F"

SPECS = (
    SolverSpec(
        key="bcd",
        label="BCD-NMD",
        family="three_block",
        model="3B-RMD",
        paper=PAPER_S25,
        objective=_LATENT_OBJECTIVE,
        run=_run_bcd,
        prepare_start=_prepare,
        description=("Exact block coordinate descent on (Z, W, H): project, then two least-squares "
                     "solves. The residual never increases. An explicit 'Z' only enters err[0]."),
        **_STARTS,
    ),
    SolverSpec(
        key="ebcd",
        label="eBCD-NMD",
        family="three_block",
        model="3B-RMD",
        paper=PAPER_S25,
        objective=_LATENT_OBJECTIVE + " of the accepted iterate (non-increasing)",
        run=_run_ebcd,
        prepare_start=_prepare,
        hyperparameters=(
            Hyperparameter("alpha", 1.0, low=1.0, symbol="α₀",
                           help="initial extrapolation parameter of Z_α = αZ + (1−α)WH"),
            Hyperparameter("mu", 0.3, low=0.0, symbol="μ",
                           help="increment of α after an accepted but slow step"),
            Hyperparameter("alpha_max", 4.0, low=1.0, symbol="α_max",
                           help="upper bound of α; reaching it resets α to 1"),
            Hyperparameter("delta_bar", 0.8, low=0.0, high=1.0, symbol="δ̄",
                           help="residual ratio above which a step counts as slow and α grows"),
        ),
        extras=("alpha", "accepted"),
        description=("BCD with an extrapolated latent matrix and a residual test: a step is kept "
                     "only if it lowers ‖Z − WH‖, so the residual never increases. "
                     "History extras: 'alpha' used in the step, 'accepted' (1/0). With a warm "
                     "(W, H), pass Z = P(WH) or the first step may be rejected forever."),
        **_STARTS,
    ),
    SolverSpec(
        key="nmd_3b",
        label="3B-NMD",
        family="three_block",
        model="3B-RMD",
        paper=PAPER_S23,
        objective=_LATENT_OBJECTIVE + " with the extrapolated Z",
        run=_run_3b,
        prepare_start=_prepare,
        hyperparameters=(
            Hyperparameter("beta", 0.7, low=0.0, high=1.0, symbol="β",
                           help="fixed momentum on Z and Θ"),
        ),
        description=("BCD with fixed momentum β on Z and Θ (heuristic, no guarantee). As in the "
                     "reference code the Θ-momentum is skipped in the last two iterations."),
        **_STARTS,
    ),
    SolverSpec(
        key="nmd_tm",
        label="NMD-TM",
        family="three_block",
        model="3B-T",
        paper=PAPER_W24,
        objective="ReLU error ‖X − max(0, WH)‖_F/‖X‖_F",
        run=_run_tm,
        prepare_start=_prepare_tm,
        hyperparameters=(
            Hyperparameter("lam", 1e-4, low=0.0, symbol="λ", log=True,
                           help="Tikhonov weight on ‖W‖² + ‖H‖²"),
            Hyperparameter("alpha", 0.95, low=0.0, high=1.0, symbol="α",
                           help="momentum on Z and Θ (the code's beta1)"),
            Hyperparameter("beta", 0.95, low=0.0, high=2.0, low_open=True, symbol="β",
                           help="factor update W = βW̃ + (1−β)W_old; momentum β − 1 (the code's beta2)"),
        ),
        tol=1e-4,
        tol_stall=1e-5,
        description=("Tikhonov-regularised three-block model with positive momentum α on Z, Θ and "
                     "negative momentum β − 1 on W, H. Like the reference code it always starts "
                     "from Z0 = X: an explicit 'Z' is accepted and ignored. Can diverge from a "
                     "random start."),
        **_STARTS,
    ),
)
