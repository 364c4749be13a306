"""Dense numerics shared by the solvers: norms, the ReLU error, small solves, tall-skinny products.

The orthogonalisations live in :mod:`nmdcore._orth`, the truncated SVDs in
:mod:`nmdcore._tsvd`, and the threads the products run on in :mod:`nmdcore._parallel`.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import blas

from ._parallel import map_row_chunks, sum_in_order


def sq_norm(A: np.ndarray) -> float:
    """``‖A‖_F²`` accumulated in float64 (no temporary for contiguous arrays).

    float64 through BLAS's dot (threaded); other dtypes through einsum in float64, over the
    fixed row chunks of a C-contiguous 2-D array on every core, added in chunk order.
    """
    a = A.ravel()
    if a.dtype == np.float64:
        return float(np.dot(a, a))
    if A.ndim == 2 and A.flags.c_contiguous:
        parts = map_row_chunks(lambda rows: np.einsum("ij,ij->", A[rows], A[rows], dtype=np.float64), A.shape[0])
        return float(sum(parts))
    return float(np.einsum("i,i->", a, a, dtype=np.float64))


def relu_error(X: np.ndarray, theta: np.ndarray, norm_X: float, work: np.ndarray | None = None) -> float:
    """``‖X − max(0, Θ)‖_F / ‖X‖_F``; ``work`` is an optional m×n buffer to avoid a temporary."""
    work = np.maximum(theta, 0, out=work)
    np.subtract(work, X, out=work)
    return np.sqrt(sq_norm(work)) / norm_X


class SingularGramWarning(UserWarning):
    """A factor's r×r Gram matrix was singular; the minimum-norm least-squares solution was used."""


#: Cholesky of a Gram matrix counts as singular when min(diag L)/max(diag L) falls below this
#: (cond(G) ≳ 1/eps of float64).
_GRAM_DIAG_RATIO = float(np.sqrt(np.finfo(np.float64).eps))


def flush_subnormals(A: np.ndarray) -> np.ndarray:
    """Set the subnormal entries of a small array (|a| below its dtype's smallest normal) to 0, in place.

    Arithmetic on subnormal numbers takes a slow path on many CPUs (microcode assists on Intel),
    in BLAS as in compiled loops. A factor's entries that decay geometrically -- eBCD-NMD's W and
    H on the rows and columns of X that are zero throughout, such as the pixels no image uses --
    reach that range after enough iterations, and then every product with the factor slows down
    (float32 eBCD on 10000 MNIST images at r = 64: its block products 1.9× slower). Setting them
    to 0 changes the factor by less than the smallest normal number of its dtype.
    """
    tiny = np.finfo(A.dtype).tiny
    A[np.abs(A) < tiny] = 0
    return A


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


#: :func:`lowrank_residual_sq` trusts its formula only while what the caller uses (‖Z − WH‖², plus
#: its ``floor``) is at least this fraction of the magnitude of the formula's terms. The formula's
#: error is a rounding error of those terms: about 1e-14 of them in float64, and in float32, where
#: the sums of Wᵀ Z are float32 products, at most 3.4e-8 of them (measured on EM's iterations over
#: MNIST, 5000×784 to 50000×784, r = 8 to 128; 5e-9 on BCD's and 3B-NMD's, 10000×784, r = 16 and 64).
#: So the value used is off by at most ~1e-10 (float64) or ~3e-5 (float32) of itself.
LOWRANK_RESIDUAL_MIN = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-3}


def lowrank_residual_sq(z_sq: float, WtZ: np.ndarray, H: np.ndarray, GW: np.ndarray, GH: np.ndarray,
                        dtype, floor: float = 0.0) -> float | None:
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
    floor : float
        A nonnegative amount the caller adds to the residual before using it (EM-NMD's sum of
        posterior variances, with which it makes σ²): the formula's error is judged against
        the sum.

    Returns
    -------
    float or None
        None when cancellation could make the formula inaccurate (or a term is not finite):
        the caller then computes the residual entry by entry.
    """
    cross = float(np.sum(WtZ.astype(np.float64, copy=False) * H.astype(np.float64, copy=False)))
    wh_sq = float(np.sum(GW * GH))
    value = z_sq - 2.0 * cross + wh_sq
    if value >= 0.0 and value + floor >= LOWRANK_RESIDUAL_MIN[np.dtype(dtype)] * (z_sq + 2.0 * abs(cross) + wh_sq):
        return value
    return None


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


def crossprod(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``Aᵀ B`` (p×q) for tall m×p ``A`` and m×q ``B``: one product per row chunk, summed in
    chunk order in the operands' dtype (see :func:`crossprod64` for float64 sums)."""
    parts = map_row_chunks(lambda rows: A[rows].T @ B[rows], A.shape[0])
    return sum_in_order(parts, out)


def gram64(A: np.ndarray, *, widen: bool = True) -> np.ndarray:
    """``AᵀA`` (r×r) of a tall m×r matrix, in float64 (see :func:`crossprod64`)."""
    return crossprod64(A, None, widen=widen)


def crossprod64(A: np.ndarray, B: np.ndarray | None, *, widen: bool = True) -> np.ndarray:
    """``AᵀB`` (``AᵀA`` when ``B`` is None) of tall m×r and m×q matrices, in float64.

    Summed over row chunks in a fixed order (:func:`map_row_chunks`); a float32
    chunk is widened to float64 while in cache, so no m×r float64 copy is made.

    Parameters
    ----------
    A : ndarray, shape (m, r)
    B : ndarray, shape (m, q), or None
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

    return sum_in_order(map_row_chunks(part, A.shape[0]))
