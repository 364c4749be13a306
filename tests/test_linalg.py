"""nmdcore._linalg: small solves, in-place updates and the tall-skinny products over row chunks."""
import numpy as np
import pytest

from nmdcore._linalg import (LOWRANK_RESIDUAL_MIN, SingularGramWarning, axpby_inplace, crossprod, crossprod64,
                             flush_subnormals, gram64, lowrank_residual_sq, matmul_rows, matmul_rows_t, spd_inverse)
from nmdcore._parallel import row_chunks

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gram64_crossprod64_and_matmul_rows_match_plain_products(dtype):
    from nmdcore._parallel import _CHUNK_ROWS_MAX
    rng = np.random.default_rng(3)
    m, r = 2 * _CHUNK_ROWS_MAX + 17, 5
    assert len(row_chunks(m)) > 2 and row_chunks(m)[-1].stop - row_chunks(m)[-1].start < row_chunks(m)[0].stop
    A = rng.standard_normal((m, r)).astype(dtype)
    B = np.asfortranarray(rng.standard_normal((m, r + 2)).astype(dtype))
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    G, C = gram64(A), crossprod64(A, B)
    assert G.dtype == C.dtype == np.float64
    np.testing.assert_allclose(G, A64.T @ A64, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(C, A64.T @ B64, rtol=1e-12, atol=1e-9)
    U = np.triu(rng.standard_normal((r, r)))
    expected = A64 @ U.astype(dtype).astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    out = matmul_rows(np.asfortranarray(A), U.astype(dtype))
    assert out.flags.c_contiguous and out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * np.abs(expected).max())
    in_place = A.copy()
    assert matmul_rows(in_place, U.astype(dtype), out=in_place) is in_place
    np.testing.assert_array_equal(in_place, out)
    with pytest.raises(ValueError, match="out may only be A"):
        matmul_rows(in_place, U[:, :3].astype(dtype), out=in_place[:, :3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooled_products_match_plain_products(dtype):
    rng = np.random.default_rng(11)
    m, n, r = 9001, 37, 6
    assert len(row_chunks(m)) > 8
    Z = rng.standard_normal((m, n)).astype(dtype)
    W = np.asfortranarray(rng.standard_normal((m, r)).astype(dtype))
    H = rng.standard_normal((r, n)).astype(dtype)
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for got, want in [(matmul_rows(W, H), W @ H), (matmul_rows_t(H, Z), H @ Z.T), (crossprod(Z, W), Z.T @ W)]:
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    out = np.empty((n, r), dtype)
    assert crossprod(Z, W, out=out) is out


def test_spd_inverse_and_axpby():
    G = np.array([[4.0, 1.0], [1.0, 3.0]])
    assert np.allclose(spd_inverse(G) @ G, np.eye(2), atol=1e-15)
    assert np.isnan(spd_inverse(np.array([[np.inf, 0], [0, 1.0]]))).all()
    with pytest.warns(SingularGramWarning):
        assert np.allclose(spd_inverse(np.ones((2, 2))), np.linalg.pinv(np.ones((2, 2))))
    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    assert np.allclose(axpby_inplace(1.7, x, -0.7, y), 1.7 * x - 0.7, rtol=1e-15) and y[0, 0] == -0.7


def _residual_terms(Z, rank):
    """The r-sized terms of ‖Z − W H‖² for the randomized truncation of Z, and its exact float64 value."""
    from nmdcore._tsvd import randomized_tsvd
    W, H, _, WtZ = randomized_tsvd(Z, rank, random_state=0, projection=True)
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    exact = float(np.sum((Z.astype(np.float64) - W64 @ H64) ** 2))
    z_sq = float(np.sum(Z.astype(np.float64) ** 2))
    cross = float(np.sum(WtZ.astype(np.float64) * H64))
    terms = z_sq + 2 * abs(cross) + float(np.sum((W64.T @ W64) * (H64 @ H64.T)))
    return (z_sq, WtZ, H, gram64(W), H64 @ H64.T), exact, terms


@pytest.mark.parametrize("dtype", DTYPES)
def test_lowrank_residual_formula_is_as_accurate_as_its_guard_assumes(dtype):
    """On a latent matrix of real images (the zeros of MNIST digits filled with negative values, as EM
    does), the formula is off by a rounding error of its terms (the guard's premise): in float32 by
    less than one unit of rounding, in float64 (where the exact value itself is a float64 sum) ~1e-14."""
    from nmdcore import datasets
    X = datasets.load("mnist5k").X.T[:3000].astype(dtype)
    rng = np.random.default_rng(0)
    Z = np.where(X > 0, X, -np.abs(rng.normal(0.2, 0.1, X.shape))).astype(dtype)
    args, exact, terms = _residual_terms(Z, 32)
    got = lowrank_residual_sq(*args, dtype)
    assert got is not None and exact > LOWRANK_RESIDUAL_MIN[np.dtype(dtype)] * terms
    tolerance = np.finfo(np.float32).eps / 2 if dtype == np.float32 else 1e-14
    assert abs(got - exact) <= tolerance * terms


def test_lowrank_residual_guard_judges_the_error_against_what_the_caller_uses():
    rng = np.random.default_rng(5)
    W = np.linalg.qr(rng.standard_normal((400, 3)))[0].astype(np.float32)
    H = rng.standard_normal((3, 50)).astype(np.float32)
    Z = W @ H + np.float32(3e-3) * rng.standard_normal((400, 50)).astype(np.float32)  # a near-exact fit
    args, exact, terms = _residual_terms(Z, 3)
    assert exact < LOWRANK_RESIDUAL_MIN[np.dtype(np.float32)] * terms
    assert lowrank_residual_sq(*args, np.float32) is None          # the residual alone: too much cancellation
    floor = terms  # a caller that adds as much again (EM's posterior variances) can use it
    assert lowrank_residual_sq(*args, np.float32, floor=floor) == pytest.approx(exact, rel=1e-2, abs=1e-6 * floor)
    z_sq, WtZ, H32, GW, GH = args
    assert lowrank_residual_sq(z_sq * (1 - 1e-2), WtZ, H32, GW, GH, np.float32, floor=floor) is None  # negative


@pytest.mark.parametrize("dtype", DTYPES)
def test_flush_subnormals_zeroes_only_subnormal_entries(dtype):
    tiny = np.finfo(dtype).tiny
    A = np.array([[tiny / 4, -tiny / 3, tiny, -tiny], [0.0, 1.0, np.nan, -np.inf]], dtype)
    kept = A[:, 2:].copy()
    assert flush_subnormals(A) is A
    np.testing.assert_array_equal(A[0, :2], 0)
    np.testing.assert_array_equal(A[:, 2:], kept)
    assert A[1, 1] == 1.0
