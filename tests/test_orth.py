"""nmdcore._orth: CholeskyQR (adaptive), CholeskyQR2 and its deferred second factor."""
import numpy as np
import pytest

from nmdcore import _orth
from nmdcore._linalg import gram64
from nmdcore._orth import cholesky_qr, cholqr2, cholqr2_deferred

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gram64_and_cholqr2_with_products_in_the_data_dtype(dtype):
    rng = np.random.default_rng(4)
    A = (rng.standard_normal((5000, 9)) * np.logspace(0, 2, 9)).astype(dtype)
    A64 = A.astype(np.float64)
    G = gram64(A, widen=False)
    assert G.dtype == np.float64
    if dtype == np.float64:
        assert np.array_equal(G, gram64(A))
    exact = A64.T @ A64  # float32 products: error bounded norm-wise, ~eps32 · max|G| (entries can cancel)
    assert np.abs(G - exact).max() <= (1e-6 if dtype == np.float32 else 1e-13) * np.abs(exact).max()
    Q = cholqr2(A, widen=False)
    Q64 = Q.astype(np.float64)
    assert Q.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(Q64.T @ Q64, np.eye(9), atol=tol)
    np.testing.assert_allclose(Q64 @ (Q64.T @ A64), A64, atol=tol * np.abs(A64).max())  # same span


@pytest.mark.parametrize("dtype", DTYPES)
def test_cholqr2_gives_an_orthonormal_basis_and_falls_back_to_householder(dtype):
    rng = np.random.default_rng(1)
    A = (rng.standard_normal((500, 6)) @ np.diag(10.0 ** -np.arange(6))).astype(dtype)  # cond 1e5
    B = A.copy()
    B[:, 5] = B[:, 4]  # rank-deficient: Cholesky fails, Householder QR takes over
    tol = 50 * np.finfo(dtype).eps
    for M in (A, B):
        Q = cholqr2(M)
        assert Q.dtype == dtype and Q.shape == M.shape
        assert np.abs(Q.T.astype(np.float64) @ Q - np.eye(6)).max() < tol
    Q = cholqr2(A).astype(np.float64)
    assert np.linalg.norm(Q @ (Q.T @ A) - A) <= 1e3 * tol * np.linalg.norm(A)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cholesky_qr_takes_one_round_only_on_a_well_conditioned_matrix(dtype, monkeypatch):
    rng = np.random.default_rng(2)
    base = np.linalg.qr(rng.standard_normal((3000, 8)))[0]
    well = (base @ np.diag(np.linspace(1.0, 3.0, 8))).astype(dtype)   # κ₂ = 3
    ill = (base @ np.diag(np.logspace(0, 3, 8))).astype(dtype)        # κ₂ = 1e3: two rounds
    singular = well.copy()
    singular[:, 7] = singular[:, 6]                                   # Householder QR
    grams = []
    real_gram64 = _orth.gram64
    monkeypatch.setattr(_orth, "gram64", lambda *a, **k: grams.append(1) or real_gram64(*a, **k))
    eps = np.finfo(dtype).eps
    for A, rounds in ((well, 1), (ill, 2)):
        grams.clear()
        Q, T = cholesky_qr(A, widen=False)
        assert len(grams) == rounds and Q.dtype == dtype and T.dtype == np.float64
        Q64 = Q.astype(np.float64)
        assert np.abs(Q64.T @ Q64 - np.eye(8)).max() < 50 * eps
        assert np.allclose(np.tril(T, -1), 0)
        # Q = A T: what lets eBCD form W_eᵀ Z as Tᵀ (Aᵀ Z) without the Q products
        assert np.linalg.norm(A.astype(np.float64) @ T - Q64) <= 50 * eps * np.linalg.norm(Q64)
    grams.clear()
    assert len(cholesky_qr(well, adaptive=False)) == 2 and len(grams) == 2
    Q, T = cholesky_qr(singular)
    assert T is None and np.abs(Q.T.astype(np.float64) @ Q - np.eye(8)).max() < 50 * eps
    Q, T = cholesky_qr(np.full((20, 3), np.inf, dtype))
    assert T is None and np.isnan(Q).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cholqr2_deferred_returns_the_second_factor_unapplied(dtype):
    """Q T is orthonormal and spans A (what randomized_tsvd's folded rotation relies on); a
    rank-deficient A falls back to Householder (T = I), a non-finite one gives NaN."""
    rng = np.random.default_rng(3)
    U, V = (np.linalg.qr(rng.standard_normal(shape))[0] for shape in ((2000, 7), (7, 7)))
    A = ((U * np.logspace(0, 2, 7)) @ V.T).astype(dtype)  # κ₂ = 1e2, columns mixed
    singular = A.copy()
    singular[:, 6] = singular[:, 5]
    eps = np.finfo(dtype).eps
    for M, householder in ((A, False), (singular, True)):
        Q, T = cholqr2_deferred(M, widen=False)
        assert Q.dtype == dtype and Q.shape == M.shape and T.dtype == np.float64
        assert np.allclose(np.tril(T, -1), 0) and np.array_equal(T, np.eye(7)) == householder
        S = Q.astype(np.float64) @ T
        assert np.abs(S.T @ S - np.eye(7)).max() < 50 * eps
        if not householder:
            # at this conditioning one round is not enough: Q alone misses the tolerance Q T meets
            assert np.abs(Q.T.astype(np.float64) @ Q - np.eye(7)).max() > 50 * eps
            M64 = M.astype(np.float64)
            assert np.linalg.norm(S @ (S.T @ M64) - M64) <= 1e3 * eps * np.linalg.norm(M64)
    Q, T = cholqr2_deferred(np.full((20, 3), np.inf, dtype))
    assert np.isnan(Q).all() and np.array_equal(T, np.eye(3))
