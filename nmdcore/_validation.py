"""Input checks shared by every entry point: one specific, one-line error each."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _kernels
from ._errors import (
    NegativeEntriesError,
    NonFiniteError,
    NotSymmetricError,
    RankError,
    ShapeError,
    ZeroMatrixError,
)

#: Relative tolerance of the symmetry check: ``max|M - Mᵀ| <= SYMMETRY_RTOL * max|M|``.
SYMMETRY_RTOL = 1e-10


def resolve_dtype(X, dtype=None) -> np.dtype:
    """float32 stays float32, everything else becomes float64 unless ``dtype`` says otherwise."""
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ShapeError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    src = X.dtype if hasattr(X, "dtype") else np.asarray(X).dtype
    return np.dtype(np.float32) if src == np.float32 else np.dtype(np.float64)


def copies_input(X, dtype=None) -> bool:
    """Whether :func:`nmdcore.decompose` makes its own copy of ``X``.

    It does not for a writeable, C-contiguous ndarray of the working dtype: nmdcore only
    reads the data (do not change it while a run is going). Anything else is converted
    into a new array, a read-only one too: the compiled kernels take writeable arrays,
    and a read-only type would compile a second set of them.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix
    dtype : float32, float64 or None
        The working dtype, as in :func:`nmdcore.decompose` (None: float32 stays float32,
        anything else becomes float64).

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np, nmdcore
    >>> X = np.ones((4, 3))
    >>> nmdcore.copies_input(X), nmdcore.copies_input(X, np.float32), nmdcore.copies_input(X.T)
    (False, True, True)
    """
    dtype = resolve_dtype(X, dtype)
    return not (isinstance(X, np.ndarray) and X.dtype == dtype and X.flags.c_contiguous and X.flags.writeable)


def check_matrix(X, *, input_kind: str = "nonnegative", dtype=None, name: str = "X",
                 with_scan: bool = False):
    """Validate a data matrix and return it as a dense, C-contiguous float array.

    A writeable ndarray that already is C-contiguous in the working dtype is returned
    as it is, not copied (:func:`copies_input`); anything else is converted into a new
    array. One pass over the entries checks them.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix
    input_kind : {"nonnegative", "symmetric", "real"}
        ``"symmetric"`` also requires a square, symmetric, nonnegative matrix.
    dtype : float32, float64 or None
        None keeps float32 input as float32 and turns anything else into float64.
    with_scan : bool
        Also return what the pass over the entries found (:class:`nmdcore._kernels.EntryScan`:
        the largest magnitude the scaling needs, the nonzero count, ‖X‖²).

    Returns
    -------
    ndarray, or (ndarray, EntryScan) with ``with_scan``
    """
    if sp.issparse(X):
        dt = resolve_dtype(X, dtype)
        if X.ndim != 2:
            raise ShapeError(f"{name} must be 2-D, got {X.ndim}-D")
        data = X.tocsr().data
        if not np.all(np.isfinite(data)):
            raise NonFiniteError(f"{name} has {int(np.sum(~np.isfinite(data)))} NaN or infinite entries")
        with np.errstate(over="ignore"):  # entries beyond float32 become inf, reported below
            A = np.asarray(X.toarray(), dtype=dt, order="C")
    else:
        try:
            A = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise ShapeError(f"{name} cannot be read as a matrix: {exc}") from None
        if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
            raise ShapeError(f"{name} must be numeric, got dtype {A.dtype}")
        if np.iscomplexobj(A):
            raise ShapeError(f"{name} must be real, got complex entries")
        dt = resolve_dtype(A, dtype)
        if A.ndim != 2:
            raise ShapeError(f"{name} must be 2-D, got {A.ndim}-D with shape {A.shape}")
        if copies_input(A, dt):
            with np.errstate(over="ignore"):
                A = np.array(A, dtype=dt, order="C", copy=True)
    m, n = A.shape
    if m == 0 or n == 0:
        raise ShapeError(f"{name} is empty (shape {m}x{n})")
    scan = _kernels.scan_entries(A)  # one pass
    bad, neg, nonzero, largest = scan.nonfinite, scan.negative, scan.nonzero, scan.largest
    if bad:
        if dt == np.float32 and _finite_before_cast(X):
            raise NonFiniteError(f"{name} has {bad} entries beyond the float32 range "
                                 f"(±{np.finfo(np.float32).max:.3g}); use dtype=float64")
        raise NonFiniteError(f"{name} has {bad} NaN or infinite entries")
    if input_kind in ("nonnegative", "symmetric"):
        if neg:
            raise NegativeEntriesError(
                f"{name} has {neg} negative entries; ReLU-NMD needs a nonnegative matrix "
                "(clip, shift or take absolute values first)")
    if not nonzero:
        raise ZeroMatrixError(f"{name} is all zero: there is nothing to decompose")
    if input_kind == "symmetric":
        if m != n:
            raise NotSymmetricError(f"{name} must be square for a symmetric solver, got {m}x{n}")
        scale = largest
        asym = _max_asymmetry(A)
        if asym > SYMMETRY_RTOL * scale:
            raise NotSymmetricError(
                f"{name} is not symmetric: max|M - Mᵀ| = {asym:.3g} exceeds "
                f"{SYMMETRY_RTOL:g} x max|M|")
    return (A, scan) if with_scan else A


def _finite_before_cast(X) -> bool:
    """True when ``X`` (dense or sparse) had only finite entries before it became float32."""
    data = X.tocsr().data if sp.issparse(X) else np.asarray(X)
    return np.issubdtype(data.dtype, np.number) and bool(np.isfinite(data).all())


def _max_asymmetry(A: np.ndarray, block: int = 512) -> float:
    """``max|A − Aᵀ|`` computed over row blocks, without an n×n temporary."""
    worst = 0.0
    for start in range(0, A.shape[0], block):
        rows = slice(start, start + block)
        worst = max(worst, float(np.max(np.abs(A[rows] - A[:, rows].T))))
    return worst


def check_rank(rank, shape, *, inclusive: bool = False) -> int:
    """Return ``rank`` as int if ``1 <= rank < min(shape)`` (``<=`` when inclusive)."""
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        if isinstance(rank, float) and rank.is_integer():
            rank = int(rank)
        else:
            raise RankError(f"rank must be an integer, got {rank!r}")
    rank = int(rank)
    p = min(shape)
    top = p if inclusive else p - 1
    if p < 2 and not inclusive:
        raise ShapeError(f"a {shape[0]}x{shape[1]} matrix has no rank to find")
    if not 1 <= rank <= top:
        raise RankError(f"rank must be between 1 and {top} for a {shape[0]}x{shape[1]} matrix, got {rank}")
    return rank
