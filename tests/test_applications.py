"""nmdcore.applications: distances, MDS, Procrustes, threshold similarity, and the three tasks."""
from __future__ import annotations

import numpy as np
import pytest

import nmdcore
from nmdcore import applications as app
from nmdcore import datasets


@pytest.fixture
def cube_points():
    """50 points uniform in [0, 10]³ (the setting of the authors' distance-completion figure)."""
    return 10 * np.random.default_rng(0).random((3, 50))


@pytest.mark.parametrize("kind", app.POINT_CLOUDS)
@pytest.mark.parametrize("dim", [2, 3])
def test_point_clouds_have_the_asked_shape_and_are_seeded(kind, dim):
    P = app.point_cloud(kind, 60, dim, random_state=1)
    assert P.shape == (dim, 60) and np.isfinite(P).all()
    np.testing.assert_array_equal(P, app.point_cloud(kind, 60, dim, random_state=1))
    assert np.linalg.matrix_rank(app.squared_distances(P)) == dim + 2


def test_squared_distances_of_known_points():
    P = np.array([[0.0, 3.0, 0.0], [0.0, 4.0, 1.0]])
    D = app.squared_distances(P)
    np.testing.assert_array_equal(D, [[0, 25, 1], [25, 0, 18], [1, 18, 0]])


def test_squared_distances_have_rank_dim_plus_two(cube_points):
    D = app.squared_distances(cube_points)
    assert np.allclose(D, D.T) and np.all(np.diag(D) == 0) and D.min() >= 0
    assert np.linalg.matrix_rank(D) == 5


def test_observed_fraction_and_threshold(cube_points):
    D = app.squared_distances(cube_points)
    X, d = app.observe_small_distances(D, 0.4)
    assert np.array_equal(X > 0, D < d)
    assert np.mean(X > 0) == pytest.approx(0.4, abs=2 / D.size)
    np.testing.assert_array_equal(X, np.maximum(0, d - D))


def test_mds_and_procrustes_recover_planted_points(cube_points):
    D = app.squared_distances(cube_points)
    P = app.classical_mds(D, 3)
    assert P.shape == (3, 50)
    aligned, residual = app.procrustes(cube_points, P)
    assert residual < 1e-12
    np.testing.assert_allclose(aligned, cube_points, atol=1e-10)
    # a rotated, reflected and shifted copy is aligned back exactly
    Q = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))[0]
    aligned, residual = app.procrustes(cube_points, Q @ cube_points + 5.0)
    assert residual < 1e-12
    # a scaled copy is not (no scaling in the alignment)
    assert app.procrustes(cube_points, 1.1 * cube_points)[1] > 0.05


def test_planted_distance_matrix_recovered_from_70_percent(cube_points):
    """The case: 50 points uniform in [0, 10]³, the smallest 70% of the squared distances
    observed, rank 5, 3B-NMD with the offset from the papers' random start, 1500 iterations."""
    D = app.squared_distances(cube_points)
    X, d = app.observe_small_distances(D, 0.7)
    res = nmdcore.decompose(X, 5, solver="nmd_3b", offset=d, init="random", random_state=0,
                            max_iter=1500, tol=0, tol_stall=0)
    assert app.relative_error(-res.theta, D) < 1e-4      # measured 8e-10
    points = app.classical_mds(-res.theta, 3)
    assert app.procrustes(cube_points, points)[1] < 1e-4


def test_offset_model_beats_the_plain_rank_plus_one_model_at_40_percent(cube_points):
    """Same points, 40% observed: the offset model (rank 5, d known) against the plain model
    X ≈ max(0, Θ) of rank 6 (d·11ᵀ − D has rank ≤ 6), both 2000 iterations of 3B-NMD."""
    D = app.squared_distances(cube_points)
    X, d = app.observe_small_distances(D, 0.4)
    common = dict(solver="nmd_3b", init="random", random_state=0, max_iter=2000, tol=0, tol_stall=0)
    offset = nmdcore.decompose(X, 5, offset=d, **common)
    plain = nmdcore.decompose(X, 6, **common)
    e_offset, e_plain = app.relative_error(-offset.theta, D), app.relative_error(d - plain.theta, D)
    assert e_offset < 0.6 * e_plain                      # measured 0.082 against 0.180


def test_threshold_similarity_is_positive_exactly_on_close_pairs():
    Y = np.random.default_rng(2).random((6, 30))
    S = app.threshold_similarity(Y, 0.8)
    norms = np.linalg.norm(Y, axis=0)
    cos = (Y.T @ Y) / np.outer(norms, norms)
    off = ~np.eye(30, dtype=bool)
    assert np.array_equal((S > 0)[off], (cos > 0.8)[off])
    np.testing.assert_allclose(np.diag(S), 0.2 * norms**2)


def test_tsm_embedding_of_the_exact_theta_keeps_every_angle():
    """Θ = YᵀY − τ‖y_i‖‖y_j‖ (no ReLU) of items in R^3: the embedding is Y up to rotation."""
    Y = np.random.default_rng(3).standard_normal((3, 40))
    tau = 0.5
    norms = np.linalg.norm(Y, axis=0)
    theta = Y.T @ Y - tau * np.outer(norms, norms)
    T = app.tsm_embedding(theta, tau, 3)
    assert T.shape == (3, 40)
    assert app.mean_angular_deviation(Y, T, tau) < 1e-10
    np.testing.assert_allclose(T.T @ T, Y.T @ Y, atol=1e-10)


def test_tsm_relu_nmd_beats_tsvd_on_mnist():
    """MNIST sample, 20 images per digit (784 × 200), τ = 0.6, rank 10: the embedding from a
    rank-10 ReLU-NMD (eBCD-NMD, 300 iterations) keeps the angles of the close pairs far better
    than the one from the rank-10 TSVD of S."""
    Y = datasets.load("mnist5k", per_digit=20).X
    tau, r = 0.6, 10
    S = app.threshold_similarity(Y, tau)
    nmd = nmdcore.decompose(S, r, solver="ebcd", max_iter=300, random_state=0)
    tsvd = nmdcore.decompose(S, r, solver="tsvd")
    dev_nmd = app.mean_angular_deviation(Y, app.tsm_embedding(nmd.theta, tau, r), tau)
    dev_tsvd = app.mean_angular_deviation(Y, app.tsm_embedding(tsvd.theta, tau, r), tau)
    assert dev_nmd < 0.5 * dev_tsvd, (dev_nmd, dev_tsvd)  # measured 0.052 against 0.348 rad


def test_completion_from_the_positive_entries():
    """X = max(0, Θ*) with Θ* of rank 5 (60 × 50): ReLU-NMD recovers Θ* itself, TSVD does not."""
    rng = np.random.default_rng(4)
    truth = rng.standard_normal((60, 5)) @ rng.standard_normal((5, 50))
    X = np.maximum(0, truth)
    res = nmdcore.decompose(X, 5, solver="a_nmd", max_iter=3000, tol=1e-12, random_state=0)
    assert app.relative_error(res.theta, truth) < 1e-4              # measured 3e-9
    assert app.relative_error(nmdcore.decompose(X, 5, solver="tsvd").theta, truth) > 0.3  # 0.74


@pytest.mark.parametrize("call, match", [
    (lambda: app.point_cloud("torus", 10), "kind must be"),
    (lambda: app.point_cloud("cube", 10, dim=4), "dim must be"),
    (lambda: app.point_cloud("cube", 3, dim=3), "n must be"),
    (lambda: app.squared_distances(np.ones(3)), "2-D"),
    (lambda: app.squared_distances([[0.0, np.nan]]), "NaN"),
    (lambda: app.observe_small_distances(np.ones((3, 4)), 0.5), "square"),
    (lambda: app.observe_small_distances(np.ones((3, 3)), 1.5), r"fraction must be in \(0, 1\)"),
    (lambda: app.classical_mds(np.zeros((4, 4)), 4), "dim must be"),
    (lambda: app.procrustes(np.ones((2, 3)), np.ones((3, 3))), "shape"),
    (lambda: app.procrustes(np.ones((2, 3)), np.ones((2, 3))), "one place"),
    (lambda: app.threshold_similarity(np.ones((2, 3)), 1.0), r"tau must be in \[0, 1\)"),
    (lambda: app.tsm_embedding(np.eye(3), 0.5, 0), "rank must be"),
    (lambda: app.mean_angular_deviation(np.eye(3), np.eye(3), 0.5), "no pair"),
    (lambda: app.relative_error(np.ones(2), np.zeros(2)), "zero"),
])
def test_bad_input_gets_a_one_line_nmd_error(call, match):
    with pytest.raises(nmdcore.NMDError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
