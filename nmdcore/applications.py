r"""Ground truth for the applications of ReLU-NMD: distances, embeddings and their errors.

Three tasks make the idea of ReLU-NMD concrete (Gillis, Porcelli & Seraghiti (2025), "An
extrapolated and provably convergent algorithm for nonlinear matrix decomposition with the ReLU
function", §5):

* **Matrix completion from the positive entries** (Saul (2022), "A nonlinear matrix
  decomposition for mining the zeros of sparse data"): only the positive entries of a low-rank
  matrix Θ* are seen, X = max(0, Θ*); a rank-r ReLU-NMD recovers Θ* itself.
* **Euclidean distance matrix completion**: points in R^dim, only the squared distances below a
  threshold d are seen, X = max(0, d·11ᵀ − D) with rank D ≤ dim + 2. The offset model
  ``decompose(X, dim + 2, offset=d)`` recovers Θ = −D; :func:`classical_mds` and
  :func:`procrustes` then recover the points.
* **Threshold similarity matching** (Saul (2022), "A geometrical connection between sparse and
  low-rank matrices and its application to manifold learning"): the sparse similarity
  S = max(0, ⟨y_i, y_j⟩ − τ‖y_i‖‖y_j‖) of items y_i has a rank-r ReLU-NMD; :func:`tsm_embedding`
  turns its Θ into r-dimensional points whose angles match those of the close pairs.

Points and items are the **columns** of their arrays, as everywhere in nmdcore. Nothing here
imports Streamlit.
"""
from __future__ import annotations

import numpy as np

from ._errors import HyperparameterError, NonFiniteError, RankError, ShapeError

__all__ = ["point_cloud", "squared_distances", "observe_small_distances", "classical_mds", "procrustes",
           "threshold_similarity", "tsm_embedding", "mean_angular_deviation", "relative_error"]


def _matrix(A, what: str, *, square: bool = False) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.size == 0:
        raise ShapeError(f"{what} must be a nonempty 2-D array, got shape {A.shape}")
    if square and A.shape[0] != A.shape[1]:
        raise ShapeError(f"{what} must be square, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise NonFiniteError(f"{what} has NaN or infinite entries")
    return A


def _fraction(value, name: str, *, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise HyperparameterError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (0.0 < value < 1.0 if low_open else 0.0 <= value < 1.0):
        interval = "(0, 1)" if low_open else "[0, 1)"
        raise HyperparameterError(f"{name} must be in {interval}, got {value!r}")
    return value


def relative_error(estimate, truth) -> float:
    """‖estimate − truth‖_F / ‖truth‖_F, the papers' ground-truth error.

    Parameters
    ----------
    estimate, truth : array_like, same shape

    Returns
    -------
    float
    """
    estimate, truth = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if estimate.shape != truth.shape:
        raise ShapeError(f"estimate has shape {estimate.shape}, truth {truth.shape}")
    norm = float(np.linalg.norm(truth))
    if norm == 0:
        raise ShapeError("the true matrix is zero: a relative error is undefined")
    return float(np.linalg.norm(estimate - truth)) / norm


#: Shapes :func:`point_cloud` draws.
POINT_CLOUDS = ("cube", "spiral", "clusters")


def point_cloud(kind: str, n: int, dim: int = 3, random_state=None) -> np.ndarray:
    """n points in R^dim (dim 2 or 3), one per column, for distance completion.

    Parameters
    ----------
    kind : {"cube", "spiral", "clusters"}
        ``"cube"``: uniform in [0, 10]^dim (the authors' setting); ``"spiral"``: a noisy spiral
        (a helix in 3-D) spanning about 10 units; ``"clusters"``: four Gaussian clusters of
        width 0.7 around corners of the cube.
    n : int
        Number of points, at least dim + 2.
    dim : {2, 3}
    random_state : int, Generator or None

    Returns
    -------
    P : ndarray, shape (dim, n)
    """
    if kind not in POINT_CLOUDS:
        raise HyperparameterError(f"kind must be one of {', '.join(POINT_CLOUDS)}, got {kind!r}")
    if dim not in (2, 3) or isinstance(dim, bool):
        raise HyperparameterError(f"dim must be 2 or 3, got {dim!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < dim + 2:
        raise HyperparameterError(f"n must be an integer of at least {dim + 2}, got {n!r}")
    rng = np.random.default_rng(random_state)
    if kind == "cube":
        return 10 * rng.random((dim, n))
    if kind == "spiral":
        t = np.sort(rng.random(n)) * 3 * np.pi
        radius = 1.0 + t / np.pi
        P = np.vstack([radius * np.cos(t), radius * np.sin(t), 1.1 * t][:dim]) + 0.1 * rng.standard_normal((dim, n))
        return P + 5.0
    corners = 10 * np.array([[0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=float)[:, :dim].T
    which = rng.integers(0, corners.shape[1], n)
    return 2.0 + 0.6 * corners[:, which] + 0.7 * rng.standard_normal((dim, n))


def squared_distances(P) -> np.ndarray:
    """Matrix of squared Euclidean distances between the columns of ``P``.

    Parameters
    ----------
    P : array_like, shape (dim, n)
        n points in R^dim, one per column.

    Returns
    -------
    D : ndarray, shape (n, n)
        ``D[i, j] = ‖p_i − p_j‖²``: symmetric, zero diagonal, nonnegative, of rank at most dim + 2.

    Examples
    --------
    >>> squared_distances([[0.0, 3.0], [0.0, 4.0]])
    array([[ 0., 25.],
           [25.,  0.]])
    """
    P = _matrix(P, "P")
    D = np.zeros((P.shape[1], P.shape[1]))
    for row in P:                      # coordinate by coordinate: exact, and n×n memory only
        diff = row[:, None] - row[None, :]
        D += diff * diff
    return D


def observe_small_distances(D, fraction: float) -> tuple[np.ndarray, float]:
    """The observed matrix of distance completion: the smallest ``fraction`` of the entries of D.

    The threshold is the authors' rule (Gillis, Porcelli & Seraghiti 2025, §5.2): with the
    entries of D sorted in decreasing order, d is the ``floor(n²(1 − fraction))``-th; then
    X = max(0, d·11ᵀ − D), positive exactly where D < d. Fit it with
    ``decompose(X, dim + 2, offset=d)``, whose Θ approximates −D.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Squared distances (see :func:`squared_distances`).
    fraction : float in (0, 1)
        Share of the entries to observe (the diagonal included).

    Returns
    -------
    X : ndarray, shape (n, n)
    d : float
    """
    D = _matrix(D, "D", square=True)
    fraction = _fraction(fraction, "fraction")
    values = np.sort(D.ravel())[::-1]
    index = max(int(np.floor(D.size * (1.0 - fraction))), 1) - 1
    d = float(values[index])
    return np.maximum(0.0, d - D), d


def classical_mds(D, dim: int) -> np.ndarray:
    """Points whose squared distances best match ``D`` (classical multidimensional scaling).

    Double-centres ``B = −½ J D J`` (J = I − 11ᵀ/n) and keeps its ``dim`` largest eigenpairs:
    exact, up to a rigid motion, when D holds the squared distances of points in R^dim.

    Parameters
    ----------
    D : array_like, shape (n, n)
        Squared distances (symmetrised here; need not be exact).
    dim : int
        Dimension of the points, ``1 <= dim < n``.

    Returns
    -------
    P : ndarray, shape (dim, n)
        Centred points, one per column (negative eigenvalues count as zero).
    """
    D = _matrix(D, "D", square=True)
    n = D.shape[0]
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim < n:
        raise RankError(f"dim must be an integer from 1 to {n - 1}, got {dim!r}")
    D = 0.5 * (D + D.T)
    row = D.mean(axis=1)
    B = -0.5 * (D - row[:, None] - row[None, :] + row.mean())
    values, vectors = np.linalg.eigh(B)
    values, vectors = values[::-1][:dim], vectors[:, ::-1][:, :dim]
    return np.sqrt(np.maximum(values, 0.0))[:, None] * vectors.T


def procrustes(P_true, P_est) -> tuple[np.ndarray, float]:
    """Align ``P_est`` to ``P_true`` by a translation and an orthogonal map (rotation or reflection).

    Distances fix points only up to such a rigid motion, so recovered points are compared
    after it. No scaling: a wrong scale is an error of the estimate.

    Parameters
    ----------
    P_true, P_est : array_like, shape (dim, n)
        The same n points, one per column.

    Returns
    -------
    aligned : ndarray, shape (dim, n)
        ``Q (P_est − c_est) + c_true`` with the orthogonal Q that minimises the distance.
    residual : float
        ‖P_true − aligned‖_F / ‖P_true − c_true‖_F (0 for an exact recovery).
    """
    P_true, P_est = _matrix(P_true, "P_true"), _matrix(P_est, "P_est")
    if P_true.shape != P_est.shape:
        raise ShapeError(f"P_true has shape {P_true.shape}, P_est {P_est.shape}")
    c_true = P_true.mean(axis=1, keepdims=True)
    A, B = P_true - c_true, P_est - P_est.mean(axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(A @ B.T)
    aligned = (U @ Vt) @ B + c_true
    spread = float(np.linalg.norm(A))
    if spread == 0:
        raise ShapeError("P_true has all its points at one place: nothing to align")
    return aligned, float(np.linalg.norm(P_true - aligned)) / spread


def _check_tau(tau) -> float:
    return _fraction(tau, "tau", low_open=False)


def threshold_similarity(Y, tau: float) -> np.ndarray:
    """Sparse similarity of threshold similarity matching: ``max(0, ⟨y_i, y_j⟩ − τ‖y_i‖‖y_j‖)``.

    Positive exactly for the pairs whose cosine exceeds τ (diagonal: ``(1 − τ)‖y_i‖²``).

    Parameters
    ----------
    Y : array_like, shape (d, n)
        n items, one per column.
    tau : float in [0, 1)

    Returns
    -------
    S : ndarray, shape (n, n)
        Symmetric and nonnegative.
    """
    Y = _matrix(Y, "Y")
    tau = _check_tau(tau)
    G = Y.T @ Y
    norms = np.sqrt(np.maximum(np.diag(G), 0.0))
    S = np.maximum(0.0, G - tau * np.outer(norms, norms))
    return 0.5 * (S + S.T)


def tsm_embedding(theta, tau: float, rank: int) -> np.ndarray:
    """Points in R^rank from the Θ of a rank-r ReLU-NMD of a threshold similarity.

    With ``u = sqrt(max(0, diag Θ))`` (the norms, scaled by √(1 − τ)) the Gram matrix of the
    points is ``G = Θ + τ/(1 − τ)·u uᵀ``; the points are its ``rank`` leading eigenpairs,
    ``sqrt(λ_k) v_kᵀ`` (Saul 2022, TMLR).

    Parameters
    ----------
    theta : array_like, shape (n, n)
        Θ with max(0, Θ) ≈ S (symmetrised here).
    tau : float in [0, 1)
        The threshold S was built with.
    rank : int
        Dimension of the embedding, ``1 <= rank <= n``.

    Returns
    -------
    T : ndarray, shape (rank, n)
        One point per column.
    """
    theta = _matrix(theta, "theta", square=True)
    tau = _check_tau(tau)
    n = theta.shape[0]
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= n:
        raise RankError(f"rank must be an integer from 1 to {n}, got {rank!r}")
    theta = 0.5 * (theta + theta.T)
    u = np.sqrt(np.maximum(np.diag(theta), 0.0))
    G = theta + tau / (1.0 - tau) * np.outer(u, u)
    values, vectors = np.linalg.eigh(G)
    values, vectors = values[::-1][:rank], vectors[:, ::-1][:, :rank]
    return np.sqrt(np.maximum(values, 0.0))[:, None] * vectors.T


def _cosines(A: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(A, axis=0)
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    unit = A * inverse
    return np.clip(unit.T @ unit, -1.0, 1.0)


def mean_angular_deviation(Y, T, tau: float) -> float:
    """Mean |angle(y_i, y_j) − angle(t_i, t_j)| over the pairs i < j with cos(y_i, y_j) > τ.

    The quality measure of threshold similarity matching: the embedding T should keep the
    angles of the pairs that the similarity sees.

    Parameters
    ----------
    Y : array_like, shape (d, n)
        The items.
    T : array_like, shape (r, n)
        Their embedding (any dimension r).
    tau : float in [0, 1)

    Returns
    -------
    float
        In radians.

    Raises
    ------
    HyperparameterError
        When no pair has cosine above τ.
    """
    Y, T = _matrix(Y, "Y"), _matrix(T, "T")
    tau = _check_tau(tau)
    if Y.shape[1] != T.shape[1]:
        raise ShapeError(f"Y has {Y.shape[1]} columns, T {T.shape[1]}")
    cos_Y, cos_T = _cosines(Y), _cosines(T)
    i, j = np.triu_indices(Y.shape[1], k=1)
    close = cos_Y[i, j] > tau
    if not close.any():
        raise HyperparameterError(f"no pair of items has cosine above tau = {tau:g}")
    i, j = i[close], j[close]
    return float(np.mean(np.abs(np.arccos(cos_Y[i, j]) - np.arccos(cos_T[i, j]))))
