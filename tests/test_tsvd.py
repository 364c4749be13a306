"""nmdcore._tsvd: the truncated SVDs (through the Gram matrix, and randomized) and the TSVD baseline."""
import numpy as np
import pytest

import nmdcore
from nmdcore._tsvd import randomized_tsvd, tsvd_exact, tsvd_gram


def test_tsvd_gram_matches_full_eigendecomposition():
    rng = np.random.default_rng(5)
    for shape in ((30, 45), (45, 30)):
        Z = rng.standard_normal(shape)
        W, H = tsvd_gram(Z, 6)
        W_ref, H_ref = tsvd_exact(Z, 6)
        assert np.allclose(W.T @ W, np.eye(6), atol=1e-12)
        assert np.allclose(W @ H, W_ref @ H_ref, atol=1e-12)


def _gapped_matrix(rng, m=120, n=90, rank=5):
    U = np.linalg.qr(rng.standard_normal((m, n)))[0]
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s = np.concatenate([np.linspace(10.0, 6.0, rank), 0.5 * 0.9 ** np.arange(n - rank)])
    return (U * s) @ V.T


def test_randomized_tsvd_converges_to_the_exact_truncation():
    rng = np.random.default_rng(0)
    A = _gapped_matrix(rng)
    W_exact, H_exact = tsvd_exact(A, 5)
    exact = W_exact @ H_exact
    W, H, basis = randomized_tsvd(A, 5, n_oversamples=5, n_power_iter=8, random_state=1)
    assert np.allclose(W.T @ W, np.eye(5), atol=1e-12)
    assert np.linalg.norm(W @ H - exact) <= 1e-10 * np.linalg.norm(exact)
    # warm starts: one power step per call from a poor (cold, unrefined) subspace converges too
    W, H, basis = randomized_tsvd(A, 5, n_oversamples=5, n_power_iter=0, random_state=2)
    gaps = []
    for _ in range(12):
        W, H, basis = randomized_tsvd(A, 5, basis=basis, n_oversamples=5, n_power_iter=1)
        gaps.append(np.linalg.norm(W @ H - exact) / np.linalg.norm(exact))
    assert gaps[-1] <= 1e-10 and gaps[-1] < gaps[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_randomized_tsvd_basis_is_orthonormal_and_projection_is_WtA(dtype):
    A = _gapped_matrix(np.random.default_rng(4)).astype(dtype)
    W, H, basis, WtA = randomized_tsvd(A, 5, n_oversamples=5, n_power_iter=4, random_state=1, projection=True)
    eps = np.finfo(dtype).eps
    B = basis.astype(np.float64)
    assert basis.shape == (120, 10) and np.abs(B.T @ B - np.eye(10)).max() < 50 * eps
    assert np.array_equal(W, basis[:, :5])
    exact = W.astype(np.float64).T @ A.astype(np.float64)
    assert WtA.dtype == dtype and np.linalg.norm(WtA - exact) <= 50 * eps * np.linalg.norm(exact)
    # H = Σ_r V_rᵀ: its rows are orthogonal, with norms the leading singular values, descending
    s = np.linalg.svd(A.astype(np.float64), compute_uv=False)[:5]
    HHt = H.astype(np.float64) @ H.astype(np.float64).T
    assert np.allclose(np.sqrt(np.diag(HHt)), s, rtol=50 * eps)
    assert np.abs(HHt - np.diag(np.diag(HHt))).max() <= 50 * eps * s[0] ** 2


def test_randomized_tsvd_is_reproducible():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((60, 40))
    first = randomized_tsvd(A, 3, random_state=42, n_power_iter=1)
    second = randomized_tsvd(A, 3, random_state=np.random.default_rng(42), n_power_iter=1)
    other = randomized_tsvd(A, 3, random_state=43, n_power_iter=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], other[0])


def test_randomized_tsvd_keeps_float32():
    A = np.random.default_rng(2).standard_normal((50, 30)).astype(np.float32)
    W, H, basis = randomized_tsvd(A, 4, random_state=0)
    assert W.dtype == H.dtype == basis.dtype == np.float32


def test_tsvd_baseline_randomized_method():
    A = np.abs(_gapped_matrix(np.random.default_rng(3)))
    exact = nmdcore.decompose(A, 5, "tsvd")
    fast = [nmdcore.decompose(A, 5, "tsvd", method="randomized", random_state=9) for _ in range(2)]
    assert np.array_equal(fast[0].theta, fast[1].theta)
    assert np.linalg.norm(fast[0].theta - exact.theta) <= 1e-6 * np.linalg.norm(exact.theta)
