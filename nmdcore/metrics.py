"""Measures of a decomposition's quality beyond the ReLU error."""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls

from ._errors import NonFiniteError, ShapeError

#: Columns of M that :func:`compressed_nmf_error` uses by default: all of them up to this many,
#: else this many evenly spaced.
COMPRESSED_NMF_MAX_COLUMNS = 500


def compressed_nmf_error(M, U_approx, *, max_columns: int | None = COMPRESSED_NMF_MAX_COLUMNS) -> float:
    """The NMF error after the basis is replaced by an approximation.

    ``min_{V ≥ 0} ‖M − Û V‖_F / ‖M‖_F`` with ``Û = max(0, U_approx)``: eq. (10) of
    Wang, Cui & Han (2024), "A momentum accelerated algorithm for ReLU-based nonlinear
    matrix decomposition", which measures how well a compressed NMF basis still explains
    the data. Every column of V is an exact nonnegative least-squares solution, computed
    on the k×k Cholesky factor of ``ÛᵀÛ`` (k = columns of Û) instead of the m-row system.

    Parameters
    ----------
    M : array-like, shape (m, n)
        The data the NMF ``M ≈ U V`` was computed from.
    U_approx : array-like, shape (m, k)
        The approximated basis (e.g. the Θ of a ReLU-NMD of U); its negative part is clipped.
    max_columns : int or None
        Use at most this many evenly spaced columns of M (None: all of them).

    Returns
    -------
    float
        Between 0 and 1 (V = 0 is feasible); 1 when Û is all zero.

    Raises
    ------
    ShapeError
        When M and U_approx are not 2-D with the same number of rows, or M is zero.
    NonFiniteError
        When either holds NaN or infinite values.
    """
    M = np.asarray(M, dtype=np.float64)
    U_hat = np.maximum(np.asarray(U_approx, dtype=np.float64), 0)
    if M.ndim != 2 or U_hat.ndim != 2 or M.shape[0] != U_hat.shape[0]:
        raise ShapeError(f"M (shape {M.shape}) and the basis (shape {U_hat.shape}) need the same number of rows")
    if not (np.isfinite(M).all() and np.isfinite(U_hat).all()):
        raise NonFiniteError("M and the basis must be finite")
    if max_columns is not None and M.shape[1] > max_columns:
        M = M[:, np.linspace(0, M.shape[1] - 1, max_columns).astype(int)]
    norm_M2 = float(np.einsum("ij,ij->", M, M))
    if norm_M2 == 0:
        raise ShapeError("M is all zero: there is no NMF error to measure")
    keep = np.flatnonzero(np.linalg.norm(U_hat, axis=0) > 0)
    if keep.size == 0:
        return 1.0
    A = U_hat[:, keep]
    G = A.T @ A
    G[np.diag_indices_from(G)] += 1e-12 * np.trace(G)
    R = sla.cholesky(G)                                   # G = Rᵀ R
    AtM = A.T @ M
    B = sla.solve_triangular(R, AtM, trans="T")           # R⁻ᵀ Aᵀ M
    V = np.column_stack([nnls(R, B[:, j])[0] for j in range(B.shape[1])])
    # ‖M − A V‖² = ‖M‖² − 2⟨AᵀM, V⟩ + ⟨G V, V⟩
    sq = norm_M2 - 2.0 * float(np.einsum("ij,ij->", AtM, V)) + float(np.einsum("ij,ij->", G @ V, V))
    return float(np.sqrt(max(sq, 0.0) / norm_M2))
