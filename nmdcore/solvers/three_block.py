r"""Three-block solvers of 3B-RMD: BCD-NMD, eBCD-NMD, 3B-NMD and NMD-TM.

They work on the three-block model

.. math::

    \min_{Z \in F(X),\, W \in \mathbb{R}^{m\times r},\, H \in \mathbb{R}^{r\times n}}
    \tfrac12 \|Z - WH\|_F^2 \;\Big(+ \tfrac{\lambda}{2}(\|W\|_F^2 + \|H\|_F^2)\ \text{for NMD-TM}\Big),
    \qquad F(X) = \{Z : \max(0, Z) = X\},

and reproduce the reference MATLAB codes iteration by iteration. Every solver
returns ``theta = W @ H`` (never an extrapolated matrix) and ``factors = {"W", "H"}``.

Performance (docs/performance.md): an iteration is two m×n×r products
with the latent matrix (``Zᵀ W`` rather than ``Wᵀ Z``, the faster layout) and one fused
pass over row blocks (:class:`nmdcore._parallel.RowBlockRunner`). All of it runs on
nmdcore's row pool with single-threaded BLAS (:func:`nmdcore._parallel.run_indexed` says
why: OpenBLAS's own threads keep spinning after a threaded call and slow the next pass).
In the fused pass
each block forms its rows of Θ = WH (the third product), takes the ReLU error,
extrapolates and projects -- so Θ never exists as an m×n array and each m×n state
array is read and written once per iteration. r×r work runs with
single-threaded BLAS, m×r work over row chunks on all cores (:func:`nmdcore._parallel.map_row_chunks`;
Gram matrices in float64 without m×r float64 copies, :func:`nmdcore._linalg.gram64`);
the W least-squares step is folded into its big product, ``W = Z (Hᵀ G⁻¹)``, and the H
step uses the inverse of an r×r Gram matrix; eBCD orthonormalises with CholeskyQR, one round
when the basis is well conditioned and two otherwise (for float32 data its Gram products run in
float32, summed in float64); the latent residual
``‖Z − WH‖`` comes from r-sized products (``‖Z‖² − 2⟨WᵀZ, H⟩ + ⟨WᵀW, HHᵀ⟩``) unless
cancellation would make that inaccurate, in which case the pass computes it entry
by entry. Norms are accumulated in float64 for float32 data.

Each block's elementwise work is either a chain of NumPy operations or, when numba
is installed, one compiled loop (:mod:`nmdcore._kernels`; ``NMD_KERNELS=numpy|numba``
chooses): the two backends write identical Z, Θ_old and D and differ only in the
rounding of the sums. The compiled one tests ``X > 0`` directly, so it needs neither
``problem.lower`` nor U (one m×n array less).
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from .._errors import InitError
from .._linalg import (axpby_inplace, crossprod, crossprod64, flush_subnormals, gram64, lowrank_residual_sq,
                       matmul_rows, matmul_rows_t, spd_inverse)
from .._orth import cholesky_qr
from .._parallel import RowBlockRunner, serial_blas
from .._spec import LATENT_PAGES, Hyperparameter, MemoryModel, SolverSpec
from .._starts import factor_start, latent_array, start_array

PAPER_S25 = ('Gillis, Porcelli & Seraghiti (2025), "An extrapolated and provably convergent algorithm for '
             'nonlinear matrix decomposition with the ReLU function", arXiv:2503.23832')
PAPER_S23 = ('Seraghiti, Awari, Vandaele, Porcelli & Gillis (2023), "Accelerated algorithms for nonlinear '
             'matrix decomposition with the ReLU function", IEEE MLSP 2023, arXiv:2305.08687')
PAPER_W24 = ('Wang, Cui & Han (2024), "A momentum accelerated algorithm for ReLU-based nonlinear matrix '
             'decomposition", IEEE Signal Processing Letters 31:2865–2869, arXiv:2402.02442')



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
    G = gram64(W)
    if lam:
        G[np.diag_indices_from(G)] += lam
    return G


def _solve_w(Z: np.ndarray, H: np.ndarray, G: np.ndarray, out_t: np.ndarray) -> np.ndarray:
    """``W = Z Hᵀ G⁻¹`` for the r×r Gram ``G = HHᵀ`` (min-norm if singular), as ``out_t.T``.

    Multiplying H by G⁻¹ first (r×r×n) folds the least-squares solve into the m×n×r
    product, so no m×r×r product remains; that product is formed as the r×m matrix
    ``Wᵀ = (G⁻¹H) Zᵀ`` in ``out_t``, the faster GEMM layout, and W is its (Fortran-
    ordered) transpose.
    """
    return matmul_rows_t(_gram_solve(G, H, Z.dtype), Z, out_t).T


def _gram_solve(G: np.ndarray, H: np.ndarray, dtype) -> np.ndarray:
    """``G⁻¹H`` (r×n, in ``dtype``) for the r×r Gram ``G = HHᵀ``: ``(H⁺)ᵀ``, the pseudo-inverse's
    transpose (min-norm if G is singular)."""
    with serial_blas():
        return (spd_inverse(G) @ _f64(H)).astype(dtype)


def _solve_h(G: np.ndarray, WtZ: np.ndarray) -> np.ndarray:
    """``H = G⁻¹ (Wᵀ Z)`` for the r×r Gram ``G`` (min-norm if singular)."""
    return np.ascontiguousarray(spd_inverse(G).astype(WtZ.dtype, copy=False) @ WtZ)


def _finish(problem, monitor, W, H, W_prev, H_prev, out=None):
    """Result pair ``(W @ H, factors)``; on divergence the last finite iterate.

    The returned iterate is the last recorded one, whose ReLU error the pass that recorded
    it has taken (:attr:`Monitor.last_relu_error`, handed on with
    :meth:`Problem.remember_relu_error`), so what is left is the product. ``out`` is an m×n
    working array the solver no longer needs: Θ is written there rather than into new
    memory, which the system would first have to map and clear.
    """
    if monitor.stop_reason == "diverged":
        W, H = W_prev, H_prev
    W = np.ascontiguousarray(W)
    theta = matmul_rows(W, H, out=out)
    return problem.remember_relu_error(theta, monitor.last_relu_error), {"W": W, "H": H}



#: Row-block size of the fused passes: the NumPy backend makes ~10 sweeps over a block and wants
#: it in L2; a compiled kernel makes one, and larger blocks amortise BLAS's packing of H in each
#: block product W[rows] @ H (1 MiB: ~20% faster passes than 256 KiB at 50000×784, r = 32/64).
_BLOCK_BYTES = {False: 1 << 18, True: 1 << 20}


def _row_runner(shape, dtype, kernels, n_scratch: int) -> RowBlockRunner:
    return RowBlockRunner(shape, dtype, n_scratch=n_scratch, block_bytes=_BLOCK_BYTES[kernels is not None])


def _sqrt_rel(value_sq: float, norm_X: float) -> float:
    return float(np.sqrt(value_sq)) / norm_X


# ---------------------------------------------------------------------------------------------
# BCD-NMD (docs/solvers.md)

def _run_bcd(problem, start, params, monitor):
    """Exact block coordinate descent: Z ← P(WH); W ← LS_W(Z, H); H ← LS_H(Z, W).

    Memory: X and Z (and ``problem.lower`` on the NumPy backend). One fused pass per
    iteration forms Θ = WH block by block, takes its ReLU error (and ‖Z − Θ‖ when the
    r-sized formula is not accurate enough), and overwrites Z with the next P(Θ).
    """
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    kernels = _kernels.fused_kernels()
    L = None if kernels else problem.lower
    W, H = start["W"], start["H"]
    Z, fill = latent_array(X, start["Z"])
    runner = _row_runner(X.shape, dt, kernels, n_scratch=1 if kernels else 2)
    sq = runner.sq
    zero = dt.type(0)

    def evaluate(W, H, exact, fill=False):
        """(‖Z − WH‖² if exact, ‖X − max(0, WH)‖², ‖P(WH)‖²), then Z ← P(WH); ``fill``: Z ← X first
        (the first pass; the kernel does it row by row, while the rows are in cache)."""
        def block(rows, s):
            b = rows.stop - rows.start
            T = s[0][:b]
            np.matmul(W[rows], H, out=T)
            z, x = Z[rows], X[rows]
            if kernels:
                return kernels.bcd_block(T, z, x, exact, fill, zero)
            if fill:
                np.copyto(z, x)
            E = s[1][:b]
            res = 0.0
            if exact:
                res = sq(np.subtract(z, T, out=E), s)
            np.maximum(T, 0, out=E)
            rel = sq(np.subtract(E, x, out=E), s)
            np.clip(T, L[rows], x, out=z)
            return res, rel, sq(z, s)
        return runner.map(block)

    res, rel, z_sq = evaluate(W, H, True, fill)
    if monitor.record(_sqrt_rel(res, nX), _sqrt_rel(rel, nX)):
        return _finish(problem, monitor, W, H, W, H, out=Z)
    m, n = problem.shape
    ZtW = np.empty((n, problem.rank), dt)
    GH = _row_gram(H)
    W_prev, H_prev = W, H
    with np.errstate(all="ignore"):  # a diverging run ends through the monitor
        while True:
            W_prev, H_prev = W, H
            W = _solve_w(Z, H, GH, np.empty((problem.rank, m), dt))
            crossprod(Z, W, out=ZtW)  # (Wᵀ Z)ᵀ: this layout is the fast GEMM
            with serial_blas():
                GW = _col_gram(W)
                H = _solve_h(GW, ZtW.T)
                GH = _row_gram(H)
                s_sq = lowrank_residual_sq(z_sq, ZtW.T, H, GW, GH, dt)
            res, rel, z_sq = evaluate(W, H, s_sq is None)
            if monitor.record(_sqrt_rel(res if s_sq is None else s_sq, nX), _sqrt_rel(rel, nX)):
                break
    return _finish(problem, monitor, W, H, W_prev, H_prev, out=Z)  # Θ takes Z's memory


# ---------------------------------------------------------------------------------------------
# eBCD-NMD (docs/solvers.md)

def _run_ebcd(problem, start, params, monitor):
    """Extrapolated BCD with residual-based acceptance of each step.

    The code keeps the latent residual ``D = Z − WH`` instead of Z: then ``Z_α = WH + αD``,
    ``W_eᵀ Z_α = (W_eᵀW)H + α W_eᵀD``, and the basis W_e of range(Z_α Hᵀ) is taken from
    ``B = Z_α H⁺ = W + α DH⁺`` (``H⁺ = Hᵀ(HHᵀ)⁻¹``): the same range, as ``Z_α Hᵀ = B(HHᵀ)``
    when HHᵀ is invertible, without an m×r×r product, and better conditioned by up to
    κ(H)². (If H has lost rank, H⁺ is the pseudo-inverse, with a SingularGramWarning, and
    range(B) holds range(Z_α Hᵀ) and keeps rank r.) B is close to W, so one CholeskyQR round
    ``W_e = B T`` makes it orthonormal (:func:`nmdcore._orth.cholesky_qr`), and
    ``H_e = W_eᵀ Z_α = Tᵀ(BᵀZ_α)`` needs no product with W_e. For a candidate ``Θ_e`` with
    ``E = X − Θ_e`` the new residual is ``D_e = P(Θ_e) − Θ_e = min(E, U)`` (``U`` = +inf on Ω,
    0 elsewhere) and the ReLU residual is ``X − max(0, Θ_e) = min(E, X)``. Memory: X, D and
    D_e (and U on the NumPy backend; the compiled kernel tests X > 0 instead); Θ_e only
    exists block by block.
    """
    alpha, mu = params["alpha"], params["mu"]
    alpha_max, delta_bar = params["alpha_max"], params["delta_bar"]
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    W, H = start["W"], start["H"]
    kernels = _kernels.fused_kernels()
    runner = _row_runner(X.shape, dt, kernels, n_scratch=1)
    sq = runner.sq
    zero = dt.type(0)
    Z0 = X if start["Z"] is None else start["Z"]
    D = np.empty_like(X)
    D_e = np.empty_like(X)

    def start_block(rows, s):
        """D = Z0 − Θ0 for Θ0 = W H; returns (‖D‖², ‖X − max(0, Θ0)‖²)."""
        T = s[0][:rows.stop - rows.start]
        np.matmul(W[rows], H, out=T)
        x, d = X[rows], D[rows]
        if kernels:
            return kernels.difference_block(T, Z0[rows], x, d, zero)
        return sq(np.subtract(Z0[rows], T, out=d), s), sq(np.maximum(T, 0) - x, s)

    S_sq, rel_sq = runner.map(start_block)
    S, rel = float(np.sqrt(S_sq)), _sqrt_rel(rel_sq, nX)
    if monitor.record(S / nX, rel, alpha=alpha, accepted=1.0):
        return _finish(problem, monitor, W, H, W, H, out=D)
    upper = None if kernels else np.where(X > 0, np.array(np.inf, dt), np.array(0, dt))

    def evaluate(W_e, H_e, D_e):
        """D_e ← P(Θ_e) − Θ_e for Θ_e = W_e H_e; returns (‖D_e‖², ‖X − max(0, Θ_e)‖²)."""
        def block(rows, s):
            T = s[0][:rows.stop - rows.start]
            np.matmul(W_e[rows], H_e, out=T)
            x, d = X[rows], D_e[rows]
            if kernels:
                return kernels.ebcd_block(T, d, x, zero)
            np.subtract(x, T, out=T)
            np.minimum(T, upper[rows], out=d)
            return sq(d, s), sq(np.minimum(T, x, out=T), s)
        return runner.map(block)

    m, n = problem.shape
    basis = np.empty((m, problem.rank), dt)
    DtL = np.empty((n, problem.rank), dt)
    GH = _row_gram(H)
    W_prev, H_prev = W, H  # the last recorded iterate before the current one
    with np.errstate(all="ignore"):
        while True:
            alpha_used = alpha
            W_prev, H_prev = W, H
            H_pinv = np.ascontiguousarray(_gram_solve(GH, H, dt).T)  # H⁺ = Hᵀ(HHᵀ)⁻¹
            # W_e = orth(B) = B T for B = Z_α H⁺ (one CholeskyQR round: B ≈ W is well conditioned);
            # float32 data: Gram products in float32 (see cholesky_qr), sums in float64
            B = matmul_rows(D, H_pinv, out=basis)
            with serial_blas():
                axpby_inplace(1.0, W, alpha, B)  # B = W + α D H⁺
            W_e, T = cholesky_qr(B, widen=False)
            L = W_e if T is None else B  # H_e = W_eᵀ Z_α = Tᵀ (Bᵀ Z_α) = Tᵀ ((BᵀW) H + α BᵀD)
            crossprod(D, L, out=DtL)
            LtW = crossprod64(L, W, widen=False)
            with serial_blas():
                H_e = (LtW.astype(dt, copy=False) @ H) + alpha * DtL.T
                if T is not None:
                    H_e = T.T.astype(dt) @ H_e
                flush_subnormals(H_e)
            flush_subnormals(W_e)  # see flush_subnormals: the factors' entries on all-zero rows and columns decay
            S_e_sq, rel_e_sq = evaluate(W_e, H_e, D_e)
            S_e = float(np.sqrt(S_e_sq))
            ratio = S_e / S if S > 0 else np.inf
            accepted = ratio < 1
            if accepted:
                W, H, S, rel = W_e, H_e, S_e, _sqrt_rel(rel_e_sq, nX)
                D, D_e = D_e, D
                with serial_blas():
                    GH = _row_gram(H)
                if ratio > delta_bar:  # slow progress: extrapolate more
                    mu = max(mu, 0.25 * (alpha - 1.0))
                    alpha = min(alpha + mu, alpha_max)
                    if alpha == alpha_max:
                        alpha = 1.0
            else:
                alpha = 1.0
            if monitor.record(S / nX, rel, alpha=alpha_used, accepted=float(accepted)):
                break
    D_e = None  # free one m×n state; Θ takes the other's memory
    return _finish(problem, monitor, W, H, W_prev, H_prev, out=D)


# ---------------------------------------------------------------------------------------------
# 3B-NMD and NMD-TM (docs/solvers.md): one momentum loop

def _momentum_loop(problem, start, monitor, *, momentum: float, lam: float, mix: float,
                   latent_objective: bool):
    """Shared loop of 3B-NMD (λ = 0, mix = 1) and NMD-TM.

    Per iteration: ``Z ← (1+a)P(Θ) − a Z_old``; ``W ← mix·LS_W^λ(Z, H_old) + (1−mix)W_old``;
    ``H ← mix·LS_H^λ(Z, W) + (1−mix)H_old``; ``Θ = WH``; then, except in the last two
    iterations, ``Θ ← (1+a)Θ − aΘ_old`` (reference quirk). The objective is the latent
    residual ``‖Z − WH‖`` (3B-NMD) or the ReLU error (NMD-TM).

    Memory: X, Z_old and Θ_old (and ``problem.lower`` on the NumPy backend). After the
    two products with Z, one fused pass forms Θ = WH block by block, takes its errors,
    extrapolates Θ_old and builds the next Z (same operation order as the reference, so
    the same rounding).
    """
    a = momentum
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    kernels = _kernels.fused_kernels()
    L = None if kernels else problem.lower
    W, H = start["W"], start["H"]
    Zx, fill = latent_array(X, start["Z"])
    Tx = np.empty_like(X)  # Θ_old: the (extrapolated) Θ of the previous iteration
    runner = _row_runner(X.shape, dt, kernels, n_scratch=1 if kernels else 2)
    sq = runner.sq
    keep, grow, zero = dt.type(-a), dt.type(1.0 + a), dt.type(0)  # the scalars NumPy uses below

    def evaluate(W, H, exact, extrapolate, fill=False):
        """For Θ = WH: (‖Z − Θ‖² if exact, ‖X − max(0, Θ)‖², ‖Z_next‖²), where
        Θ_old ← (1+a)Θ − aΘ_old (or Θ) and Z_next = (1+a)P(Θ_old) − aZ replaces Z
        (``fill``: Z ← X first)."""
        def block(rows, s):
            b = rows.stop - rows.start
            T = s[0][:b]
            np.matmul(W[rows], H, out=T)
            z, x, t = Zx[rows], X[rows], Tx[rows]
            if kernels:
                return kernels.momentum_block(T, z, x, t, exact, extrapolate, latent_objective, fill,
                                              keep, grow, zero)
            if fill:
                np.copyto(z, x)
            E = s[1][:b]
            res = 0.0
            if exact:
                res = sq(np.subtract(z, T, out=E), s)
            np.maximum(T, 0, out=E)
            rel = sq(np.subtract(E, x, out=E), s)
            if extrapolate:
                t *= -a
                T *= 1.0 + a
                t += T
            else:
                np.copyto(t, T)
            np.clip(t, L[rows], x, out=E)
            z *= -a
            E *= 1.0 + a
            z += E
            return res, rel, (sq(z, s) if latent_objective else 0.0)
        return runner.map(block)

    def objective(res_or_none, res, rel):
        if not latent_objective:
            return _sqrt_rel(rel, nX)
        return _sqrt_rel(res if res_or_none is None else res_or_none, nX)

    res, rel, z_sq = evaluate(W, H, latent_objective, False, fill)
    if monitor.record(objective(None, res, rel), _sqrt_rel(rel, nX)):
        return _finish(problem, monitor, W, H, W, H, out=Tx)
    m, n = problem.shape
    ZtW = np.empty((n, problem.rank), dt)
    GH = _row_gram(H, lam)
    W = np.asfortranarray(W)  # the layout of the W's to come (see _solve_w)
    W_prev, H_prev = W, H
    with np.errstate(all="ignore"):
        while True:
            W_prev, H_prev = W, H
            W = _solve_w(Zx, H, GH, np.empty((problem.rank, m), dt))
            if mix != 1.0:
                with serial_blas():
                    axpby_inplace(1.0 - mix, W_prev.T, mix, W.T)
            crossprod(Zx, W, out=ZtW)
            with serial_blas():
                GW = _col_gram(W, lam)
                H = _solve_h(GW, ZtW.T)
                if mix != 1.0:
                    axpby_inplace(1.0 - mix, H_prev, mix, H)
                GH = _row_gram(H, lam)
                s_sq = None
                if latent_objective and mix == 1.0 and not lam:  # GW, GH: plain Grams of W, H
                    s_sq = lowrank_residual_sq(z_sq, ZtW.T, H, GW, GH, dt)
            # the reference skips the Θ-extrapolation in iterations max_iter − 1 and max_iter
            extrapolate = monitor.iteration + 1 < monitor.max_iter - 1
            res, rel, z_sq = evaluate(W, H, latent_objective and s_sq is None, extrapolate)
            if monitor.record(objective(s_sq, res, rel), _sqrt_rel(rel, nX)):
                break
    Zx = None  # free one m×n state; Θ takes the other's memory
    return _finish(problem, monitor, W, H, W_prev, H_prev, out=Tx)


def _run_3b(problem, start, params, monitor):
    return _momentum_loop(problem, start, monitor, momentum=params["beta"], lam=0.0, mix=1.0,
                          latent_objective=True)


def _run_tm(problem, start, params, monitor):
    return _momentum_loop(problem, start, monitor, momentum=params["alpha"], lam=params["lam"],
                          mix=params["beta"], latent_objective=False)


# ---------------------------------------------------------------------------------------------
# registry entries

_STARTS = dict(start_names=("W", "H", "Z"), required_start=("W", "H"), shares_tsvd_start=True, pages=LATENT_PAGES)
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
        memory=MemoryModel(held=2, transient=1.1),
        description=("Exact block coordinate descent on (Z, W, H): project, then two least-squares "
                     "solves. The residual never increases. An explicit 'Z' only enters err[0]."),
        summary=("Writes Θ = W H and updates the latent matrix, W and H in turn, each by an exact formula, "
                 "with no SVD at all. Slow but steady: the error it minimises never goes up, so it is the safe "
                 "reference for the three-block solvers."),
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
        memory=MemoryModel(held=3, transient=0.75),
        hyperparameters=(
            Hyperparameter("alpha", 1.0, low=1.0, slider_range=(1.0, 4.0), symbol="α₀",
                           help="initial extrapolation parameter of Z_α = αZ + (1−α)WH"),
            Hyperparameter("mu", 0.3, low=0.0, slider_range=(0.0, 1.0), symbol="μ",
                           help="increment of α after an accepted but slow step"),
            Hyperparameter("alpha_max", 4.0, low=1.0, slider_range=(1.0, 10.0), symbol="α_max",
                           help="upper bound of α; reaching it resets α to 1"),
            Hyperparameter("delta_bar", 0.8, low=0.0, high=1.0, symbol="δ̄",
                           help="residual ratio above which a step counts as slow and α grows"),
        ),
        extras=("alpha", "accepted"),
        description=("BCD with an extrapolated latent matrix and a residual test: a step is kept "
                     "only if it lowers ‖Z − WH‖, so the residual never increases. "
                     "History extras: 'alpha' used in the step, 'accepted' (1/0). With a warm "
                     "(W, H), pass Z = P(WH) or the first step may be rejected forever."),
        summary=("Block coordinate descent on Θ = W H with an extrapolation that is kept only when it lowers "
                 "the error, so it is both fast and provably convergent. The recommended default for most "
                 "data."),
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
        memory=MemoryModel(held=3, transient=0.75),
        hyperparameters=(
            Hyperparameter("beta", 0.7, low=0.0, high=1.0, symbol="β",
                           help="fixed momentum on Z and Θ"),
        ),
        description=("BCD with fixed momentum β on Z and Θ (heuristic, no guarantee). As in the "
                     "reference code the Θ-momentum is skipped in the last two iterations."),
        summary=("Block coordinate descent on Θ = W H with a fixed momentum β on the latent matrix and on Θ. "
                 "Often the fastest in practice but without a guarantee: lower β if the error jumps about."),
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
        memory=MemoryModel(held=3, transient=0.75),
        hyperparameters=(
            Hyperparameter("lam", 1e-4, low=0.0, symbol="λ", log=True, slider_range=(1e-8, 1.0),
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
        summary=("Block updates on Θ = W H with a small penalty λ on the size of W and H, a positive momentum "
                 "α and a negative momentum on the factors. Fast from the TSVD start; from a random start it "
                 "can diverge, so lower α and β if it does."),
        **_STARTS,
    ),
)
