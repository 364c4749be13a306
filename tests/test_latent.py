"""Latent-model solvers (naive, a_nmd, em, a_em) and the truncated SVDs they use."""
import json

import numpy as np
import pytest

import nmdcore
from nmdcore import HyperparameterError, InitError, _kernels

from tests.helpers import reference_trace, reference_traces_among

LATENT = ("naive", "a_nmd", "em", "a_em")
TRACE_SOLVERS = {"Naive_NMD": "naive", "A_NMD": "a_nmd", "EM_NMD": "em"}
TRACE_FILES = reference_traces_among(f"{case}_{solver}_{init}_it{maxit}"
                                     for case in ("lr60x40", "sp50x70", "sym40")
                                     for solver in TRACE_SOLVERS
                                     for init in ("rand", "tsvd")
                                     for maxit in (50, 300))


_NUMBA = pytest.mark.skipif(not _kernels.numba_available(), reason="numba is not installed")


@pytest.fixture(autouse=True, params=["numpy", pytest.param("numba", marks=_NUMBA)])
def kernel_backend(request, monkeypatch):
    """Every test here runs on both backends of the fused passes (NMD_KERNELS, nmdcore._kernels)."""
    monkeypatch.setenv(_kernels.ENV_VAR, request.param)


@pytest.mark.parametrize("name", TRACE_FILES)
def test_reproduces_reference_trace(name):
    d = np.load(reference_trace(name))
    params = json.loads(str(d["params_json"]))
    hyper = {k: params[k] for k in ("beta", "eta", "gamma", "gamma_bar") if k in params}
    res = nmdcore.decompose(d["X"], int(d["r"]), TRACE_SOLVERS[str(d["solver"])],
                            init={"theta": d["Theta0"], "Z": d["Z0"]}, max_iter=int(d["maxit"]),
                            tol=0, tol_stall=0, **hyper)
    err, ref = res.history["objective"], d["err"]
    k = int(d["trust_len"])
    assert len(err) == len(ref)
    assert np.allclose(err[:k], ref[:k], rtol=1e-8, atol=1e-12)
    if k == len(ref):
        bound = max(1e-10, 100 * float(d["theta_rel_np"]))
        assert np.linalg.norm(res.theta - d["Theta"]) <= bound * np.linalg.norm(d["Theta"])


@pytest.fixture
def planted():
    """An exact rank-4 ReLU decomposition X = max(0, W H)."""
    rng = np.random.default_rng(7)
    return np.maximum(0, rng.standard_normal((50, 4)) @ rng.standard_normal((4, 40)))


@pytest.fixture
def sparse_full_rank():
    rng = np.random.default_rng(11)
    return np.where(rng.random((40, 30)) < 0.3, 0.1 + rng.random((40, 30)), 0.0)


def test_naive_objective_never_increases(sparse_full_rank):
    res = nmdcore.decompose(sparse_full_rank, 5, "naive", init="random", random_state=0,
                            max_iter=80, tol=0, tol_stall=0)
    obj = res.history["objective"]
    assert len(obj) == 81
    assert np.all(np.diff(obj) <= 1e-12 * obj[:-1])
    assert obj[-1] < 0.9 * obj[1]


@pytest.mark.parametrize("solver", ["naive", "a_nmd"])
def test_recovers_planted_relu_low_rank(planted, solver):
    res = nmdcore.decompose(planted, 4, solver, init="random", random_state=0, max_iter=2000)
    assert res.relu_error < 1e-6


@pytest.mark.parametrize("solver", LATENT)
@pytest.mark.parametrize("tsvd", ["exact", "randomized"])
def test_same_seed_same_history(planted, solver, tsvd):
    runs = [nmdcore.decompose(planted, 4, solver, init="random", random_state=3, max_iter=15,
                              tol=0, tol_stall=0, tsvd=tsvd) for _ in range(2)]
    for name in runs[0].history:
        if name != "time":
            assert np.array_equal(runs[0].history[name], runs[1].history[name])
    assert np.array_equal(runs[0].theta, runs[1].theta)


@pytest.mark.parametrize("solver", LATENT)
def test_time_limit_returns_the_current_truncation(planted, solver):
    res = nmdcore.decompose(planted, 4, solver, init="random", random_state=0, max_iter=50, time_limit=0)
    assert res.stop_reason == "time_limit" and res.n_iter == 1
    assert np.array_equal(res.theta, res.factors["W"] @ res.factors["H"])
    assert len({len(v) for v in res.history.values()}) == 1


def test_a_em_records_relu_error(sparse_full_rank):
    res = nmdcore.decompose(sparse_full_rank, 5, "a_em", init="random", random_state=1, max_iter=60)
    assert np.array_equal(res.history["objective"], res.history["relu_error"])
    assert res.history["relu_error"][-1] < res.history["relu_error"][0]
    assert res.relu_error == pytest.approx(res.history["relu_error"][-1], rel=1e-12)
    assert np.all(res.history["sigma2"] > 0)


def test_a_em_default_tolerances_stop_it(planted):
    res = nmdcore.decompose(planted, 4, "a_em", init="tsvd", max_iter=5000)
    assert res.stop_reason in ("tol", "stall") and res.n_iter < 5000


@pytest.mark.parametrize("solver", LATENT)
def test_randomized_truncation_reaches_the_exact_quality(planted, solver):
    errors = [nmdcore.decompose(planted, 4, solver, init="tsvd", max_iter=100, tsvd=tsvd,
                                random_state=0).relu_error for tsvd in ("exact", "randomized")]
    assert errors[1] <= max(1.05 * errors[0], 1e-8)


@pytest.mark.parametrize("bad", [
    {"gamma_bar": 1.2},                 # γ̄ > γ
    {"gamma_bar": 1.1},                 # γ̄ = γ
    {"eta": 1.0}, {"eta": 0.0},
    {"gamma": 1.0}, {"gamma_bar": 1.0},
    {"beta": 1.5},
    {"tsvd": "svds"},
])
def test_a_nmd_rejects_bad_hyperparameters(planted, bad):
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(planted, 4, "a_nmd", **bad)


def test_explicit_start_is_checked(planted):
    with pytest.raises(InitError, match="shape"):
        nmdcore.decompose(planted, 4, "naive", init={"theta": np.ones((3, 3))})
    with pytest.raises(InitError, match="missing"):
        nmdcore.decompose(planted, 4, "em", init={"Z": planted})
    with pytest.raises(InitError, match="unknown"):
        nmdcore.decompose(planted, 4, "a_em", init={"theta": planted, "Z": planted})


def test_explicit_latent_start_only_enters_the_first_residual(planted):
    theta0 = np.random.default_rng(0).standard_normal(planted.shape)
    plain = nmdcore.decompose(planted, 4, "naive", init={"theta": theta0}, max_iter=5, tol=0, tol_stall=0)
    shifted = nmdcore.decompose(planted, 4, "naive", init={"theta": theta0, "Z": planted + 1},
                                max_iter=5, tol=0, tol_stall=0)
    assert plain.history["objective"][0] != shifted.history["objective"][0]
    assert np.array_equal(plain.history["objective"][1:], shifted.history["objective"][1:])


@pytest.mark.parametrize("solver", LATENT)
def test_non_finite_iterate_ends_as_diverged(planted, solver):
    theta0 = np.full(planted.shape, -1e160)   # the Gram matrix of the first Z overflows
    res = nmdcore.decompose(planted, 4, solver, init={"theta": theta0}, max_iter=10)
    assert res.stop_reason == "diverged" and res.n_iter == 0
    assert np.array_equal(res.theta, theta0)


