"""Dense linear-algebra kernels shared by the solvers."""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import blas


def sq_norm(A: np.ndarray) -> float:
    """``‖A‖_F²`` accumulated in float64 (no temporary for contiguous arrays)."""
    a = A.ravel()
    if a.dtype == np.float64:
        return float(np.dot(a, a))
    return float(np.einsum("i,i->", a, a, dtype=np.float64))


def relu_error(X: np.ndarray, theta: np.ndarray, norm_X: float, work: np.ndarray | None = None) -> float:
    """``‖X − max(0, Θ)‖_F / ‖X‖_F``; ``work`` is an optional m×n buffer to avoid a temporary."""
    work = np.maximum(theta, 0, out=work)
    np.subtract(work, X, out=work)
    return np.sqrt(sq_norm(work)) / norm_X


def tsvd_exact(Z: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` truncated SVD through the Gram matrix of the smaller side.

    Follows the reference codes' ``utils/tsvd``: the ``rank``
    largest eigenpairs of ``Z Zᵀ`` (m ≤ n) or ``Zᵀ Z`` (m > n), the other side
    recovered by one product.

    Returns
    -------
    W, H : ndarray
        ``W = U_r`` (m×r, orthonormal columns) and ``H = Σ_r V_rᵀ`` (r×n), so
        ``W @ H`` is the best rank-r approximation of ``Z``.
    """
    m, n = Z.shape
    if m <= n:
        d, Q = np.linalg.eigh(Z @ Z.T)
        U = np.ascontiguousarray(Q[:, ::-1][:, :rank])
        return U, U.T @ Z
    d, Q = np.linalg.eigh(Z.T @ Z)
    V = np.ascontiguousarray(Q[:, ::-1][:, :rank])
    s = np.sqrt(np.maximum(d[::-1][:rank], 0))
    ZV = Z @ V
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    return ZV * inv, s[:, None] * V.T


class SingularGramWarning(UserWarning):
    """A factor's r×r Gram matrix was singular; the minimum-norm least-squares solution was used."""


#: Cholesky of a Gram matrix counts as singular when min(diag L)/max(diag L) falls below this
#: (cond(G) ≳ 1/eps of float64).
_GRAM_DIAG_RATIO = float(np.sqrt(np.finfo(np.float64).eps))


def spd_inverse(G: np.ndarray) -> np.ndarray:
    """Inverse of a small symmetric positive (semi)definite matrix, in float64.

    Uses a Cholesky factorisation. When ``G`` is numerically singular the
    pseudo-inverse is returned instead, which turns ``Z Hᵀ G⁻¹`` into the
    minimum-norm least-squares solution, and a :class:`SingularGramWarning` is
    issued. A non-finite ``G`` (a diverging iteration) gives
    an all-NaN matrix, without a warning, so that the caller's objective becomes
    non-finite and the run ends as "diverged".

    Parameters
    ----------
    G : ndarray, shape (r, r)

    Returns
    -------
    ndarray, shape (r, r), float64
    """
    G = np.asarray(G, dtype=np.float64)
    if not np.isfinite(G).all():
        return np.full(G.shape, np.nan)
    try:
        C = np.linalg.cholesky(G)
        d = np.diag(C)
        if d.min() > _GRAM_DIAG_RATIO * d.max():
            C_inv = np.linalg.inv(C)  # lower triangular, r×r
            return C_inv.T @ C_inv
    except np.linalg.LinAlgError:
        pass
    warnings.warn("singular r×r Gram matrix in a least-squares update; the minimum-norm "
                  "solution was used (the factors have lost rank)", SingularGramWarning, stacklevel=3)
    return np.linalg.pinv(G, hermitian=True)


#: :func:`cholesky_qr` stops after one round when κ₂(A) is at most this: its loss of
#: orthogonality, ~κ₂(A)²·eps, is then that of the second round of CholeskyQR2.
SINGLE_PASS_COND = 4.0


def _upper_inverse_factor(G: np.ndarray, ratio: float) -> np.ndarray | None:
    """Upper-triangular ``R⁻¹`` with ``G = RᵀR``, or None where Cholesky fails or is unsafe."""
    try:
        C = np.linalg.cholesky(G)  # G = C Cᵀ, so R = Cᵀ
    except np.linalg.LinAlgError:
        return None
    d = np.diag(C)
    if d.min() <= ratio * d.max():
        return None
    return np.triu(np.linalg.inv(C).T)


def cholesky_qr(A: np.ndarray, *, widen: bool = True,
                adaptive: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Orthonormal basis ``Q = A T`` of the columns of a tall m×r matrix (CholeskyQR).

    Rounds of ``Q ← Q R⁻¹`` with ``QᵀQ = RᵀR``: the Q factor of a thin QR decomposition
    up to the signs of its columns. Each round costs a Gram matrix (:func:`gram64`) and an
    m×r×r product (a general one: OpenBLAS's trmm takes 1.4–2× as long on these shapes).
    Two rounds (CholeskyQR2) leave Q orthonormal to working precision; with ``adaptive``
    one round is enough when ``A`` is well conditioned (κ₂(A) ≤ :data:`SINGLE_PASS_COND`,
    from the eigenvalues of the r×r Gram matrix). Falls back to Householder QR
    (:func:`numpy.linalg.qr`) when ``A`` is too ill-conditioned for the Cholesky route, so
    it never fails where QR works.

    Parameters
    ----------
    A : ndarray, shape (m, r), m >= r
    widen : bool
        Passed to :func:`gram64`. ``False`` forms the Gram products of float32 data in
        float32 (about 4× cheaper); the basis is as orthonormal wherever the Cholesky
        route is taken, since that route already requires κ(A) below ~1/√eps of A's dtype.
    adaptive : bool
        One round instead of two when ``A`` is well conditioned.

    Returns
    -------
    Q : ndarray, shape (m, r)
        Orthonormal columns spanning range(A), in A's dtype; all NaN when A's Gram matrix
        is not finite.
    T : ndarray, shape (r, r), float64, or None
        Upper triangular with ``Q = A T`` up to rounding (the product of the rounds' ``R⁻¹``,
        as applied in A's dtype); None when Q came from Householder QR or is NaN.
    """
    Q, T = A, None
    for round_ in range(2):
        G, R_inv = _cholesky_round(Q, widen)
        if G is None:
            return np.full(A.shape, np.nan, dtype=A.dtype), None
        if R_inv is None:
            return np.linalg.qr(A)[0], None
        with serial_blas():
            R_inv = R_inv.astype(A.dtype)
            T = R_inv.astype(np.float64) if T is None else T @ R_inv
            done = round_ == 1 or (adaptive and _well_conditioned(G))
        Q = matmul_rows(Q, R_inv, out=None if Q is A else Q)
        if done:
            break
    return Q, T


def _cholesky_round(Q: np.ndarray, widen: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(G, R⁻¹)`` of one CholeskyQR round: Q's Gram matrix ``G = RᵀR`` (float64) and the upper
    triangular ``R⁻¹`` (float64); R⁻¹ is None where the Cholesky route fails or is unsafe, and
    both are None when G is not finite."""
    G = gram64(Q, widen=widen)
    if not np.isfinite(G).all():
        return None, None
    # r×r work on one thread: a threaded LAPACK/BLAS call leaves OpenBLAS's threads spinning
    # and slows the row pool's next products (run_indexed); at r = 128 by ~40 %
    with serial_blas():
        return G, _upper_inverse_factor(G, float(np.sqrt(np.finfo(Q.dtype).eps)))


def _well_conditioned(G: np.ndarray) -> bool:
    """κ₂ of a matrix with Gram matrix ``G`` is at most :data:`SINGLE_PASS_COND`."""
    eigenvalues = np.linalg.eigvalsh(G)
    return bool(eigenvalues[-1] <= SINGLE_PASS_COND ** 2 * eigenvalues[0])


def cholqr2(A: np.ndarray, *, widen: bool = True) -> np.ndarray:
    """Orthonormal basis of the columns of a tall m×r matrix: two rounds of
    :func:`cholesky_qr` (CholeskyQR2) whatever A's conditioning; returns Q only."""
    return cholesky_qr(A, widen=widen, adaptive=False)[0]


def axpby_inplace(a: float, x: np.ndarray, b: float, y: np.ndarray) -> np.ndarray:
    """``y ← a·x + b·y`` in place, without temporaries (BLAS scal + axpy).

    Parameters
    ----------
    a, b : float
    x, y : ndarray
        C-contiguous arrays of the same shape and float dtype; ``y`` is overwritten.

    Returns
    -------
    y : ndarray
    """
    xf, yf = x.reshape(-1), y.reshape(-1)
    if not (y.flags.c_contiguous and x.flags.c_contiguous and x.dtype == y.dtype and xf.size == yf.size):
        y *= b
        y += a * x
        return y
    scal, axpy = blas.get_blas_funcs(("scal", "axpy"), (yf,))
    if b != 1.0:
        scal(b, yf)
    axpy(xf, yf, a=a)
    return y


def top_eigh(G: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of a symmetric matrix, largest first.

    Only the wanted part of the spectrum is computed (LAPACK ``syevr`` on an
    index subset), several times cheaper than a full ``eigh`` when ``k`` is
    small.

    Parameters
    ----------
    G : ndarray, shape (p, p)
        Symmetric, finite.
    k : int
        ``1 <= k <= p``.

    Returns
    -------
    d : ndarray, shape (k,)
        Eigenvalues in descending order.
    Q : ndarray, shape (p, k)
        Matching orthonormal eigenvectors (C-contiguous).
    """
    p = G.shape[0]
    d, Q = scipy.linalg.eigh(G, subset_by_index=[p - k, p - 1], driver="evr", check_finite=False)
    return d[::-1].copy(), np.ascontiguousarray(Q[:, ::-1])


#: Row groups of :func:`_column_gram`: fixed (so the sum rounds the same on any machine), few
#: (each holds an n×n partial Gram until the sum), and enough to keep a few cores busy.
_GRAM_GROUPS = 4


def _column_gram(Z: np.ndarray) -> np.ndarray:
    """``Zᵀ Z`` (n×n) of a tall matrix (any layout), over a few fixed row groups with single-threaded BLAS."""
    m = Z.shape[0]
    step = -(-m // _GRAM_GROUPS)
    groups = [slice(i, min(i + step, m)) for i in range(0, m, step)]
    def part(i, worker):
        block = Z[groups[i]]
        return block.T @ block

    return _sum_parts(run_indexed(part, len(groups)), None)


def tsvd_gram(Z: np.ndarray, rank: int, *, projection: bool = False) -> tuple[np.ndarray, ...]:
    """Rank-``rank`` truncated SVD through the Gram matrix, computing only the top eigenpairs.

    The same construction as :func:`tsvd_exact` (the reference codes'
    ``utils/tsvd``) with :func:`top_eigh` in place of a full
    eigendecomposition; it reproduces the reference traces to their tolerance.
    The products with ``Z`` run over row chunks with single-threaded BLAS
    (:func:`run_indexed` says why).

    Parameters
    ----------
    Z : ndarray, shape (m, n)
    rank : int
    projection : bool
        Also return ``Wᵀ Z`` (r×n), formed from the Gram matrix (no product with Z).

    Returns
    -------
    W, H : ndarray
        ``W = U_r`` (m×r, orthonormal columns), ``H = Σ_r V_rᵀ`` (r×n).
    WtZ : ndarray
        ``Wᵀ Z``, only with ``projection=True``.

    Raises
    ------
    FloatingPointError
        When ``Z`` holds NaN or infinite values (detected on the small Gram matrix).
    """
    m, n = Z.shape
    G = _column_gram(Z.T if m <= n else Z)
    if not np.isfinite(G).all():
        raise FloatingPointError("the matrix to truncate has non-finite entries")
    with serial_blas():
        d, Q = top_eigh(G, rank)
    if m <= n:
        H = np.ascontiguousarray(matmul_rows(Z.T, Q).T)  # Qᵀ Z over column chunks of Z
        return (Q, H, H) if projection else (Q, H)
    s = np.sqrt(np.maximum(d, 0))
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    W = matmul_rows(Z, Q)
    W *= inv
    H = s[:, None] * Q.T
    if not projection:
        return W, H
    with serial_blas():
        WtZ = inv[:, None] * (Q.T @ G)  # Wᵀ Z = S⁻¹ Qᵀ (Zᵀ Z)
    return W, H, WtZ


def cholqr2_deferred(A: np.ndarray, *, widen: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CholeskyQR2 with the second round's triangular factor returned instead of applied.

    A caller that multiplies the orthonormal basis by a small matrix ``M`` anyway (a
    rotation) forms ``Q (T M)``: one m×r×r product instead of two.

    Parameters
    ----------
    A : ndarray, shape (m, r), m >= r
    widen : bool
        Passed to :func:`gram64` (see :func:`cholesky_qr`).

    Returns
    -------
    Q : ndarray, shape (m, r)
        ``A R₁⁻¹``, one round of :func:`cholesky_qr` applied (A's dtype); all NaN when
        A's Gram matrix is not finite.
    T : ndarray, shape (r, r), float64
        Upper triangular with ``(Q T)ᵀ (Q T) = I`` to working precision (the second
        round's ``R₂⁻¹``); the identity when Q came from Householder QR (the fallback of
        :func:`cholesky_qr` for a matrix too ill-conditioned for the Cholesky route).
    """
    Q = A
    for round_ in range(2):
        G, R_inv = _cholesky_round(Q, widen)
        if G is None:
            return np.full(A.shape, np.nan, dtype=A.dtype), np.eye(A.shape[1])
        if R_inv is None:
            return np.linalg.qr(A)[0], np.eye(A.shape[1])
        if round_ == 1:
            return Q, R_inv
        Q = matmul_rows(Q, R_inv.astype(A.dtype))


def _orth_small(P: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of a small n×l matrix (Householder QR, one thread).

    In a power step ``S ← orth(A (Aᵀ S))`` it keeps the m×l block ``A P`` as well
    conditioned as A itself (σ₁/σ_l rather than its square), so that :func:`cholqr2`
    does not need its Householder fallback on the tall block, even in float32.
    """
    with serial_blas():  # SciPy's economic QR: 1.7 ms where NumPy's takes 3.0 (784×74 float32)
        return scipy.linalg.qr(P, mode="economic", check_finite=False)[0]


def randomized_tsvd(A: np.ndarray, rank: int, *, basis: np.ndarray | None = None,
                    n_oversamples: int = 10, n_power_iter: int = 4,
                    random_state=None, At_basis: np.ndarray | None = None,
                    projection: bool = False) -> tuple[np.ndarray, ...]:
    """Rank-``rank`` truncated SVD by (warm-started) randomized subspace iteration.

    With ``l = min(rank + n_oversamples, m, n)`` columns, the starting block is
    ``orth(A Ω)`` for a Gaussian n×l matrix Ω drawn from ``random_state`` (cold
    start) or the orthonormal m×l ``basis`` returned by a previous call (warm
    start: when A changes little between calls, as in the latent solvers, one
    power step per call keeps the subspace converged). Each power step is
    ``S ← orth(A orth(Aᵀ S))``; the result is the Rayleigh–Ritz projection
    ``Sᵀ A = Ũ Σ Vᵀ`` truncated to ``rank``. Cost: (2·n_power_iter + 1 or 2)
    products of size m×n×l, against m²n plus an eigendecomposition for
    :func:`tsvd_gram`. It equals the exact truncation only up to the
    convergence of the subspace (fast when σ_{l+1}/σ_r is small).

    Every product with ``A`` runs over row chunks with single-threaded BLAS
    (:func:`matmul_rows`, :func:`inner_rows`; :func:`run_indexed` says why). The
    orthonormalisation is CholeskyQR2 (:func:`cholqr2`); the last one's second
    triangular factor is folded into the final rotation (:func:`cholqr2_deferred`),
    and the Rayleigh–Ritz step is the float64 eigendecomposition of the l×l matrix
    (Sᵀ A)(Sᵀ A)ᵀ, on one thread.

    Parameters
    ----------
    A : ndarray, shape (m, n)
    rank : int
    basis : ndarray, shape (m, l), optional
        Orthonormal warm-start block (the third output of a previous call).
    n_oversamples : int
        Extra columns beyond ``rank`` in the subspace.
    n_power_iter : int
        Power steps ``S ← orth(A Aᵀ S)`` performed in this call.
    random_state : int, numpy.random.Generator or None
        Source of Ω on a cold start (unused when ``basis`` is given).
    At_basis : ndarray, shape (n, l), optional
        ``Aᵀ basis`` when the caller has already formed it (the latent solvers
        accumulate it while writing A); used only with a warm ``basis``.
    projection : bool
        Also return ``Wᵀ A`` (rank×n), formed from the Rayleigh–Ritz product.

    Returns
    -------
    W : ndarray, shape (m, rank)
        Approximate leading left singular vectors (orthonormal columns).
    H : ndarray, shape (rank, n)
        ``Σ_r V_rᵀ``, so that ``W @ H`` approximates the best rank-r approximation.
    basis : ndarray, shape (m, l)
        Orthonormal block to pass back as ``basis`` on the next call.
    WtA : ndarray, shape (rank, n)
        ``Wᵀ A``, only with ``projection=True``: the array H itself (U_rᵀ Sᵀ A is both).

    Raises
    ------
    FloatingPointError
        When ``A`` holds NaN or infinite values.
    """
    m, n = A.shape
    width = min(rank + n_oversamples, m, n)
    if basis is None or basis.shape != (m, width):
        rng = np.random.default_rng(random_state)
        Y = matmul_rows(A, rng.standard_normal((n, width), dtype=A.dtype))
    else:
        P = At_basis if At_basis is not None else inner_rows(A, basis.astype(A.dtype, copy=False))
        if not np.isfinite(P).all():
            raise FloatingPointError("the matrix to truncate has non-finite entries")
        Y = matmul_rows(A, _orth_small(P))
        n_power_iter -= 1
    if not np.isfinite(Y).all():
        raise FloatingPointError("the matrix to truncate has non-finite entries")
    # float32 Gram products in float32 (see cholesky_qr's ``widen``); a no-op for float64
    for _ in range(max(n_power_iter, 0)):
        Y = matmul_rows(A, _orth_small(inner_rows(A, cholqr2(Y, widen=False))))
    # S = Q T is the orthonormal basis; it is never formed, only its rotation S U below
    Q, T = cholqr2_deferred(Y, widen=False)
    AtQ = inner_rows(A, Q)
    if not np.isfinite(AtQ).all():  # e.g. the Gram matrix of a huge (finite) block overflowed
        raise FloatingPointError("the matrix to truncate is too large to orthonormalise its range")
    with serial_blas():
        # Rayleigh–Ritz in float64: Sᵀ A = U Σ Vᵀ from the eigenvectors of (Sᵀ A)(Sᵀ A)ᵀ = U Σ² Uᵀ
        # (l×l; an SVD of the n×l Aᵀ S costs 4× as much), and Σ_r V_rᵀ = U_rᵀ Sᵀ A
        B_t = AtQ.astype(np.float64) @ T  # (Sᵀ A)ᵀ, n×l
        U = np.linalg.eigh(B_t.T @ B_t)[1][:, ::-1]
        H = np.ascontiguousarray((B_t @ U[:, :rank]).T, dtype=A.dtype)
        rotation = np.ascontiguousarray(T @ U, dtype=A.dtype)
    rotated = matmul_rows(Q, rotation)  # S U: same span as S, ordered by σ
    W = np.ascontiguousarray(rotated[:, :rank])
    # Wᵀ A = U_rᵀ Sᵀ A is H itself (as in tsvd_gram for m <= n)
    return (W, H, rotated, H) if projection else (W, H, rotated)


#: :func:`lowrank_residual_sq` trusts its formula only while ‖Z − WH‖² is at least this fraction
#: of the magnitude of its terms; below it the cancellation error could exceed ~1e-10 (float64)
#: or ~1e-3 (float32, m ~ 1e5) of the residual.
LOWRANK_RESIDUAL_MIN = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2}


def lowrank_residual_sq(z_sq: float, WtZ: np.ndarray, H: np.ndarray, GW: np.ndarray, GH: np.ndarray,
                        dtype) -> float | None:
    """``‖Z − W H‖_F²`` without touching Z: ``‖Z‖² − 2⟨WᵀZ, H⟩ + ⟨WᵀW, HHᵀ⟩``.

    Parameters
    ----------
    z_sq : float
        ``‖Z‖_F²`` (float64).
    WtZ, H : ndarray, shape (r, n)
    GW, GH : ndarray, shape (r, r)
        ``WᵀW`` and ``HHᵀ`` (float64).
    dtype
        The data's dtype (sets how much cancellation is tolerated, see ``LOWRANK_RESIDUAL_MIN``).

    Returns
    -------
    float or None
        None when cancellation could make the formula inaccurate (or a term is not finite):
        the caller then computes the residual entry by entry.
    """
    cross = float(np.sum(WtZ.astype(np.float64, copy=False) * H.astype(np.float64, copy=False)))
    wh_sq = float(np.sum(GW * GH))
    value = z_sq - 2.0 * cross + wh_sq
    if value >= LOWRANK_RESIDUAL_MIN[np.dtype(dtype)] * (z_sq + 2.0 * abs(cross) + wh_sq):
        return value
    return None


_SERIAL_LOCK = threading.Lock()
_SERIAL_DEPTH = 0       # threads (and nested calls) currently inside serial_blas()
_SERIAL_RESTORE = None  # undoes the outermost call's limit; called by the last exit
_BLAS_LIMITER = None    # cached by _blas_limiter(); False: no way to limit BLAS here


def _openblas_local_setters(controller) -> list:
    """``openblas_set_num_threads_local`` of every loaded BLAS library, or [] unless all have it.

    threadpoolctl sets OpenBLAS's thread count with ``openblas_set_num_threads``; with the
    OpenBLAS builds of NumPy and SciPy (0.3.30/0.3.31) that call is ignored when it comes
    from a thread other than the main one after a worker thread has run BLAS on one thread
    -- exactly the situation of the app, which runs solvers in its script threads and
    nmdcore's products on its row pool. The ``_local`` setter (OpenBLAS >= 0.3.27; it
    returns the previous count) takes effect from any thread.
    """
    setters = []
    for lib in controller.lib_controllers:
        if lib.user_api != "blas":
            continue
        if lib.internal_api != "openblas":
            return []
        try:
            setter = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
        except (OSError, AttributeError):
            return []
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        setters.append(setter)
    return setters


def _make_blas_limiter():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return False
    controller = ThreadpoolController()
    setters = _openblas_local_setters(controller)
    if not setters:
        return lambda: controller.limit(limits=1, user_api="blas").restore_original_limits

    def limit():
        previous = [set_threads(1) for set_threads in setters]

        def restore():
            for set_threads, count in zip(setters, previous):
                set_threads(count)
        return restore
    return limit


def _blas_limiter():
    """``limit() -> restore``: set every loaded BLAS library to one thread; None if impossible."""
    global _BLAS_LIMITER
    if _BLAS_LIMITER is None:
        _BLAS_LIMITER = _make_blas_limiter()
    return _BLAS_LIMITER or None


@contextlib.contextmanager
def serial_blas():
    """Context manager that runs BLAS single-threaded (a no-op without threadpoolctl).

    For the many small products of an iteration (m×r×r, r×r×n, Gram matrices), and
    for every product on nmdcore's row pool (:func:`run_indexed`). BLAS's thread
    count is global to the process, so the calls are counted: the first entry (from
    any thread) sets it to 1 and the last exit restores what it was. Two solver runs
    in parallel threads (two sessions of the app) therefore neither restore it under
    each other's feet nor leave it at 1. OpenBLAS is set through
    ``openblas_set_num_threads_local`` where it has it (see :func:`_openblas_local_setters`),
    other libraries through threadpoolctl.
    """
    global _SERIAL_DEPTH, _SERIAL_RESTORE
    limit = _blas_limiter()
    if limit is None:
        yield
        return
    with _SERIAL_LOCK:
        if _SERIAL_DEPTH == 0:
            _SERIAL_RESTORE = limit()
        _SERIAL_DEPTH += 1
    try:
        yield
    finally:
        with _SERIAL_LOCK:
            _SERIAL_DEPTH -= 1
            if _SERIAL_DEPTH == 0:
                _SERIAL_RESTORE()
                _SERIAL_RESTORE = None


def available_cpus() -> int:
    """Number of CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_ROW_POOL = None


class RowBlockRunner:
    """Apply a function to consecutive row blocks of m×n arrays on a few threads.

    The blocks are small enough to stay in cache (about ``block_bytes`` per m×n
    array), so a chain of NumPy operations on one block -- a small product, a
    projection, an extrapolation, a norm -- touches main memory once instead of once
    per operation. Workers take the next block as they become free (see
    :func:`run_indexed`) and each reuses its own scratch arrays; NumPy and BLAS
    release the GIL, and BLAS is kept single-threaded meanwhile. Results are combined
    in block order, so sums over them do not depend on the number of threads.

    Parameters
    ----------
    shape : (m, n)
    dtype : float32 or float64
    n_scratch : int
        Scratch blocks per worker (``rows × n`` of ``dtype``); a float64 one is added
        for exact float64 norms of float32 blocks (see :meth:`sq`).
    block_bytes : int
        Target size of one block of one m×n array.
    workers : int or None
        Threads to use (default: :func:`available_cpus`, at most 8).
    """

    def __init__(self, shape, dtype, *, n_scratch: int = 2, block_bytes: int = 1 << 18,
                 workers: int | None = None):
        m, n = shape
        dtype = np.dtype(dtype)
        rows = int(max(1, min(m, block_bytes // (n * dtype.itemsize))))
        self.blocks = [slice(i, min(i + rows, m)) for i in range(0, m, rows)]
        self._workers = min(workers or _max_workers(), len(self.blocks))
        self._scratch = [[np.empty((rows, n), dtype) for _ in range(n_scratch)]
                         + [np.empty((rows, n), np.float64)] for _ in range(self._workers)]

    @staticmethod
    def sq(block: np.ndarray, scratch: list) -> float:
        """``‖block‖_F²`` in float64 (a float32 block is widened in the float64 scratch)."""
        if block.dtype != np.float64:
            wide = scratch[-1][:block.shape[0]]
            np.copyto(wide, block)
            block = wide
        a = block.reshape(-1)
        return float(np.dot(a, a))

    def map(self, fn) -> np.ndarray:
        """Sum over blocks of ``fn(rows, scratch)``, a tuple of floats, as a float64 array.

        ``rows`` is the block's slice of rows; ``scratch`` the worker's list of scratch
        arrays (slice them to ``[:rows.stop - rows.start]``).
        """
        blocks, scratch = self.blocks, self._scratch
        parts = run_indexed(lambda i, worker: fn(blocks[i], scratch[worker]), len(blocks), self._workers)
        return np.sum(np.asarray(parts, dtype=np.float64).reshape(len(parts), -1), axis=0)


def _max_workers() -> int:
    return min(available_cpus(), 8)


def _row_pool():
    global _ROW_POOL
    if _ROW_POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _ROW_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="nmdcore-rows")
    return _ROW_POOL


def run_indexed(fn, count: int, workers: int | None = None) -> list:
    """``[fn(i, worker) for i in range(count)]`` on up to ``workers`` threads, BLAS single-threaded.

    The calling thread is worker 0; each worker takes the next index as it becomes
    free, so an uneven split or a busy core does not leave one thread idle while
    another works. ``worker`` (``0 <= worker < workers``) identifies the thread, for
    per-thread scratch space. Results come back in index order.

    Why not multithreaded BLAS: OpenBLAS's worker threads keep spinning for a while
    (around 0.1 s) after each threaded call; on a machine with few cores they then
    compete with the threads of the next fused pass and slow it down by up to 1.7×.
    Running every large product of an iteration through this pool, with BLAS
    single-threaded, keeps exactly one busy thread per core.

    NumPy's floating-point error handling (``np.errstate``) is per thread: the other
    workers run ``fn`` under the caller's settings.
    """
    k = min(workers or _max_workers(), count)
    results = [None] * count
    if k <= 1:
        with serial_blas():
            for i in range(count):
                results[i] = fn(i, 0)
        return results
    lock = threading.Lock()
    next_index = iter(range(count))
    caller_errstate = np.geterr()

    def work(worker):
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            results[i] = fn(i, worker)

    def pool_work(worker):
        with np.errstate(**caller_errstate):
            work(worker)

    with serial_blas():
        futures = [_row_pool().submit(pool_work, w) for w in range(1, k)]
        try:
            work(0)
        finally:
            for future in futures:
                exc = future.exception()  # waits; the first error is raised below
                if exc is not None:
                    raise exc
    return results


#: Row chunks of the tall products below: about this many chunks per matrix (enough for an even
#: share on every core), each between these bounds of rows; the chunks depend only on m.
_CHUNKS_PER_MATRIX = 32
_CHUNK_ROWS_MIN = 256
_CHUNK_ROWS_MAX = 4096


def row_chunks(m: int) -> list:
    """The fixed row chunks of ``range(m)`` used by :func:`map_row_chunks` (they depend only on m)."""
    rows = int(min(_CHUNK_ROWS_MAX, max(_CHUNK_ROWS_MIN, -(-m // _CHUNKS_PER_MATRIX))))
    return [slice(i, min(i + rows, m)) for i in range(0, m, rows)] or [slice(0, 0)]


def map_row_chunks(fn, m: int) -> list:
    """``[fn(rows) for rows in row_chunks(m)]`` on a few threads (:func:`run_indexed`).

    For products with tall matrices (r ≪ m): single-threaded BLAS on each chunk,
    the chunks shared among up to :func:`available_cpus` threads. The chunks do not
    depend on the number of threads and results come back in chunk order, so a
    reduction over them rounds the same way on any machine.

    Parameters
    ----------
    fn : callable
        ``fn(rows)`` with ``rows`` a slice of row indices.
    m : int
        Number of rows.

    Returns
    -------
    list
        The results of ``fn``, in chunk order.
    """
    chunks = row_chunks(m)
    return run_indexed(lambda i, worker: fn(chunks[i]), len(chunks))


def _sum_parts(parts: list, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        out = parts[0].copy()
    else:
        np.copyto(out, parts[0])
    for p in parts[1:]:
        out += p
    return out


def matmul_rows(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``A @ B`` for a tall m×k ``A`` and a k×q ``B``, over row chunks of ``A`` (:func:`map_row_chunks`).

    ``out`` (m×q) must have rows of unit stride (C order), so that each chunk is one BLAS call.
    It may be ``A`` itself when ``B`` is square (in place: each chunk's product goes through a
    temporary of the chunk's size).
    """
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), np.result_type(A, B))
    if np.may_share_memory(out, A):
        if out is not A or B.shape[0] != B.shape[1]:
            raise ValueError("matmul_rows: out may only be A itself, and then B must be square")

        def part(rows):
            out[rows] = A[rows] @ B
    else:
        def part(rows):
            np.matmul(A[rows], B, out=out[rows])
    map_row_chunks(part, A.shape[0])
    return out


def matmul_rows_t(M: np.ndarray, A: np.ndarray, out_t: np.ndarray | None = None) -> np.ndarray:
    """``M @ Aᵀ`` (q×m) for a q×k ``M`` and a tall m×k ``A``, over row chunks of ``A``.

    ``out_t`` is C-ordered q×m; ``out_t.T`` is then ``A Mᵀ`` in Fortran order, the layout
    in which OpenBLAS forms this product fastest when q ≪ k.
    """
    if out_t is None:
        out_t = np.empty((M.shape[0], A.shape[0]), np.result_type(M, A))
    map_row_chunks(lambda rows: np.matmul(M, A[rows].T, out=out_t[:, rows]), A.shape[0])
    return out_t


def inner_rows(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``Aᵀ B`` (p×q) for tall m×p ``A`` and m×q ``B``: one product per row chunk, summed in
    chunk order in the operands' dtype (see :func:`gram64` for float64 sums)."""
    parts = map_row_chunks(lambda rows: A[rows].T @ B[rows], A.shape[0])
    return _sum_parts(parts, out)


def gram64(A: np.ndarray, B: np.ndarray | None = None, *, widen: bool = True) -> np.ndarray:
    """``AᵀB`` (``AᵀA`` when ``B`` is None) of tall m×r matrices, in float64.

    Summed over row chunks in a fixed order (:func:`map_row_chunks`); a float32
    chunk is widened to float64 while in cache, so no m×r float64 copy is made.

    Parameters
    ----------
    A : ndarray, shape (m, r)
    B : ndarray, shape (m, q), optional
    widen : bool
        ``False``: multiply float32 chunks in float32 (no widened copy, float32 BLAS at
        twice the speed) and sum only the chunk products in float64.

    Returns
    -------
    ndarray, shape (r, r) or (r, q), float64
    """
    dtype = np.float64 if widen else None

    def part(rows):
        a = A[rows].astype(dtype, copy=False) if widen else A[rows]
        b = a if B is None else (B[rows].astype(dtype, copy=False) if widen else B[rows])
        return (a.T @ b).astype(np.float64, copy=False)

    return _sum_parts(map_row_chunks(part, A.shape[0]), None)
