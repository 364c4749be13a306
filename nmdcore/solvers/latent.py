r"""Latent-model solvers: Naive-NMD, A-NMD, EM-NMD and A-EM.

All four alternate between a latent matrix Z with max(0, Z) = X (or its
Gaussian posterior mean) and the rank-r truncation Θ = T_r(Z):

.. math::

    \min_{Z \in F(X),\ \operatorname{rank} Θ \le r} \|Z - Θ\|_F^2,
    \qquad F(X) = \{Z : \max(0, Z) = X\}.

They follow the reference MATLAB codes step by step (the golden traces in
``tests/data`` check it). Every solver takes ``tsvd``: ``"exact"`` (the
Gram eigendecomposition of the reference codes, :func:`nmdcore._tsvd.tsvd_gram`)
or ``"randomized"`` (warm-started randomized subspace iteration,
:func:`nmdcore._tsvd.randomized_tsvd`, seeded by ``random_state``), the fast
option for large matrices. Returned factors are ``{"W", "H"}`` of the last
truncation, ``W`` with orthonormal columns and ``H = Σ_r V_rᵀ``.

Performance (docs/performance.md): Θ = W H is never held as an m×n
array during the iterations. After each truncation one fused pass over row blocks
(:class:`_Sweep`, on nmdcore's row pool with single-threaded BLAS) forms Θ block by
block, takes its errors and writes the next latent matrix -- the projection (Naive,
A-NMD) or the E-step (EM, A-EM) -- and, with the randomized truncation, also the
product ``Zᵀ·basis`` that the next warm truncation starts from, so an iteration reads
Z three times: that pass and the truncation's two products. A-NMD needs a second
pass (its extrapolated Z depends on an acceptance test that ends the first), and EM's
σ² comes from r-sized products before its pass. The elementwise work of a block is a
compiled kernel (:mod:`nmdcore._kernels`) or the equivalent NumPy chain
(``NMD_KERNELS=numpy``); both write identical arrays. EM's E-step evaluates ``erfcx`` on
every zero of X, with nmdcore's own branch-free version (:mod:`nmdcore._erfcx`),
several times faster than SciPy's.
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from .._erfcx import erfcx, erfcx32
from .._errors import HyperparameterError
from .._linalg import gram64, lowrank_residual_sq, matmul_rows
from .._parallel import RowBlockRunner, row_chunks, run_indexed, serial_blas, thread_count
from .._tsvd import randomized_tsvd, tsvd_gram
from .._spec import LATENT_PAGES, Hyperparameter, MemoryModel, SolverSpec
from .._starts import factor_start, latent_array, start_array
from .three_block import PAPER_S23

_TSVD = Hyperparameter(
    "tsvd", "exact", kind="choice", choices=("exact", "randomized"),
    help="Rank-r truncation per iteration: exact (Gram eigendecomposition, reproduces the "
         "reference codes) or randomized (warm-started subspace iteration, for large data)")

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_INV_SQRT_2 = float(1.0 / np.sqrt(2.0))


def _prepare_start(problem, init) -> dict:
    """``{"theta": Θ0, "Z": Z0 or None}``; None stands for Z0 = X (no copy)."""
    if isinstance(init, str):
        W0, H0 = factor_start(problem, init)
        return {"theta": W0 @ H0, "Z": None}
    theta = start_array(init, "theta", problem.shape, problem)
    Z = start_array(init, "Z", problem.shape, problem) if "Z" in init else None
    return {"theta": theta, "Z": Z}


class _Truncation:
    """Θ ← T_r(Z) = W H with the chosen method; keeps the factors (and subspace) of the last call.

    Θ itself is never formed here: the solvers' fused passes build it block by block.
    With ``projection`` each call also keeps ``WtZ = Wᵀ Z`` (from small products).
    """

    def __init__(self, problem, method: str, projection: bool = False):
        self.rank = problem.rank
        self.randomized = method == "randomized"
        self.projection = projection
        self.rng = problem.rng
        self.basis = None
        self.W = self.H = self.WtZ = None
        self.previous = (None, None)  # the factors before the last successful call
        self.fresh = False            # the last call succeeded (its factors may not be recorded yet)

    @property
    def next_basis(self) -> np.ndarray | None:
        """The m×l block whose product ``Zᵀ·basis`` the next call needs (None: it needs none)."""
        return self.basis if self.randomized else None

    def __call__(self, Z: np.ndarray, Zt_basis: np.ndarray | None = None) -> bool:
        """Truncate Z; return False, keeping the previous factors, if Z is not finite.

        ``Zt_basis`` is ``Zᵀ next_basis`` when the caller formed it while writing Z.
        """
        projection = self.projection
        try:
            if self.randomized:
                if self.basis is None:  # cold start: the default number of power steps
                    out = randomized_tsvd(Z, self.rank, random_state=self.rng, projection=projection)
                else:                   # warm start from the previous subspace: one step
                    out = randomized_tsvd(Z, self.rank, basis=self.basis, n_power_iter=1,
                                          At_basis=Zt_basis, projection=projection)
                self.basis = out[2]
            else:
                out = tsvd_gram(Z, self.rank, projection=projection)
        except FloatingPointError:
            self.fresh = False
            return False
        self.previous, self.fresh = (self.W, self.H), True
        self.W, self.H = out[:2]
        self.WtZ = out[-1] if projection else None
        return True

    def residual_sq(self, z_sq: float, floor: float = 0.0) -> float | None:
        """``‖Z − W H‖²`` of the last call from ``z_sq = ‖Z‖²`` and r-sized products, or None
        where cancellation could make that inaccurate for the caller, who adds ``floor`` to it
        (see :func:`nmdcore._linalg.lowrank_residual_sq`)."""
        H = self.H
        GW = gram64(self.W)
        with serial_blas():
            H64 = H.astype(np.float64, copy=False)
            return lowrank_residual_sq(z_sq, self.WtZ, H, GW, H64 @ H64.T, H.dtype, floor)

    def factors(self) -> dict:
        return {} if self.W is None else {"W": self.W, "H": self.H}

    def undo(self) -> None:
        """Go back to the factors before the last successful call (the monitor refused them)."""
        if self.fresh:
            self.W, self.H = self.previous
            self.WtZ, self.fresh = None, False


#: Row-block size of the fused passes (bytes of one m×n array's block): large enough to amortise
#: BLAS's packing of H in each block product W[rows] @ H and to give the block product
#: ``basisᵀ Z[rows]`` enough rows (2 MiB against 1 MiB: EM's float32 iteration on 10000×784 3–5 %
#: faster, float64 and 50000×784 unchanged). Both backends use it: ``Zᵀ·basis`` is summed block by
#: block, so the same blocks give the same truncations.
_BLOCK_BYTES = 1 << 21


class _Sweep:
    """One pass over the rows of the m×n arrays of a latent solver.

    Each block gets its rows of Θ -- from W H (one small BLAS product) or from an
    m×n array -- and a function that reads and writes the blocks of the solver's
    arrays in cache and returns a few float sums. When a ``basis`` is given, the
    pass also forms ``Zᵀ basis`` (n×l) from the blocks of Z just written, so the
    warm randomized truncation that follows needs no pass of its own over Z.

    Blocks are grouped in the fixed row chunks of :func:`nmdcore._parallel.row_chunks`;
    chunks run on nmdcore's row pool with single-threaded BLAS and their sums are
    combined in chunk order, so the results do not depend on the number of threads.
    """

    def __init__(self, shape, dtype, n_scratch: int = 3):
        m, n = shape
        dtype = np.dtype(dtype)
        self.chunks = row_chunks(m)
        longest = max(c.stop - c.start for c in self.chunks)
        self.rows = int(max(1, min(longest, _BLOCK_BYTES // (n * dtype.itemsize))))
        workers = min(thread_count(), len(self.chunks))
        self._scratch = [[np.empty((self.rows, n), dtype) for _ in range(n_scratch)]
                         + [np.empty((self.rows, n), np.float64)] for _ in range(workers)]
        self._workers = workers
        self.dtype = dtype

    sq = staticmethod(RowBlockRunner.sq)

    def __call__(self, block, *, W=None, H=None, theta=None, Z=None, basis=None):
        """Sums of ``block(rows, T, scratch)`` over all blocks, and ``Zᵀ basis`` (or None).

        ``T`` is the block's rows of ``W @ H`` (in ``scratch[0]``) or of ``theta``;
        ``block`` may use ``scratch[1:]`` (sliced to the block's rows).
        """
        step = self.rows

        def chunk_sums(i, worker):
            s = self._scratch[worker]
            rows_all = self.chunks[i]
            sums = None
            acc = None
            if basis is not None:
                acc = np.zeros((basis.shape[1], Z.shape[1]), self.dtype)
                part = np.empty_like(acc)
            for start in range(rows_all.start, rows_all.stop, step):
                rows = slice(start, min(start + step, rows_all.stop))
                if theta is None:
                    T = np.matmul(W[rows], H, out=s[0][:rows.stop - start])
                else:
                    T = theta[rows]
                out = np.asarray(block(rows, T, s), dtype=np.float64)
                sums = out if sums is None else sums + out
                if acc is not None:  # basisᵀ Z (l×n): the faster layout of this product (docs/performance.md)
                    acc += np.matmul(basis[rows].T, Z[rows], out=part)
            return sums, acc

        parts = run_indexed(chunk_sums, len(self.chunks), self._workers)
        sums = np.sum(np.stack([p[0] for p in parts]), axis=0)
        if basis is None:
            return sums, None
        acc = parts[0][1]
        for p in parts[1:]:
            acc += p[1]
        return sums, acc.T


def _sqrt_rel(value_sq: float, norm_X: float) -> float:
    return float(np.sqrt(value_sq)) / norm_X


def _residual_numpy(sq, L):
    """NumPy chain of ``residual_block``: (‖Z − T‖², ‖max(T, 0) − X‖²)."""
    def run(T, z, x, s):
        E = s[1][:T.shape[0]]
        res = sq(np.subtract(z, T, out=E), s)
        np.maximum(T, 0, out=E)
        return res, sq(np.subtract(E, x, out=E), s)
    return run


def _run_naive(problem, start, params, monitor):
    """Naive-NMD (Saul 2022): Z ← P(Θ), Θ ← T_r(Z); records ‖Z − Θ‖_F/‖X‖_F (non-increasing).

    One fused pass per iteration (after the truncation): Θ = W H block by block, its
    latent residual and ReLU error, and the next Z = P(Θ) -- BCD-NMD's pass. Memory:
    X and Z (and ``problem.lower`` on the NumPy backend); Θ is formed only at the end.
    """
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    kernels = _kernels.fused_kernels()
    L = None if kernels else problem.lower
    sweep = _Sweep(X.shape, dt)
    sq, zero = sweep.sq, dt.type(0)
    Z, fill = latent_array(X, start["Z"])
    truncate = _Truncation(problem, params["tsvd"])

    def project(rows, T, s):
        """(‖Z − T‖², ‖max(T, 0) − X‖²), then Z ← P(T) (in the first pass Z ← Z0 = X first, if due)."""
        z, x = Z[rows], X[rows]
        if kernels:
            return kernels.bcd_block(T, z, x, True, fill, zero)[:2]
        if fill:
            np.copyto(z, x)
        E = s[1][:T.shape[0]]
        res = sq(np.subtract(z, T, out=E), s)
        np.maximum(T, 0, out=E)
        rel = sq(np.subtract(E, x, out=E), s)
        np.clip(T, L[rows], x, out=z)
        return res, rel

    theta0 = start["theta"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        (res, rel), _ = sweep(project, theta=theta0)     # err[0] = ‖Θ0 − Z0‖; Z ← P(Θ0)
        fill = False
        if monitor.record(_sqrt_rel(res, nX), _sqrt_rel(rel, nX)):
            return theta0, truncate.factors()
        Zt_basis = None
        while True:
            if not truncate(Z, Zt_basis):
                monitor.record(np.nan, np.nan)
                break
            (res, rel), Zt_basis = sweep(project, W=truncate.W, H=truncate.H, Z=Z, basis=truncate.next_basis)
            if monitor.record(_sqrt_rel(res, nX), _sqrt_rel(rel, nX)):
                break
    return _finish(problem, theta0, truncate, monitor, out=Z)  # Θ takes Z's memory


def _finish(problem, theta0, truncate, monitor, out=None):
    """The returned iterate: Θ = W H of the last truncation (the start if there was none).

    After a divergence this is the last recorded iterate: a non-finite Z makes the
    truncation fail and keep its previous factors, and a truncation the monitor refused
    (a ReLU error past its divergence limit) is undone. ``out``: an m×n working array
    the solver no longer needs, which Θ then takes instead of new memory. Θ's ReLU error was
    taken by the pass that recorded this iterate (:attr:`Monitor.last_relu_error`), so only the
    product is left (:meth:`Problem.remember_relu_error` hands the error on).
    """
    if monitor.stop_reason == "diverged":
        truncate.undo()
    if truncate.W is None:
        return theta0, truncate.factors()
    theta = matmul_rows(truncate.W, truncate.H, out=out)
    return problem.remember_relu_error(theta, monitor.last_relu_error), truncate.factors()


def _run_a_nmd(problem, start, params, monitor):
    """A-NMD: Naive-NMD with adaptive extrapolation of Z and Θ, as in the reference code (docs/solvers.md).

    Returns Θ = W H of the last truncation, except when ``max_iter`` ends the run
    on a rejected step: then, like the reference, Θ is the restored previous
    (extrapolated) iterate, of rank up to 2r, and ``factors`` still hold the last
    truncation ``W``, ``H`` (so ``theta != W @ H`` in that case only).

    Two fused passes per iteration: one builds ``Z = (1+β)P(Θ) − βZ_old`` (and the
    warm truncation's ``Zᵀ·basis``); after the truncation the other forms Θ = W H block by
    block, its errors, the extrapolated ``Θ_e = (1+β)Θ − βΘ_old`` and ``‖Z − Θ_e‖``.
    Acceptance and rejection swap array references, nothing is copied. Memory: X, Z,
    Z_old, Θ_old and Θ_e (and ``problem.lower`` on the NumPy backend).
    """
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    beta, eta, gamma, gamma_bar = params["beta"], params["eta"], params["gamma"], params["gamma_bar"]
    beta_bar = 1.0
    accepted_beta = {1: beta}      # h[k] of the reference; unset entries read as 0
    kernels = _kernels.fused_kernels()
    L = None if kernels else problem.lower
    sweep = _Sweep(X.shape, dt)
    sq, zero = sweep.sq, dt.type(0)
    theta_old = start["theta"]     # Θ_old (the solver owns the start arrays)
    theta = theta_old              # Θ to project next: Θ_e, or Θ_old after a rejection
    theta_new = np.empty_like(X)   # Θ_e of the running iteration
    Z_old, fill = latent_array(X, start["Z"])
    Z = np.empty_like(X)
    truncate = _Truncation(problem, params["tsvd"])
    residual = _residual_numpy(sq, L)
    state = {}

    def start_errors(rows, T, s):
        if fill:
            np.copyto(Z_old[rows], X[rows])
        if kernels:
            return kernels.residual_block(T, Z_old[rows], X[rows], zero)
        return residual(T, Z_old[rows], X[rows], s)

    def build(rows, T, s):
        """Z ← (1+β)P(T) − βZ_old."""
        z, x, zo = Z[rows], X[rows], Z_old[rows]
        keep, grow = state["keep"], state["grow"]
        if kernels:
            kernels.latent_build_block(T, z, zo, x, keep, grow, zero)
            return ()
        np.clip(T, L[rows], x, out=z)
        z *= grow
        z += np.multiply(zo, keep, out=s[1][:T.shape[0]])
        return ()

    def evaluate(rows, T, s):
        """(‖Z − T‖², ‖max(T, 0) − X‖², ‖Z − Θ_e‖²) with Θ_e ← (1+β)T − βΘ_old (or T)."""
        z, x, to, tn = Z[rows], X[rows], theta_old[rows], theta_new[rows]
        keep, grow, extrapolate = state["keep"], state["grow"], state["extrapolate"]
        if kernels:
            return kernels.anmd_block(T, z, x, to, tn, extrapolate, keep, grow, zero)
        res, rel = residual(T, z, x, s)
        E = s[1][:T.shape[0]]
        if extrapolate:
            np.multiply(T, grow, out=tn)
            tn += np.multiply(to, keep, out=E)
        else:
            np.copyto(tn, T)
        return res, rel, sq(np.subtract(z, tn, out=E), s)

    previous_gap = np.inf           # b[k − 1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        (res, rel), _ = sweep(start_errors, theta=theta_old)
        if monitor.record(_sqrt_rel(res, nX), _sqrt_rel(rel, nX), beta=beta):
            return theta_old, truncate.factors()
        while True:
            k = monitor.iteration + 1
            state.update(keep=dt.type(-beta), grow=dt.type(1.0 + beta),
                         extrapolate=k < monitor.max_iter - 1)  # Θ ← Θ + β(Θ − Θ_old)
            _, Zt_basis = sweep(build, theta=theta, Z=Z, basis=truncate.next_basis)
            if not truncate(Z, Zt_basis):
                monitor.record(np.nan, np.nan, beta=beta)
                break
            (res, rel, gap_sq), _ = sweep(evaluate, W=truncate.W, H=truncate.H)
            stop = monitor.record(_sqrt_rel(res, nX), _sqrt_rel(rel, nX), beta=beta)
            if stop and monitor.stop_reason != "max_iter":
                break                                   # the reference returns W H here
            gap = float(np.sqrt(gap_sq))
            theta = theta_new
            if k > 2:
                if gap < previous_gap:                  # accept the extrapolated step
                    beta = min(beta_bar, gamma * beta)
                    beta_bar = min(1.0, gamma_bar * beta)
                    accepted_beta[k] = beta
                    Z_old, Z = Z, Z_old                 # Z is overwritten by the next build
                    theta_old, theta_new = theta_new, theta_old
                else:                                   # reject: restore the previous iterate
                    beta *= eta
                    accepted_beta[k] = beta
                    beta_bar = accepted_beta.get(k - 2, 0.0)
                    theta = theta_old
            previous_gap = gap
            if stop:
                return theta, truncate.factors()
    Z_old = theta_new = None
    return _finish(problem, start["theta"], truncate, monitor, out=Z)  # Θ takes Z's memory


def _initial_variance(problem) -> float:
    """Population variance of all m·n entries of X (EM-NMD's σ² start), in float64."""
    size = problem.X.size
    mean = float(np.sum(problem.X, dtype=np.float64)) / size
    return problem.sq_norm_X / size - mean * mean


class _EStep:
    """Posterior means on the zeros of X of N(Θ, σ²) truncated to (−∞, 0] (docs/solvers.md), per row block.

    With γ = Θ/σ and ρ = φ(γ)/Φ(−γ) = √(2/π)/erfcx(γ/√2): the mean is Θ − σρ, written
    ``(ρ − γ)·(−σ)``, and the variance σ²(1 − ρ(ρ − γ)); A-EM adds α(Z_prev − Z_prev2).
    erfcx runs in the data's precision (float32 data: :func:`nmdcore._erfcx.erfcx32`,
    float32 arithmetic, within 3 float32 ulp of the exact value). The compiled kernel and
    the NumPy chain below do the same operations in the same order with scalars of the
    data's dtype, so they write identical Z.
    """

    def __init__(self, problem, kernel, alpha):
        self.X = problem.X
        self.kernel = kernel
        self.dtype = dt = problem.dtype
        self.erfcx = erfcx32 if dt == np.float32 else erfcx
        self.momentum = alpha is not None
        self.alpha = dt.type(0.0 if alpha is None else alpha)
        self.inv_sqrt2 = dt.type(_INV_SQRT_2)
        self.sqrt_2_over_pi = dt.type(_SQRT_2_OVER_PI)
        self.set_sigma(1.0)

    def set_sigma(self, sigma2: float):
        sigma = float(np.sqrt(sigma2))
        self.sigma, self.neg_sigma = self.dtype.type(sigma), self.dtype.type(-sigma)

    def __call__(self, rows, T, s, Z_out, Z_prev, Z_prev2):
        """Write the block of Z_out; return (Σ ρ(ρ − γ) over the zeros, ‖Z_out‖², ‖max(T, 0) − X‖²)."""
        x, out, prev, prev2 = self.X[rows], Z_out[rows], Z_prev[rows], Z_prev2[rows]
        if self.kernel is not None:
            return self.kernel(T, out, prev, prev2, x, self.momentum, self.sigma, self.neg_sigma,
                               self.inv_sqrt2, self.sqrt_2_over_pi, self.alpha, self.dtype.type(0))
        b = T.shape[0]
        G, R = s[1][:b], s[2][:b]
        np.maximum(T, 0, out=R)
        rel = RowBlockRunner.sq(np.subtract(R, x, out=R), s)
        np.divide(T, self.sigma, out=G)                   # γ
        np.multiply(G, self.inv_sqrt2, out=R)
        self.erfcx(R, out=R)                              # in the data's precision
        np.divide(self.sqrt_2_over_pi, R, out=R)          # ρ
        np.subtract(R, G, out=G)                          # ρ − γ
        zeros = x <= 0
        reduction = float(np.dot(R[zeros].astype(np.float64), G[zeros].astype(np.float64)))
        np.multiply(G, self.neg_sigma, out=G)             # the posterior mean
        if self.momentum:
            np.subtract(prev, prev2, out=R)
            R *= self.alpha
            G += R
        np.copyto(out, G, where=zeros)
        np.copyto(out, x, where=~zeros)
        return reduction, RowBlockRunner.sq(out, s), rel


def _run_em(problem, start, params, monitor, *, alpha=None):
    """EM-NMD (Saul 2022), or A-EM when ``alpha`` is given (docs/solvers.md, EM-NMD and A-EM).

    One fused pass per iteration, after the truncation Θ = W H: Θ block by block, its
    ReLU error and the E-step, which writes the next Z (and the warm truncation's
    ``Zᵀ·basis``) and sums ‖Z‖². The E-step needs σ², hence the latent residual
    ‖Z − Θ‖, before the pass: it comes from r-sized products
    (``‖Z‖² − 2⟨WᵀZ, H⟩ + ⟨WᵀW, HHᵀ⟩``), or from a pass of its own when cancellation
    would make that inaccurate. Memory: X and Z (A-EM: also the previous Z); Θ is
    formed only at the end.
    """
    X, nX, dt = problem.X, problem.norm_X, problem.dtype
    size = X.size
    kernels = _kernels.fused_kernels()
    e_kernel = kernels.em_block if kernels else None
    sweep = _Sweep(X.shape, dt)
    sq, zero = sweep.sq, dt.type(0)
    residual = _residual_numpy(sq, None)
    e_step = _EStep(problem, e_kernel, alpha)
    momentum = alpha is not None
    truncate = _Truncation(problem, params["tsvd"], projection=True)
    sigma2 = _initial_variance(problem)
    zero_count = X.size - problem.nonzeros  # X >= 0: its nonzeros are its positives
    # Z^{(k)} is written over Z^{(k−2)} (A-EM) or over itself; the positives hold X throughout
    Z, fill = latent_array(X, None if momentum else start["Z"])
    arrays = {"Z": Z, "prev": np.empty_like(X) if momentum else Z}
    state = {"fill": fill}  # Z (and A-EM's previous Z) still to be filled with X in the first pass

    def errors(rows, T, s):
        z, x = arrays["Z"][rows], X[rows]
        if state["fill"]:
            np.copyto(z, x)
            if momentum:
                np.copyto(arrays["prev"][rows], x)
        if kernels:
            return kernels.residual_block(T, z, x, zero)
        return residual(T, z, x, s)

    def expectation(rows, T, s):
        # A-EM: Z^{(k)} = E + α(Z^{(k−1)} − Z^{(k−2)}) overwrites Z^{(k−2)}
        return e_step(rows, T, s, arrays["prev"], arrays["Z"], arrays["prev"])

    def next_latent(**theta):
        """E-step with the current σ² on Θ (W H or an array): Z ← E[Z | X, Θ, σ²]. Returns
        (Σ of the posterior variances, ‖Z‖², ‖max(Θ, 0) − X‖², Zᵀ·basis)."""
        e_step.set_sigma(sigma2)
        if not momentum:
            arrays["prev"] = arrays["Z"]
        (reduction, z_sq, rel), Zt_basis = sweep(expectation, Z=arrays["prev"], basis=truncate.next_basis,
                                                 **theta)
        if momentum:
            arrays["Z"], arrays["prev"] = arrays["prev"], arrays["Z"]
        return sigma2 * (zero_count - reduction), z_sq, rel, Zt_basis

    theta0 = start["theta"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        (res, rel), _ = sweep(errors, theta=theta0)
        state["fill"] = False
        objective = _sqrt_rel(rel, nX) if momentum else _sqrt_rel(res, nX)
        if monitor.record(objective, _sqrt_rel(rel, nX), sigma2=sigma2):
            return theta0, truncate.factors()
        variance, z_sq, _, Zt_basis = next_latent(theta=theta0)
        while True:
            if not truncate(arrays["Z"], Zt_basis):
                monitor.record(np.nan, np.nan, sigma2=sigma2)
                break
            res = truncate.residual_sq(z_sq, floor=variance)  # σ² needs variance + res
            if res is None:
                (res, _), _ = sweep(errors, W=truncate.W, H=truncate.H)
            sigma2 = (variance + res) / size
            # the next E-step (with this σ²) also yields this Θ's ReLU error; after the last
            # iteration its Z is not used
            variance, z_sq, rel, Zt_basis = next_latent(W=truncate.W, H=truncate.H)
            relu = _sqrt_rel(rel, nX)
            if monitor.record(relu if momentum else _sqrt_rel(res, nX), relu, sigma2=sigma2):
                break
    Z = arrays["Z"]
    arrays.clear()
    return _finish(problem, theta0, truncate, monitor, out=Z)  # Θ takes Z's memory


def _run_a_em(problem, start, params, monitor):
    """A-EM: EM-NMD with momentum α on the latent matrix; records the ReLU error."""
    return _run_em(problem, start, params, monitor, alpha=params["alpha"])


class _ANMDSpec(SolverSpec):
    """A-NMD's spec: also checks η < 1 < γ̄ < γ, which ties several hyperparameters together."""

    def resolve(self, given):
        params = super().resolve(given)
        if not params["gamma_bar"] < params["gamma"]:
            raise HyperparameterError(
                f"{self.key}: hyperparameters must satisfy eta < 1 < gamma_bar < gamma, got "
                f"gamma_bar={params['gamma_bar']!r} >= gamma={params['gamma']!r}")
        return params


_PAPER_SAUL = ('Saul (2022), "A nonlinear matrix decomposition for mining the zeros of sparse data", '
               "SIAM J. Math. Data Sci. 4(2)")
_LATENT_STARTS = dict(start_names=("theta", "Z"), required_start=("theta",))
_LATENT_RESIDUAL = "latent residual ‖Z − Θ‖_F/‖X‖_F"

SPECS = (
    SolverSpec(
        key="naive",
        label="Naive-NMD",
        family="latent",
        model="Latent-RMD",
        paper=_PAPER_SAUL,
        objective=_LATENT_RESIDUAL,
        run=_run_naive,
        prepare_start=_prepare_start,
        memory=MemoryModel(held=3, transient=0.75, square=7.5),
        pages=LATENT_PAGES,
        hyperparameters=(_TSVD,),
        description="Alternating projections: Z ← P(Θ) (X on the positives, min(0, Θ) on the zeros), "
                    "Θ ← TSVD_r(Z). The latent residual never increases.",
        summary=("Fills the zeros of X with the values of Θ where they are negative, then takes the best "
                 "rank-r approximation of the result, and repeats. Simple and steady but slow: pick it to see "
                 "the latent model at work, not for speed."),
        **_LATENT_STARTS,
    ),
    _ANMDSpec(
        key="a_nmd",
        label="A-NMD",
        family="latent",
        model="Latent-RMD",
        paper=PAPER_S23,
        objective="latent residual ‖Z − Θ‖_F/‖X‖_F with the extrapolated Z",
        run=_run_a_nmd,
        prepare_start=_prepare_start,
        memory=MemoryModel(held=5, transient=0.75, square=7.5),
        pages=LATENT_PAGES,
        hyperparameters=(
            Hyperparameter("beta", 0.7, 0.0, 1.0, symbol="β",
                           help="Initial extrapolation weight β0 (the reference code's default is 0.9; "
                                "every experiment of the paper uses 0.7)"),
            Hyperparameter("eta", 0.4, 0.0, 1.0, low_open=True, high_open=True, symbol="η",
                           help="Factor applied to β after a rejected step (η < 1)"),
            Hyperparameter("gamma", 1.1, 1.0, None, low_open=True, slider_range=(1.0, 2.0), symbol="γ",
                           help="Factor applied to β after an accepted step (γ > γ̄)"),
            Hyperparameter("gamma_bar", 1.05, 1.0, None, low_open=True, slider_range=(1.0, 2.0), symbol="γ̄",
                           help="Growth factor of the upper bound on β (1 < γ̄ < γ)"),
            _TSVD,
        ),
        extras=("beta",),
        description="Naive-NMD with extrapolation of Z and Θ; β grows by γ after a step that "
                    "decreases ‖Z − Θ‖ and shrinks by η (restoring the previous iterate) otherwise. "
                    "After a final rejected step Θ is the restored iterate (rank up to 2r) and "
                    "factors hold the last truncation.",
        summary=("Naive-NMD that extrapolates each step further along the last one, and backs off whenever "
                 "that overshoots. A fast and reliable choice when a truncated SVD per iteration is "
                 "affordable, as when compressing an NMF basis."),
        **_LATENT_STARTS,
    ),
    SolverSpec(
        key="em",
        label="EM-NMD",
        family="latent",
        model="Gaussian latent (EM)",
        paper=_PAPER_SAUL,
        objective="latent residual ‖Z − Θ‖_F/‖X‖_F with the posterior-mean Z (not monotone)",
        run=_run_em,
        prepare_start=_prepare_start,
        memory=MemoryModel(held=3, transient=0.75, square=7.5),
        pages=LATENT_PAGES,
        hyperparameters=(_TSVD,),
        extras=("sigma2",),
        description="Expectation–maximisation for X = max(0, Z), Z ~ N(Θ, σ²): posterior means of "
                    "the zeros (truncated Gaussian), then Θ ← TSVD_r(Z) and the variance update. "
                    "An explicit Z start only enters the first recorded residual.",
        summary=("Treats every zero of X as a hidden value below zero with a Gaussian spread, and alternates "
                 "between estimating those values and refitting Θ (expectation–maximisation). Pick it for the "
                 "statistical model behind the zeros; each iteration costs more than Naive-NMD's."),
        **_LATENT_STARTS,
    ),
    SolverSpec(
        key="a_em",
        label="A-EM",
        family="latent",
        model="Gaussian latent (EM)",
        paper=('Saul (2022), "A geometrical connection between sparse and low-rank matrices and its '
               'application to manifold learning", TMLR'),
        objective="ReLU error ‖X − max(0, Θ)‖_F/‖X‖_F",
        run=_run_a_em,
        prepare_start=_prepare_start,
        memory=MemoryModel(held=4, transient=0.75, square=7.5),
        pages=LATENT_PAGES,
        hyperparameters=(
            Hyperparameter("alpha", 0.6, 0.0, 1.0, high_open=True, symbol="α",
                           help="Momentum weight on the difference of the two previous latent matrices"),
            _TSVD,
        ),
        start_names=("theta",),
        required_start=("theta",),
        tol=1e-4,
        tol_stall=1e-5,
        extras=("sigma2",),
        description="EM-NMD with momentum: after the E-step add α(Z⁽ᵏ⁻¹⁾ − Z⁽ᵏ⁻²⁾). Records the "
                    "ReLU error. The reference code starts its latent matrix at X and takes no Z.",
        summary=("EM-NMD with a fixed momentum on the hidden values, which usually needs far fewer iterations. "
                 "Pick it over EM-NMD when speed matters; unlike EM-NMD, a step may make the fit worse."),
    ),
)
