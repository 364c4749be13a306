"""Dense linear-algebra kernels shared by the solvers."""
from __future__ import annotations

import numpy as np


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

    Follows the reference codes' ``utils/tsvd`` (ALGORITHMS.md §4): the ``rank``
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
