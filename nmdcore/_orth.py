"""Orthonormal bases of tall-skinny blocks: CholeskyQR and CholeskyQR2, with a Householder fallback."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ._linalg import gram64, matmul_rows
from ._parallel import serial_blas


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


def orth_small(P: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of a small n×l matrix (Householder QR, one thread).

    In a power step ``S ← orth(A (Aᵀ S))`` it keeps the m×l block ``A P`` as well
    conditioned as A itself (σ₁/σ_l rather than its square), so that :func:`cholqr2`
    does not need its Householder fallback on the tall block, even in float32.
    """
    with serial_blas():  # SciPy's economic QR: 1.7 ms where NumPy's takes 3.0 (784×74 float32)
        return scipy.linalg.qr(P, mode="economic", check_finite=False)[0]
