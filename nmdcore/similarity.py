"""Sparse kNN similarity graphs of a set of items (images, documents) for the symmetric solvers.

The graph as built for SymNMF clustering (Kuang, Yun & Park (2015),
§7.1) with the self-tuning scale of Zelnik-Manor & Perona (2004):

* every item is joined to its k nearest other items (Euclidean distance), k = ⌊log₂ n⌋ + 1,
  and an edge is kept when either end chose it;
* edge weight ``A_ij = exp(−‖x_i − x_j‖² / (σ_i σ_j))`` with σ_i the distance from item i
  to its 7th nearest other item; ``A_ii = 0``;
* normalised ``D^{−1/2} A D^{−1/2}`` (D the degrees) and symmetrised, ``(A + Aᵀ)/2``.

The result is a symmetric, nonnegative, sparse n×n matrix whose largest eigenvalue is 1.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.sparse as sp

from ._errors import HyperparameterError, NonFiniteError, ShapeError

#: Entries of one block of the distance matrix (block rows × n); bounds the working memory.
BLOCK_ENTRIES = 4_000_000


def default_neighbors(n_items: int) -> int:
    """k = ⌊log₂ n⌋ + 1 neighbours per item (Kuang et al.), at most n − 1."""
    return min(int(math.floor(math.log2(n_items))) + 1, n_items - 1)


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise HyperparameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _as_items(data, items: str):
    """The data as an (n_items, n_features) float64 matrix (dense, or CSR when sparse)."""
    if items not in ("rows", "columns"):
        raise HyperparameterError(f"items must be 'rows' or 'columns', got {items!r}")
    if sp.issparse(data):
        if data.ndim != 2:
            raise ShapeError(f"data must be 2-D, got {data.ndim}-D")
        X = sp.csr_matrix(data.T if items == "columns" else data, dtype=np.float64)
        if not np.isfinite(X.data).all():
            raise NonFiniteError("data has NaN or infinite entries")
    else:
        X = np.asarray(data)
        if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ShapeError(f"data must be numeric, got dtype {X.dtype}")
        if np.iscomplexobj(X):
            raise ShapeError("data must be real, got complex entries")
        if X.ndim != 2:
            raise ShapeError(f"data must be 2-D (one item per {items[:-1]}), got shape {X.shape}; "
                             "flatten images first")
        X = np.ascontiguousarray(X.T if items == "columns" else X, dtype=np.float64)
        if not np.isfinite(X).all():
            raise NonFiniteError("data has NaN or infinite entries")
    n, d = X.shape
    if d == 0:
        raise ShapeError("data has no features")
    if n < 3:
        raise ShapeError(f"a similarity graph needs at least 3 items, got {n}")
    return X


def knn_similarity(data, *, items: str = "rows", n_neighbors: int | None = None,
                   scale_neighbor: int = 7) -> sp.csr_matrix:
    """Normalised self-tuning kNN similarity graph of a set of items.

    Parameters
    ----------
    data : array-like or scipy.sparse matrix, 2-D
        The items' feature vectors, e.g. flattened images.
    items : {"rows", "columns"}
        Whether each item is a row of ``data`` (the layout of the shipped image sets,
        ``(n_images, pixels)``) or a column (the papers' pixels × images layout).
    n_neighbors : int, optional
        Neighbours per item, k; default ⌊log₂ n⌋ + 1. Capped at n − 1.
    scale_neighbor : int
        σ_i is the distance to this nearest neighbour (7 in the self-tuning method);
        capped at n − 1.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n), float64
        Symmetric (bitwise), nonnegative, zero diagonal; every item is linked to at
        least its k nearest neighbours.

    Raises
    ------
    ShapeError, NonFiniteError, HyperparameterError
        Data not a 2-D numeric matrix of at least 3 items, NaN/inf entries, or bad settings.

    Notes
    -----
    Distances are computed block by block (at most ``BLOCK_ENTRIES`` of them at once):
    O(n²·d) time, O(n·(d + k)) memory beyond one block.
    """
    X = _as_items(data, items)
    n = X.shape[0]
    k = default_neighbors(n) if n_neighbors is None else min(_check_count("n_neighbors", n_neighbors), n - 1)
    nn = min(_check_count("scale_neighbor", scale_neighbor), n - 1)
    keep = max(k, nn)
    if sp.issparse(X):
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    else:
        sq = np.einsum("ij,ij->i", X, X)
    block = max(1, BLOCK_ENTRIES // n)
    nbr = np.empty((n, k), dtype=np.int64)
    nbr_d2 = np.empty((n, k))
    sigma = np.empty(n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        G = X[start:stop] @ X.T
        G = G.toarray() if sp.issparse(G) else G
        D2 = sq[start:stop, None] + sq[None, :] - 2.0 * G
        np.maximum(D2, 0.0, out=D2)
        rows = np.arange(stop - start)
        D2[rows, rows + start] = np.inf  # an item is not its own neighbour
        part = np.argpartition(D2, keep - 1, axis=1)[:, :keep]
        d2_part = np.take_along_axis(D2, part, axis=1)
        order = np.argsort(d2_part, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        d2_part = np.take_along_axis(d2_part, order, axis=1)
        nbr[start:stop] = part[:, :k]
        nbr_d2[start:stop] = d2_part[:, :k]
        sigma[start:stop] = np.sqrt(d2_part[:, nn - 1])
    # duplicates can make σ_i = 0: floor it so that exp(-0/σσ) = 1 and exp(-d²/σσ) → 0
    positive = sigma[sigma > 0]
    floor = positive.min() * 1e-8 if positive.size else 1.0
    np.maximum(sigma, floor, out=sigma)
    rows = np.repeat(np.arange(n), k)
    cols = nbr.ravel()
    with np.errstate(over="ignore", under="ignore"):
        weights = np.exp(-nbr_d2.ravel() / (sigma[rows] * sigma[cols]))
    directed = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    A = directed.maximum(directed.T).tocsr()
    degree = np.asarray(A.sum(axis=1)).ravel()
    inv_sqrt = np.zeros(n)
    np.divide(1.0, np.sqrt(degree), out=inv_sqrt, where=degree > 0)
    scale = sp.diags(inv_sqrt)
    An = (scale @ A @ scale).tocsr()
    An = ((An + An.T) * 0.5).tocsr()
    An.eliminate_zeros()
    An.sort_indices()
    return An
