"""The :class:`Dataset` every loader returns, and the checks a final matrix must pass."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._errors import NegativeEntriesError, NonFiniteError, ShapeError, ZeroMatrixError

#: What an entry or dataset is: a set of images (one per column), one image that is the
#: matrix itself, a sparse (or small) matrix, a synthetic matrix, a symmetric matrix.
KINDS = ("image_set", "image", "sparse_matrix", "synthetic", "symmetric")


@dataclass
class Dataset:
    """A data matrix ready for :func:`nmdcore.decompose`, with what the app displays about it.

    Attributes
    ----------
    X : ndarray, shape (m, n)
        Nonnegative float matrix. For an image set, one image per column (pixels × images),
        each column a row-major flattened image of ``image_shape``.
    name : str
        Catalogue name (``"upload"`` for uploads).
    image_shape : tuple of int or None
        ``(h, w)`` of the images of an image set; None otherwise (for ``kind == "image"``
        ``X`` itself is the image).
    labels : ndarray or None
        One class id per column, when known.
    skipped : list of (str, str)
        ``(item, reason)`` for every uploaded file that was not used; empty for the catalogue.
    title, kind, source, licence : str
        What to show: a human title, one of :data:`KINDS`, where the data comes from, its licence.
    meta : dict
        Extra facts (generator parameters, the hidden low-rank matrix of a synthetic set, ...).
    """

    X: np.ndarray
    name: str
    image_shape: tuple | None = None
    labels: np.ndarray | None = None
    skipped: list = field(default_factory=list)
    title: str = ""
    kind: str = "sparse_matrix"
    source: str = ""
    licence: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return self.X.shape

    @property
    def sparsity(self) -> float:
        """Fraction of exact zeros of ``X``."""
        return 1.0 - np.count_nonzero(self.X) / self.X.size

    def describe(self) -> dict:
        """Facts to display: name, title, kind, shape, sparsity, value range, source, licence.

        Returns
        -------
        dict
            Plain Python values only (str, int, float, tuple, None).
        """
        m, n = self.X.shape
        return {
            "name": self.name,
            "title": self.title or self.name,
            "kind": self.kind,
            "shape": (int(m), int(n)),
            "dtype": str(self.X.dtype),
            "sparsity": float(self.sparsity),
            "min": float(self.X.min()),
            "max": float(self.X.max()),
            "image_shape": None if self.image_shape is None else tuple(int(v) for v in self.image_shape),
            "n_images": int(n) if self.image_shape is not None else None,
            "n_classes": None if self.labels is None else int(np.unique(self.labels).size),
            "source": self.source,
            "licence": self.licence,
            "skipped": len(self.skipped),
        }


REPAIRS = (None, "clip", "shift", "abs")


def finish_matrix(A, *, what: str = "the matrix", repair=None, dtype=np.float64) -> np.ndarray:
    """Check a matrix built from data and return it as a nonnegative float array.

    Parameters
    ----------
    A : ndarray
        Numeric 2-D array (already checked for NaN/inf where positions matter).
    what : str
        How to name the matrix in error messages.
    repair : {None, "clip", "shift", "abs"}
        What to do with negative entries: refuse them (None), set them to zero, subtract
        the minimum from every entry, or take absolute values.
    dtype : float32 or float64

    Raises
    ------
    ShapeError, NonFiniteError, NegativeEntriesError, ZeroMatrixError
    """
    if repair not in REPAIRS:
        raise NegativeEntriesError(f"repair must be one of None, 'clip', 'shift', 'abs'; got {repair!r}")
    A = np.asarray(A)
    if A.ndim != 2:
        raise ShapeError(f"{what} must be 2-D, got shape {A.shape}")
    m, n = A.shape
    if min(m, n) < 2:
        raise ShapeError(f"{what} is {m}x{n}: a matrix with a single row or column has no rank to find")
    A = np.array(A, dtype=dtype, order="C")
    bad = A.size - int(np.count_nonzero(np.isfinite(A)))
    if bad:
        raise NonFiniteError(f"{what} has {bad} NaN or infinite entries")
    negative = int(np.count_nonzero(A < 0))
    if negative:
        if repair is None:
            raise NegativeEntriesError(
                f"{what} has {negative} negative entries; choose a repair: clip at zero, shift or absolute value")
        if repair == "clip":
            np.maximum(A, 0, out=A)
        elif repair == "shift":
            A -= A.min()
        else:
            np.abs(A, out=A)
    top = A.max()
    if top == 0:
        raise ZeroMatrixError(f"{what} is all zero: there is nothing to decompose")
    if top == A.min():
        raise ZeroMatrixError(f"{what} is constant ({top:g} everywhere): there is nothing to decompose")
    return A
