"""Deterministic generators of test matrices for ReLU-NMD.

Every generator takes ``random_state`` (None, an int seed or a
``numpy.random.Generator``) and draws all its randomness from it, so a given
seed always gives the same matrix. All results are float64 and nonnegative.
"""
from __future__ import annotations

import numpy as np

from ._errors import DatasetError, RankError, ShapeError

__all__ = ["relu_lowrank", "symmetric_relu", "sparse_nonnegative", "satellite_like",
           "relu_example_5x5"]


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and (isinstance(random_state, bool)
                                     or not isinstance(random_state, (int, np.integer))):
        raise DatasetError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")
    return np.random.default_rng(random_state)


def _check_size(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ShapeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value, *, low_open: bool = False, high_open: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{name} must be a number, got {value!r}") from None
    low_ok = v > 0 if low_open else v >= 0
    high_ok = v < 1 if high_open else v <= 1
    if not (np.isfinite(v) and low_ok and high_ok):
        raise DatasetError(f"{name} must lie in {'(' if low_open else '['}0, 1{')' if high_open else ']'}, "
                           f"got {value!r}")
    return v


def relu_lowrank(m, n, r, noise=0.0, sparsity=None, random_state=None, return_factors=False):
    """Sparse nonnegative matrix ``X = max(0, W H)`` with ``W``, ``H`` Gaussian (the synthetic data of Gillis, Porcelli & Seraghiti 2025).

    Parameters
    ----------
    m, n, r : int
        Shape of ``X`` and rank of the hidden ``Θ = W H`` (``1 <= r <= min(m, n)``).
    noise : float, default 0
        Relative noise level ``‖E‖_F / ‖max(0, Θ)‖_F`` of Gaussian noise added to the
        positive entries only (the result is clipped at zero, so a few positive
        entries may become zeros).
    sparsity : float in [0, 1) or None
        Fraction of zeros wanted. None keeps the plain model (about half the entries
        are zero). Otherwise the first column of ``W`` is the constant 1, and the
        matching row of ``H`` is shifted by the ``sparsity``-quantile of ``W H``, so
        ``Θ`` keeps rank ``r`` and ``max(0, Θ)`` has that fraction of zeros.
    random_state : None, int or numpy.random.Generator
    return_factors : bool, default False
        Also return ``W`` (m×r) and ``H`` (r×n) with ``Θ = W @ H`` exactly.

    Returns
    -------
    X : ndarray, shape (m, n)
        Or ``(X, W, H)`` when ``return_factors`` is True.
    """
    m, n, r = _check_size("m", m), _check_size("n", n), _check_size("r", r)
    if r > min(m, n):
        raise RankError(f"r must be at most min(m, n) = {min(m, n)}, got {r}")
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise DatasetError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = _rng(random_state)
    W = rng.standard_normal((m, r))
    H = rng.standard_normal((r, n))
    if sparsity is not None:
        sparsity = _check_fraction("sparsity", sparsity)
        W[:, 0] = 1.0
        theta = W @ H
        k = int(round(sparsity * m * n))
        if k > 0:
            # the k-th smallest entry: entries <= it (k of them, ties aside) become zeros
            shift = np.partition(theta.ravel(), k - 1)[k - 1]
        else:
            shift = theta.min() - 1.0
        H[0] -= shift
    theta = W @ H
    X = np.maximum(theta, 0.0)
    if noise > 0:
        positive = X > 0
        E = rng.standard_normal(int(positive.sum()))
        scale = noise * np.linalg.norm(X) / max(np.linalg.norm(E), np.finfo(float).tiny)
        X[positive] = np.maximum(X[positive] + scale * E, 0.0)
    if return_factors:
        return X, W, H
    return X


def symmetric_relu(n, r, threshold=0.1, random_state=None):
    """Sparse nonnegative symmetric matrix of Wang (2025), eq. (11).

    ``U ~ N(0, 1)`` of size n×r, ``S = U Uᵀ`` and ``M = max(0, S − threshold·max(S))``.

    Parameters
    ----------
    n, r : int
        Size of ``M`` and rank of ``S`` (``1 <= r <= n``).
    threshold : float in [0, 1)
        Fraction of ``max(S)`` subtracted before the ReLU; larger means sparser.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    M : ndarray, shape (n, n)
        Exactly symmetric (``M == M.T``) and nonnegative.
    """
    n, r = _check_size("n", n), _check_size("r", r)
    if r > n:
        raise RankError(f"r must be at most n = {n}, got {r}")
    threshold = _check_fraction("threshold", threshold)
    rng = _rng(random_state)
    U = rng.standard_normal((n, r))
    S = U @ U.T
    S = 0.5 * (S + S.T)  # exact symmetry whatever the BLAS rounding
    return np.maximum(S - threshold * S.max(), 0.0)


def sparse_nonnegative(m, n, density, random_state=None):
    """Random sparse nonnegative matrix with no empty row or column.

    Positions are drawn uniformly at the requested density, then each empty row and
    column gets one entry at a random place; values are uniform in (0, 1].

    Parameters
    ----------
    m, n : int
    density : float in (0, 1]
        Fraction of nonzero entries (the result may hold slightly more, so that no row
        or column is empty).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (m, n)
    """
    m, n = _check_size("m", m), _check_size("n", n)
    density = _check_fraction("density", density, low_open=True, high_open=False)
    rng = _rng(random_state)
    k = max(1, int(round(density * m * n)))
    mask = np.zeros(m * n, dtype=bool)
    mask[rng.choice(m * n, size=k, replace=False)] = True
    mask = mask.reshape(m, n)
    for i in np.flatnonzero(~mask.any(axis=1)):
        mask[i, rng.integers(n)] = True
    for j in np.flatnonzero(~mask.any(axis=0)):
        mask[rng.integers(m), j] = True
    X = np.zeros((m, n))
    X[mask] = 1.0 - rng.random(int(mask.sum()))  # uniform in (0, 1]
    return X


def _segment_distance(yy, xx, p, q):
    """Distance of each pixel (yy, xx) to the segment p–q."""
    d = np.subtract(q, p, dtype=float)
    length2 = max(float(d @ d), 1e-12)
    t = np.clip(((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / length2, 0.0, 1.0)
    return np.hypot(yy - (p[0] + t * d[0]), xx - (p[1] + t * d[1]))


def satellite_like(height=256, width=256, random_state=None):
    """Grayscale spacecraft on a black background, sparse like the ReLU-NMD "satellite" demo image.

    A shaded cylindrical body, two or three pairs of ribbed solar panels and thin
    antennas are drawn at a random orientation; everything else is exactly zero
    (about 75–90 % zeros).

    Parameters
    ----------
    height, width : int
        Image size, at least 16 each.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    image : ndarray, shape (height, width)
        Values in [0, 1].
    """
    h, w = _check_size("height", height, 16), _check_size("width", width, 16)
    rng = _rng(random_state)
    size = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    cy, cx = h / 2 + rng.uniform(-0.05, 0.05) * h, w / 2 + rng.uniform(-0.05, 0.05) * w
    angle = rng.uniform(0, np.pi)
    image = np.zeros((h, w))

    def local(a):
        """Pixel coordinates in a frame rotated by ``a`` around the centre."""
        c, s = np.cos(a), np.sin(a)
        u = (xx - cx) * c + (yy - cy) * s
        v = -(xx - cx) * s + (yy - cy) * c
        return u, v

    # solar panels: ribbed rectangles on arms
    n_arms = int(rng.integers(2, 4))
    for k in range(n_arms):
        a = angle + k * np.pi / n_arms + rng.uniform(-0.1, 0.1)
        u, v = local(a)
        inner, outer = 0.10 * size, rng.uniform(0.30, 0.42) * size
        half_width = rng.uniform(0.035, 0.06) * size
        panel = (np.abs(u) >= inner) & (np.abs(u) <= outer) & (np.abs(v) <= half_width)
        ribs = 0.55 + 0.25 * (np.floor(np.abs(u) / (0.03 * size)) % 2) + 0.1 * (v / half_width)
        image = np.where(panel, np.maximum(image, ribs), image)
    # body: a shaded cylinder along a random axis, with a bright dish at one end
    u, v = local(angle + np.pi / 2 + rng.uniform(-0.4, 0.4))
    half_len, radius = rng.uniform(0.15, 0.22) * size, rng.uniform(0.05, 0.08) * size
    body = (np.abs(u) <= half_len) & (np.abs(v) <= radius)
    shade = 0.45 + 0.5 * np.sqrt(np.clip(1.0 - (v / radius) ** 2, 0.0, 1.0))
    image = np.where(body, shade, image)
    dish = np.hypot(u + half_len, v) <= 1.4 * radius
    ring = 0.6 + 0.3 * np.cos(np.hypot(u + half_len, v) / radius * 6.0)
    image = np.where(dish, ring, image)
    # antennas: thin bright lines from the centre outwards
    for _ in range(int(rng.integers(3, 7))):
        a = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.25, 0.48) * size
        end = (cy + length * np.sin(a), cx + length * np.cos(a))
        dist = _segment_distance(yy, xx, (cy, cx), end)
        line = np.clip(1.0 - dist / max(0.006 * size, 0.8), 0.0, 1.0) * rng.uniform(0.5, 0.9)
        image = np.maximum(image, line)
    return np.clip(image, 0.0, 1.0)


def relu_example_5x5():
    """The 5×5 example of Wang, Cui & Han (2024), Example 1: ``M = max(0, X)`` with ``rank(X) = 2``.

    Returns
    -------
    M : ndarray, shape (5, 5)
        Sparse nonnegative, of full rank 5.
    X : ndarray, shape (5, 5)
        ``X = A @ B`` with the rank-2 factors printed in the paper.
    """
    A = np.array([[-2.0, -1.0], [2.0, -1.0], [2.0, 1.0], [1.0, -2.0], [-2.0, 1.0]])
    B = np.array([[-2.0, 0.0, 1.0, 2.0, 1.0], [1.0, 1.0, 2.0, -1.0, -2.0]])
    X = A @ B
    return np.maximum(X, 0.0), X
