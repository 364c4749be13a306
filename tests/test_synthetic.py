"""Generators of nmdcore.synthetic: determinism, the structure each one promises, bad input."""
import numpy as np
import pytest

from nmdcore import DatasetError, RankError, ShapeError
from nmdcore.synthetic import (
    relu_example_5x5,
    relu_lowrank,
    satellite_like,
    sparse_nonnegative,
    symmetric_relu,
)

GENERATORS = [
    (relu_lowrank, dict(m=30, n=40, r=3, noise=0.05, sparsity=0.8)),
    (symmetric_relu, dict(n=30, r=4, threshold=0.2)),
    (sparse_nonnegative, dict(m=30, n=40, density=0.05)),
    (satellite_like, dict(height=48, width=64)),
]


@pytest.mark.parametrize("gen, kwargs", GENERATORS, ids=lambda g: getattr(g, "__name__", ""))
def test_same_seed_same_matrix_other_seed_other_matrix(gen, kwargs):
    a = gen(**kwargs, random_state=7)
    b = gen(**kwargs, random_state=7)
    c = gen(**kwargs, random_state=8)
    assert a.dtype == np.float64 and np.all(a >= 0) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    d = gen(**kwargs, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a, d)


def test_relu_lowrank_is_relu_of_rank_r():
    X, W, H = relu_lowrank(60, 80, 4, random_state=0, return_factors=True)
    assert W.shape == (60, 4) and H.shape == (4, 80)
    np.testing.assert_allclose(X, np.maximum(W @ H, 0))
    assert np.linalg.matrix_rank(W @ H) == 4
    assert 0.4 < np.mean(X == 0) < 0.6  # the plain Gaussian model: about half zeros


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.75, 0.95])
def test_relu_lowrank_reaches_requested_sparsity_and_keeps_rank(sparsity):
    X, W, H = relu_lowrank(100, 120, 5, sparsity=sparsity, random_state=1, return_factors=True)
    assert abs(np.mean(X == 0) - sparsity) <= 1.0 / X.size
    np.testing.assert_allclose(X, np.maximum(W @ H, 0), atol=1e-12)
    assert np.linalg.matrix_rank(W @ H) == 5


def test_relu_lowrank_noise_level_and_zero_pattern():
    clean = relu_lowrank(80, 90, 3, sparsity=0.6, random_state=2)
    noisy = relu_lowrank(80, 90, 3, sparsity=0.6, noise=0.1, random_state=2)
    assert np.all(noisy[clean == 0] == 0)  # noise only on the positive entries
    rel = np.linalg.norm(noisy - clean) / np.linalg.norm(clean)
    assert 0.05 < rel <= 0.1 + 1e-12  # clipping at zero can only shrink the noise


def test_symmetric_relu_matches_eq_11():
    n, r, threshold = 40, 5, 0.3
    M = symmetric_relu(n, r, threshold, random_state=3)
    U = np.random.default_rng(3).standard_normal((n, r))
    S = U @ U.T
    np.testing.assert_allclose(M, np.maximum(S - threshold * S.max(), 0), atol=1e-12)
    assert np.array_equal(M, M.T)
    assert np.mean(symmetric_relu(n, r, 0.5, random_state=3) == 0) > np.mean(M == 0)


def test_sparse_nonnegative_density_and_no_empty_lines():
    X = sparse_nonnegative(200, 50, 0.002, random_state=4)  # 20 entries asked: rows must be filled
    assert (X > 0).any(axis=1).all() and (X > 0).any(axis=0).all()
    assert np.all((X == 0) | ((X > 0) & (X <= 1)))
    Y = sparse_nonnegative(200, 300, 0.1, random_state=4)
    assert abs(np.mean(Y > 0) - 0.1) < 0.005


def test_satellite_like_is_sparse_image_in_unit_range():
    img = satellite_like(random_state=0)
    assert img.shape == (256, 256)
    assert 0 <= img.min() and img.max() <= 1
    assert 0.6 < np.mean(img == 0) < 0.95
    assert np.all(img[0] == 0) and np.all(img[-1] == 0)  # black border like the real image


def test_relu_example_5x5_is_the_papers_first_example():
    M, X = relu_example_5x5()
    paper_M = [[3, 0, 0, 0, 0], [0, 0, 0, 5, 4], [0, 1, 4, 3, 0], [0, 0, 0, 4, 5], [5, 1, 0, 0, 0]]
    paper_X = [[3, -1, -4, -3, 0], [-5, -1, 0, 5, 4], [-3, 1, 4, 3, 0],
               [-4, -2, -3, 4, 5], [5, 1, 0, -5, -4]]
    np.testing.assert_array_equal(M, paper_M)
    np.testing.assert_array_equal(X, paper_X)
    assert np.linalg.matrix_rank(X) == 2 and np.linalg.matrix_rank(M) == 5


@pytest.mark.parametrize("call, error", [
    (lambda: relu_lowrank(10, 10, 11), RankError),
    (lambda: relu_lowrank(0, 10, 1), ShapeError),
    (lambda: relu_lowrank(10, 10, 2, sparsity=1.0), DatasetError),
    (lambda: relu_lowrank(10, 10, 2, noise=-1), DatasetError),
    (lambda: symmetric_relu(5, 6), RankError),
    (lambda: symmetric_relu(5, 2, threshold=1.5), DatasetError),
    (lambda: sparse_nonnegative(5, 5, 0.0), DatasetError),
    (lambda: satellite_like(8, 8), ShapeError),
    (lambda: relu_lowrank(10, 10, 2, random_state="seed"), DatasetError),
])
def test_bad_arguments_raise_specific_errors(call, error):
    with pytest.raises(error):
        call()
