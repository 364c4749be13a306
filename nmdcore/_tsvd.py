"""Truncated SVDs: through the Gram matrix (as the reference codes do) and by randomized subspace iteration."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ._linalg import crossprod, matmul_rows
from ._orth import cholqr2, cholqr2_deferred, orth_small
from ._parallel import run_indexed, serial_blas, sum_in_order


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

    return sum_in_order(run_indexed(part, len(groups)))


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
    (:func:`matmul_rows`, :func:`crossprod`; :func:`run_indexed` says why). The
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
        P = At_basis if At_basis is not None else crossprod(basis.astype(A.dtype, copy=False), A).T
        if not np.isfinite(P).all():
            raise FloatingPointError("the matrix to truncate has non-finite entries")
        Y = matmul_rows(A, orth_small(P))
        n_power_iter -= 1
    if not np.isfinite(Y).all():
        raise FloatingPointError("the matrix to truncate has non-finite entries")
    # float32 Gram products in float32 (see cholesky_qr's ``widen``); a no-op for float64
    for _ in range(max(n_power_iter, 0)):
        Y = matmul_rows(A, orth_small(crossprod(cholqr2(Y, widen=False), A).T))
    # S = Q T is the orthonormal basis; it is never formed, only its rotation S U below
    Q, T = cholqr2_deferred(Y, widen=False)
    QtA = crossprod(Q, A)  # Qᵀ A (l×n) rather than Aᵀ Q: the faster layout of the chunk products
    if not np.isfinite(QtA).all():  # e.g. the Gram matrix of a huge (finite) block overflowed
        raise FloatingPointError("the matrix to truncate is too large to orthonormalise its range")
    with serial_blas():
        # Rayleigh–Ritz in float64: Sᵀ A = U Σ Vᵀ from the eigenvectors of (Sᵀ A)(Sᵀ A)ᵀ = U Σ² Uᵀ
        # (l×l; an SVD of the n×l Aᵀ S costs 4× as much), and Σ_r V_rᵀ = U_rᵀ Sᵀ A
        B_t = QtA.T.astype(np.float64) @ T  # (Sᵀ A)ᵀ, n×l
        U = np.linalg.eigh(B_t.T @ B_t)[1][:, ::-1]
        H = np.ascontiguousarray((B_t @ U[:, :rank]).T, dtype=A.dtype)
        rotation = np.ascontiguousarray(T @ U, dtype=A.dtype)
    rotated = matmul_rows(Q, rotation)  # S U: same span as S, ordered by σ
    W = np.ascontiguousarray(rotated[:, :rank])
    # Wᵀ A = U_rᵀ Sᵀ A is H itself (as in tsvd_gram for m <= n)
    return (W, H, rotated, H) if projection else (W, H, rotated)
