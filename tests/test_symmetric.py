"""Symmetric solvers (NSMD-APB/AAPB, SymANLS, SymHALS) and the kNN similarity graph."""
import json

import numpy as np
import pytest
import scipy.optimize as sopt
import scipy.sparse as sp

import nmdcore
from nmdcore import (
    HyperparameterError,
    InitError,
    NegativeEntriesError,
    NonFiniteError,
    NotSymmetricError,
    ShapeError,
)
from nmdcore.similarity import default_neighbors, knn_similarity
from nmdcore.solvers.symmetric import (
    KERNEL_QUARTIC,
    bregman_distance,
    bregman_step,
    nnls_bpp,
    nsmd_gradient,
    spectral_factor,
)
from nmdcore.synthetic import symmetric_relu

from tests.helpers import reference_trace

SYMMETRIC = ("nsmd_apb", "nsmd_aapb", "sym_anls", "sym_hals")
NSMD = ("nsmd_apb", "nsmd_aapb")
SYMNMF_TRACES = [f"sym40_{s}_rand_it{m}" for s in ("SymANLS", "SymHALS") for m in (50, 300)]


@pytest.fixture(scope="module")
def M():
    return symmetric_relu(30, 3, threshold=0.1, random_state=5)


def _nsmd_objective(U, W, lam):
    return 0.5 * np.sum((W - U @ U.T) ** 2) + 0.5 * lam * np.sum(U ** 2)


# ---------------------------------------------------------------- reference traces (SymNMF)

@pytest.mark.parametrize("name", SYMNMF_TRACES)
def test_symnmf_reproduces_reference_trace(name):
    d = np.load(reference_trace(name))
    key = {"SymANLS": "sym_anls", "SymHALS": "sym_hals"}[str(d["solver"])]
    lam = json.loads(str(d["params_json"]))["lam"]
    res = nmdcore.decompose(d["X"], int(d["r"]), solver=key, init={"U": d["U0"], "V": d["V0"]},
                            max_iter=int(d["n_updates"]), tol=0, tol_stall=0, lam=lam)
    k = int(d["trust_len"])
    assert len(res.history["objective"]) == len(d["err"])
    np.testing.assert_allclose(res.history["objective"][:k], d["err"][:k], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.history["diff_UV"][:k], d["diff_UV"][:k], rtol=1e-8, atol=1e-12)
    if k == len(d["err"]):
        bound = max(1e-10, 100 * float(d["theta_rel_np"]))
        for name_ in ("U", "V"):
            ref = d[name_]
            assert np.linalg.norm(res.factors[name_] - ref) <= bound * np.linalg.norm(ref)
        assert np.allclose(res.theta, d["U"] @ d["V"].T, rtol=0, atol=1e-10 * np.abs(res.theta).max())


@pytest.mark.parametrize("key", ["sym_anls", "sym_hals"])
def test_symnmf_history_identities(M, key):
    res = nmdcore.decompose(M, 3, solver=key, init="random", max_iter=20, random_state=1)
    h = res.history
    assert len(h["objective"]) == len(h["diff_UV"]) == 21
    assert np.all(res.factors["U"] >= 0) and np.all(res.factors["V"] >= 0)
    # U, V ≥ 0 so max(0, UVᵀ) = UVᵀ and the ReLU error is the square root of twice the objective
    np.testing.assert_allclose(h["relu_error"], np.sqrt(2 * h["objective"]), rtol=1e-12)
    assert res.relu_error == pytest.approx(h["relu_error"][-1], rel=1e-10)
    np.testing.assert_allclose(res.theta, res.factors["U"] @ res.factors["V"].T)


def test_symnmf_anls_objective_never_increases(M):
    # each block is minimised exactly, so ½‖M − UVᵀ‖² + (λ/2)‖U − V‖² cannot increase
    lam = 0.66
    res = nmdcore.decompose(M, 3, solver="sym_anls", init="random", max_iter=30, random_state=2, lam=lam)
    total = res.history["objective"] + 0.5 * lam * res.history["diff_UV"] / np.sum(M ** 2)
    assert np.all(np.diff(total) <= 1e-13 * total[:-1])


# ---------------------------------------------------------------- NNLS by block principal pivoting

@pytest.mark.parametrize("seed", range(4))
def test_nnls_bpp_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((25, 6))
    R = rng.standard_normal((25, 40))
    C, B = A.T @ A, A.T @ R
    passive = rng.random((6, 40)) < 0.5 if seed % 2 else None
    X = nnls_bpp(C, B, passive=passive)
    expected = np.column_stack([sopt.nnls(A, R[:, j])[0] for j in range(40)])
    assert np.all(X >= 0)
    np.testing.assert_allclose(X, expected, atol=1e-10)


def test_nnls_bpp_fallback_after_round_limit():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((20, 5))
    R = rng.standard_normal((20, 12))
    X = nnls_bpp(A.T @ A, A.T @ R, max_rounds=0)  # everything finished by scipy's NNLS
    expected = np.column_stack([sopt.nnls(A, R[:, j])[0] for j in range(12)])
    np.testing.assert_allclose(X, expected, atol=1e-10)


# ---------------------------------------------------------------- NSMD: the closed-form step

@pytest.mark.parametrize("lam, L", [(1e-4, 1.0), (0.5, 3.0)])
def test_bregman_step_is_the_model_minimiser(lam, L):
    rng = np.random.default_rng(3)
    n, r = 7, 2
    Mx = symmetric_relu(n, r, threshold=0.1, random_state=4)
    Y = rng.standard_normal((n, r))
    theta = Y @ Y.T
    W = np.where(Mx > 0, Mx, np.minimum(theta, 0))  # the exact W-step P_M(YYᵀ)
    a, b = KERNEL_QUARTIC, 2 * np.linalg.norm(W) + lam
    grad = nsmd_gradient(Y, W, lam)
    grad_h_Y = (a * np.sum(Y ** 2) + b) * Y

    def model(u):
        U = u.reshape(n, r)
        value = np.sum(grad * (U - Y)) + L * bregman_distance(U, Y, a, b)
        gradient = grad + L * ((a * np.sum(U ** 2) + b) * U - grad_h_Y)
        return value, gradient.ravel()

    opt = sopt.minimize(model, Y.ravel(), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000})
    U_num = opt.x.reshape(n, r)
    U_step = bregman_step(Y, W, lam, L, b)
    assert np.linalg.norm(U_step - U_num) <= 1e-7 * np.linalg.norm(U_num)
    # and the step decreases the smooth part (L ≥ 1 makes h − f/L convex)
    assert _nsmd_objective(U_step, W, lam) <= _nsmd_objective(Y, W, lam)


def test_kernel_dominates_the_smooth_part():
    # L-smad with L = 1: f(U) ≤ f(Y) + ⟨∇f(Y), U − Y⟩ + D_h(U, Y) for any U, Y
    rng = np.random.default_rng(7)
    W = symmetric_relu(9, 3, threshold=0.2, random_state=8)
    lam = 1e-3
    b = 2 * np.linalg.norm(W) + lam
    f = lambda U: 0.5 * np.sum((W - U @ U.T) ** 2) + 0.5 * lam * np.sum(U ** 2)  # noqa: E731
    for _ in range(50):
        scale = 10.0 ** rng.uniform(-2, 1)
        U, Y = scale * rng.standard_normal((2, 9, 3))
        upper = f(Y) + np.sum(nsmd_gradient(Y, W, lam) * (U - Y)) + bregman_distance(U, Y, KERNEL_QUARTIC, b)
        assert f(U) <= upper + 1e-10 * abs(upper)


def test_apb_objective_never_increases(M):
    res = nmdcore.decompose(M, 3, solver="nsmd_apb", max_iter=300, tol=0, tol_stall=0)
    phi = res.history["objective"]
    assert len(phi) == 301
    assert np.all(np.diff(phi) <= 1e-13 * phi[:-1])
    assert phi[-1] < 0.8 * phi[0]


def test_nsmd_objective_is_the_model_value(M):
    lam = 1e-3
    res = nmdcore.decompose(M, 3, solver="nsmd_aapb", max_iter=15, lam=lam)
    U = res.factors["U"]
    W = np.where(M > 0, M, np.minimum(U @ U.T, 0))
    assert res.history["objective"][-1] == pytest.approx(_nsmd_objective(U, W, lam) / np.sum(M ** 2), rel=1e-10)
    assert res.history["relu_error"][-1] == pytest.approx(
        np.linalg.norm(M - np.maximum(U @ U.T, 0)) / np.linalg.norm(M), rel=1e-10)
    assert len(res.history["beta"]) == 16 and np.all(res.history["beta"] <= 0.9)


def test_nsmd_matches_the_documented_sym40_run():
    # on sym40 (r = 4) from the eigen start, after 100 iterations
    # the ReLU error is 0.212 (APB) and 0.174 (AAPB)
    d = np.load(reference_trace("sym40_tsvd"))
    for key, expected in (("nsmd_apb", 0.212), ("nsmd_aapb", 0.174)):
        res = nmdcore.decompose(d["X"], 4, solver=key, max_iter=100, tol=0, tol_stall=0)
        assert round(res.relu_error, 3) == expected
        assert res.relu_error < 0.6 * float(d["relu_err"])  # far below the TSVD baseline (0.42)


def test_aapb_recovers_a_planted_symmetric_relu_matrix():
    # M = max(0, U Uᵀ), U ~ N(0,1) 40×3: 46% zeros, full rank, exactly ReLU-rank 3 with Θ ⪰ 0.
    # With λ = 1e-8, NSMD-AAPB reaches a ReLU error of 1.3e-6 in 1000 iterations (2.5e-10 in 3000).
    M = symmetric_relu(40, 3, threshold=0.0, random_state=0)
    assert np.linalg.matrix_rank(M) > 3
    res = nmdcore.decompose(M, 3, solver="nsmd_aapb", max_iter=1000, tol=0, tol_stall=0, lam=1e-8)
    assert res.relu_error < 1e-5
    tsvd = nmdcore.decompose(M, 3, solver="tsvd")
    assert tsvd.relu_error > 0.1


@pytest.mark.parametrize("key", NSMD)
def test_nsmd_output_is_symmetric_psd_rank_r(M, key):
    res = nmdcore.decompose(M, 3, solver=key, max_iter=20, init="random", random_state=0)
    assert np.array_equal(res.theta, res.theta.T)
    assert np.allclose(res.theta, res.factors["U"] @ res.factors["U"].T)
    assert np.linalg.eigvalsh(res.theta).min() > -1e-10 * np.abs(res.theta).max()
    assert np.linalg.matrix_rank(res.theta) <= 3


def test_eigen_start_is_best_psd_approximation(M):
    U0 = spectral_factor(M, 3)
    d, Q = np.linalg.eigh(M)
    best = (Q[:, -3:] * np.maximum(d[-3:], 0)) @ Q[:, -3:].T
    np.testing.assert_allclose(U0 @ U0.T, best, atol=1e-12)
    res = nmdcore.decompose(M, 3, solver="nsmd_apb", max_iter=0)
    assert res.history["relu_error"][0] == pytest.approx(
        np.linalg.norm(M - np.maximum(best, 0)) / np.linalg.norm(M), rel=1e-10)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("key", SYMMETRIC)
def test_symmetric_solvers_refuse_bad_matrices(M, key):
    with pytest.raises(NotSymmetricError, match="square"):
        nmdcore.decompose(M[:, :-1], 2, solver=key)
    asym = M.copy()
    asym[0, 1] += 1.0
    with pytest.raises(NotSymmetricError, match="not symmetric"):
        nmdcore.decompose(asym, 2, solver=key)
    neg = M.copy()
    neg[0, 1] = neg[1, 0] = -1.0
    with pytest.raises(NegativeEntriesError):
        nmdcore.decompose(neg, 2, solver=key)


def test_bad_starts_and_hyperparameters(M):
    with pytest.raises(InitError, match="shape"):
        nmdcore.decompose(M, 3, solver="nsmd_apb", init={"U": np.ones((30, 2))})
    with pytest.raises(InitError, match="nonnegative"):
        nmdcore.decompose(M, 3, solver="sym_hals", init={"U": -np.ones((30, 3))})
    with pytest.raises(InitError, match="unknown start"):
        nmdcore.decompose(M, 3, solver="nsmd_apb", init={"U": np.ones((30, 3)), "V": np.ones((30, 3))})
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(M, 3, solver="nsmd_apb", L=0.5)
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(M, 3, solver="nsmd_aapb", beta_max=1.0)
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(M, 3, solver="sym_hals", lam=0.0)


def test_symnmf_single_start_array_sets_both_factors(M):
    U0 = np.random.default_rng(0).random((30, 3))
    a = nmdcore.decompose(M, 3, solver="sym_hals", init={"U": U0}, max_iter=3)
    b = nmdcore.decompose(M, 3, solver="sym_hals", init={"U": U0, "V": U0}, max_iter=3)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.history["diff_UV"][0] == 0.0


# ---------------------------------------------------------------- kNN similarity graph

@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    centers = 5 * rng.standard_normal((4, 6))
    return np.repeat(centers, 30, axis=0) + rng.standard_normal((120, 6))


def test_similarity_graph_properties(points):
    A = knn_similarity(points)
    n = len(points)
    k = default_neighbors(n)
    assert k == 7 and sp.issparse(A) and A.shape == (n, n)
    assert (A != A.T).nnz == 0
    assert A.data.min() > 0 and np.all(A.diagonal() == 0)
    D2 = np.sum((points[:, None] - points[None]) ** 2, axis=2)
    np.fill_diagonal(D2, np.inf)
    nearest = np.argsort(D2, axis=1)[:, :k]
    dense = A.toarray()
    for i in range(n):
        assert np.all(dense[i, nearest[i]] > 0)  # every item keeps its k nearest neighbours
    # an edge exists only where one end chose the other
    chosen = np.zeros((n, n), dtype=bool)
    np.put_along_axis(chosen, nearest, True, axis=1)
    assert np.array_equal(dense > 0, chosen | chosen.T)
    # D^{-1/2} A D^{-1/2}: largest eigenvalue exactly 1, no eigenvalue beyond ±1
    eig = np.linalg.eigvalsh(dense)
    assert eig[-1] == pytest.approx(1.0, abs=1e-12) and eig[0] >= -1 - 1e-12


def test_similarity_weights_follow_the_self_tuning_formula(points):
    n = len(points)
    k = default_neighbors(n)
    D2 = np.sum((points[:, None] - points[None]) ** 2, axis=2)
    np.fill_diagonal(D2, np.inf)
    sigma = np.sqrt(np.sort(D2, axis=1)[:, 6])
    nearest = np.argsort(D2, axis=1)[:, :k]
    chosen = np.zeros((n, n), dtype=bool)
    np.put_along_axis(chosen, nearest, True, axis=1)
    np.fill_diagonal(D2, 0)
    Aff = np.where(chosen | chosen.T, np.exp(-D2 / np.outer(sigma, sigma)), 0.0)
    s = 1 / np.sqrt(Aff.sum(axis=1))
    np.testing.assert_allclose(knn_similarity(points).toarray(), s[:, None] * Aff * s[None], atol=1e-12)


def test_similarity_items_as_columns_and_sparse_input(points):
    A = knn_similarity(points)
    B = knn_similarity(points.T, items="columns")
    C = knn_similarity(sp.csr_matrix(points), n_neighbors=7)
    for other in (B, C):
        np.testing.assert_allclose(other.toarray(), A.toarray(), atol=1e-12)


def test_similarity_graph_feeds_the_symmetric_solvers(points):
    A = knn_similarity(points)
    tsvd = nmdcore.decompose(A, 4, solver="tsvd").relu_error
    for key in SYMMETRIC:
        res = nmdcore.decompose(A, 4, solver=key, max_iter=30)
        assert np.isfinite(res.theta).all() and res.relu_error < 1
    # from the eigen start (here the TSVD itself) Φ only decreases
    res = nmdcore.decompose(A, 4, solver="nsmd_apb", max_iter=30)
    assert res.relu_error <= tsvd * (1 + 1e-6)


def test_similarity_with_duplicate_items():
    X = np.vstack([np.zeros((10, 3)), np.ones((10, 3))])
    A = knn_similarity(X)
    assert np.isfinite(A.data).all() and (A != A.T).nnz == 0


@pytest.mark.parametrize("bad, kwargs, exc", [
    (np.ones(5), {}, ShapeError),
    (np.ones((2, 4)), {}, ShapeError),
    (np.ones((3, 4, 4)), {}, ShapeError),
    (np.array([[1.0, np.nan], [0, 1], [1, 1]]), {}, NonFiniteError),
    (np.ones((5, 2)), {"items": "cols"}, HyperparameterError),
    (np.ones((5, 2)), {"n_neighbors": 0}, HyperparameterError),
    (np.ones((5, 2)), {"scale_neighbor": 2.5}, HyperparameterError),
])
def test_similarity_refuses_bad_input(bad, kwargs, exc):
    with pytest.raises(exc):
        knn_similarity(bad, **kwargs)


@pytest.mark.parametrize("key, arrays", [("nsmd_apb", 4.5), ("nsmd_aapb", 4.5), ("sym_anls", 3.5), ("sym_hals", 3.5)])
def test_memory_peak_in_n_by_n_arrays(key, arrays):
    # NSMD holds M, the projection bounds, Θ and W; SymNMF only M (its peak is the input check's
    # M − Mᵀ temporaries)
    import tracemalloc
    n = 400
    M = symmetric_relu(n, 5, threshold=0.1, random_state=0)
    U0 = np.abs(np.random.default_rng(0).standard_normal((n, 5)))
    tracemalloc.start()
    try:
        nmdcore.decompose(M, 5, solver=key, init={"U": U0}, max_iter=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= arrays * n * n * 8
