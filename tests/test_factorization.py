"""Gradient descent on U Vᵀ: global convergence from a small start, losses, inputs, dynamics."""
import numpy as np
import pytest

import nmdcore
from nmdcore import HyperparameterError, InitError, NegativeEntriesError
from nmdcore.solvers.factorization import N_SINGULAR_VALUES


@pytest.fixture
def low_rank():
    """A real (signed) 40×30 matrix of rank 3 with well-separated singular values."""
    rng = np.random.default_rng(5)
    P, _ = np.linalg.qr(rng.standard_normal((40, 3)))
    Q, _ = np.linalg.qr(rng.standard_normal((30, 3)))
    return (P * np.array([5.0, 3.0, 2.0])) @ Q.T


def test_reaches_the_global_minimum_from_a_small_random_start(low_rank):
    assert np.any(low_rank < 0)  # negative entries are accepted with loss="lra"
    res = nmdcore.decompose(low_rank, 3, solver="gd", init="random", max_iter=3000, tol=1e-8,
                            random_state=0)
    h = res.history
    assert res.stop_reason == "tol"
    assert np.linalg.norm(res.theta - low_rank) / np.linalg.norm(low_rank) < 1e-6
    assert h["objective"][0] > 0.999  # the start is small: UVᵀ ≈ 0
    assert np.allclose(res.factors["U"] @ res.factors["V"].T, res.theta)
    # small start => nearly balanced factors: singular values of U and V are √σ_i(X)
    root = np.sqrt([5.0, 3.0, 2.0])
    assert np.allclose([h[f"sv_U_{i}"][-1] for i in (1, 2, 3)], root, rtol=1e-3)
    assert np.allclose([h[f"sv_V_{i}"][-1] for i in (1, 2, 3)], root, rtol=1e-3)
    assert h["imbalance"].max() < 1e-3
    assert np.all(np.isnan(h[f"sv_U_{N_SINGULAR_VALUES}"]))  # only r = 3 singular values
    assert {len(v) for v in h.values()} == {res.n_iter + 1}


def test_larger_init_scale_shortens_the_plateau(low_rank):
    iterations = [nmdcore.decompose(low_rank, 3, solver="gd", init="random", init_scale=s,
                                    max_iter=3000, tol=1e-6, random_state=0).n_iter
                  for s in (1e-5, 1e-2)]
    assert iterations[1] < iterations[0]


def test_relu_losses_refuse_negative_entries_before_any_work(low_rank):
    calls = []
    for loss in ("latent", "relu"):
        with pytest.raises(NegativeEntriesError, match="loss='lra'"):
            nmdcore.decompose(low_rank, 3, solver="gd", loss=loss, callback=calls.append)
    assert calls == []


@pytest.mark.parametrize("params", [
    {"step": 0}, {"step": -0.1}, {"step": 1.5}, {"step": float("nan")}, {"step": "big"},
    {"init_scale": 0}, {"init_scale": -1e-3}, {"init_scale": 100.0},
    {"loss": "l1"},
])
def test_bad_hyperparameters(low_rank, params):
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(low_rank, 3, solver="gd", **params)


def test_latent_loss_equals_lra_without_zeros():
    # With X > 0 everywhere the projection onto F(X) is X itself: same residual, same run.
    rng = np.random.default_rng(2)
    X = 1.0 + rng.random((20, 15))
    runs = [nmdcore.decompose(X, 2, solver="gd", init="random", loss=loss, max_iter=50,
                              random_state=1) for loss in ("lra", "latent")]
    assert np.array_equal(runs[0].history["objective"], runs[1].history["objective"])
    assert np.array_equal(runs[0].theta, runs[1].theta)


@pytest.mark.parametrize("loss", ["latent", "relu"])
def test_relu_losses_fit_a_planted_relu_matrix(loss):
    rng = np.random.default_rng(3)
    X = np.maximum(0, rng.standard_normal((30, 2)) @ rng.standard_normal((2, 25)))
    res = nmdcore.decompose(X, 2, solver="gd", init="tsvd", loss=loss, max_iter=400, random_state=0)
    h = res.history
    assert h["relu_error"][-1] < 0.5 * h["relu_error"][0]
    if loss == "relu":
        assert np.array_equal(h["objective"], h["relu_error"])
    else:  # latent residual ‖Θ − P(Θ)‖ ≥ relu error
        assert np.all(h["objective"] >= h["relu_error"] - 1e-12)


def test_explicit_start_and_tsvd_start(low_rank):
    rng = np.random.default_rng(0)
    U0, V0 = rng.standard_normal((40, 3)), rng.standard_normal((30, 3))
    res = nmdcore.decompose(low_rank, 3, solver="gd", init={"U": U0, "V": V0}, max_iter=0)
    assert np.allclose(res.theta, U0 @ V0.T)
    with pytest.raises(InitError):
        nmdcore.decompose(low_rank, 3, solver="gd", init={"U": U0, "V": V0.T})
    # the balanced TSVD split is already a global minimiser of the LRA loss
    res = nmdcore.decompose(low_rank, 3, solver="gd", init="tsvd", max_iter=5)
    assert res.history["objective"][0] < 1e-12 and res.stop_reason == "tol"


def test_divergence_returns_the_last_finite_iterate(low_rank):
    big = 1e3 * np.ones((40, 3)), 1e3 * np.ones((30, 3))
    res = nmdcore.decompose(low_rank, 3, solver="gd", init={"U": big[0], "V": big[1]},
                            step=1.0, max_iter=500)
    assert res.stop_reason == "diverged"
    assert np.isfinite(res.theta).all() and np.isfinite(res.history["objective"]).all()
    assert np.allclose(res.factors["U"] @ res.factors["V"].T, res.theta)


@pytest.mark.parametrize("loss", ["lra", "latent", "relu"])
def test_one_step_is_the_simultaneous_update(loss):
    rng = np.random.default_rng(9)
    X = np.where(rng.random((12, 9)) < 0.5, rng.random((12, 9)), 0.0)
    U0, V0 = rng.standard_normal((12, 2)), rng.standard_normal((9, 2))
    res = nmdcore.decompose(X, 2, solver="gd", init={"U": U0, "V": V0}, loss=loss, step=0.3,
                            max_iter=1, tol=0)
    theta = U0 @ V0.T
    if loss == "lra":
        R = theta - X
    elif loss == "latent":
        R = theta - np.where(X > 0, X, np.minimum(theta, 0))
    else:
        R = np.where(theta > 0, theta - X, 0.0)
    eta = 0.3 / np.linalg.norm(X, 2)
    assert np.allclose(res.factors["U"], U0 - eta * R @ V0, rtol=1e-12, atol=1e-14)
    assert np.allclose(res.factors["V"], V0 - eta * R.T @ U0, rtol=1e-12, atol=1e-14)
