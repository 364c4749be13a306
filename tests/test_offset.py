"""The offset model X ≈ max(0, Θ + c·11ᵀ): the authors' offset codes replayed, and what it must refuse."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nmdcore
from tests.helpers import OFFSET_TRACES as TRACES
from tests.helpers import require_shared

SOLVER_KEYS = {"Naive_NMD_mc": "naive", "A_NMD_mc": "a_nmd", "BCD_NMD_mc": "bcd", "eBCD_NMD_mc": "ebcd",
               "NMD_3B_mc": "nmd_3b"}


def _trace_files():
    if not TRACES.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{TRACES} is absent"))]
    return sorted(TRACES.glob("*.npz"), key=lambda p: p.name)


def _replay(t):
    params = json.loads(str(t["params_json"]))
    key = SOLVER_KEYS[str(t["solver"])]
    c, sign = float(t["offset_c"]), float(t["theta_sign"])
    if str(t["family"]) == "latent":
        init = {"theta": sign * t["Theta0"], "Z": t["Z0"]}
    else:
        init = {"W": sign * t["W0"], "H": t["H0"], "Z": t["Z0"]}
    hyper = {}
    if key == "a_nmd":
        hyper = {name: params[name] for name in ("beta", "eta", "gamma", "gamma_bar")}
    elif key == "ebcd":
        hyper = {name: params[name] for name in ("alpha", "mu", "alpha_max", "delta_bar")}
    elif key == "nmd_3b":
        hyper = {"beta": params["beta1"]}
    return nmdcore.decompose(t["X"], int(t["r"]), solver=key, init=init, offset=c, max_iter=int(t["maxit"]),
                             tol=0, tol_stall=0, **hyper), sign


@pytest.mark.parametrize("path", _trace_files(), ids=lambda p: getattr(p, "stem", "absent"))
def test_offset_solvers_reproduce_the_authors_traces(path):
    t = np.load(require_shared(path), allow_pickle=False)
    res, sign = _replay(t)
    k = int(t["trust_len"])
    ref_err = t["err"]
    assert len(res.history["objective"]) == len(ref_err)
    np.testing.assert_allclose(res.history["objective"][:k], ref_err[:k], rtol=1e-8, atol=1e-12)
    theta_ref = t["Theta"]
    assert np.linalg.norm(sign * res.theta - theta_ref) <= 1e-10 * np.linalg.norm(theta_ref)
    assert res.relu_error == pytest.approx(float(t["relu_err_final"]), rel=1e-8)
    ground = np.linalg.norm(sign * res.theta - t["Theta_low"]) / np.linalg.norm(t["Theta_low"])
    assert ground == pytest.approx(float(t["ground_err"]), rel=1e-6)
    assert res.offset == float(t["offset_c"])


@pytest.mark.parametrize("solver", ["ebcd", "a_nmd"])
def test_offset_zero_is_the_plain_model_bit_for_bit(solver):
    rng = np.random.default_rng(3)
    X = np.maximum(0, rng.standard_normal((30, 4)) @ rng.standard_normal((4, 25)))
    plain = nmdcore.decompose(X, 4, solver=solver, max_iter=30, random_state=1)
    zero = nmdcore.decompose(X, 4, solver=solver, max_iter=30, random_state=1, offset=0.0)
    np.testing.assert_array_equal(plain.theta, zero.theta)
    for name in plain.history:
        if name != "time":
            np.testing.assert_array_equal(plain.history[name], zero.history[name])


def test_offset_recovers_a_planted_offset_matrix():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 35))
    c = 1.0  # about two thirds of the entries observed: Θ is determined by X
    X = np.maximum(0, theta + c)
    res = nmdcore.decompose(X, 3, solver="a_nmd", offset=c, max_iter=2000, tol=1e-12, tol_stall=0)
    assert res.relu_error < 1e-6 and res.offset == c
    assert np.linalg.norm(res.theta - theta) < 1e-4 * np.linalg.norm(theta)


def _offset_path(X, r, solver, c, max_iter):
    """Run the offset version of ``solver`` directly (decompose sends c = 0 to the standard one)."""
    from nmdcore._monitor import Monitor
    from nmdcore._problem import Problem
    from nmdcore.solvers import offset as offset_solvers

    spec = nmdcore.SOLVERS[solver]
    problem = Problem(np.ascontiguousarray(X, dtype=np.float64), r, np.random.default_rng(0))
    start = offset_solvers.prepare_start(spec, problem, "tsvd", c)
    monitor = Monitor(max_iter=max_iter, tol=0, tol_stall=0, time_limit=None, callback=None, extras=spec.extras)
    theta, _ = spec.run_offset(problem, start, spec.resolve({}), monitor, c)
    return theta, monitor.arrays()


def test_the_latent_and_three_block_solvers_have_an_offset_model():
    having = {k for k, s in nmdcore.SOLVERS.items() if s.run_offset is not None}
    assert having == {k for k, s in nmdcore.SOLVERS.items() if s.family in ("latent", "three_block")}


@pytest.mark.parametrize("solver", ["naive", "a_nmd", "em", "a_em", "bcd", "ebcd", "nmd_3b", "nmd_tm"])
def test_offset_solvers_at_c_zero_follow_the_standard_solvers(solver):
    """The offset code with c = 0 gives the standard solver's iterates (to rounding): for NMD-TM,
    EM-NMD and A-EM, whose offset versions have no published reference, this is their check."""
    rng = np.random.default_rng(7)
    X = np.maximum(0, rng.standard_normal((40, 4)) @ rng.standard_normal((4, 30)))
    theta, history = _offset_path(X, 4, solver, 0.0, 25)
    standard = nmdcore.decompose(X, 4, solver=solver, init="tsvd", max_iter=25, tol=0, tol_stall=0)
    k = len(standard.history["objective"])
    if solver == "ebcd":  # the offset code keeps α at α_max where the standard one resets it to 1
        k = int(np.flatnonzero(history["alpha"] != standard.history["alpha"])[0])
        assert k > 10 and history["alpha"][k] == 4.0 and standard.history["alpha"][k] == 1.0
    for name in standard.history:
        if name != "time":
            np.testing.assert_allclose(history[name][:k], standard.history[name][:k], rtol=1e-7, atol=1e-12,
                                       err_msg=name)
    if solver != "ebcd":
        np.testing.assert_allclose(theta, standard.theta, rtol=1e-7, atol=1e-9 * np.abs(standard.theta).max())


@pytest.mark.parametrize("solver, iterations", [("em", 300), ("a_em", 300), ("nmd_tm", 20)])
def test_unpublished_offset_solvers_fit_a_planted_offset_matrix(solver, iterations):
    """NMD-TM gets 20 iterations: like its standard version it later wanders off (0.011 at 20,
    0.45 at 300 here)."""
    rng = np.random.default_rng(8)
    theta = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 35))
    X = np.maximum(0, theta + 1.0)
    res = nmdcore.decompose(X, 3, solver=solver, offset=1.0, max_iter=iterations, tol=0, tol_stall=0)
    start = nmdcore.decompose(X, 3, solver=solver, offset=1.0, max_iter=0)
    assert res.relu_error < 0.1 * start.relu_error
    assert np.linalg.norm(res.theta - theta) < 0.1 * np.linalg.norm(theta)


def test_solvers_without_an_offset_model_refuse_it():
    X = np.eye(5) + 0.1
    with pytest.raises(nmdcore.OffsetNotSupportedError, match="cd has no offset model") as info:
        nmdcore.decompose(X, 2, solver="cd", offset=1.0)
    assert "\n" not in str(info.value)
    for bad in (np.nan, np.inf, "1"):
        with pytest.raises(nmdcore.HyperparameterError, match="offset"):
            nmdcore.decompose(X, 2, solver="bcd", offset=bad)
    with pytest.raises(nmdcore.HyperparameterError, match="exact truncated SVD"):
        nmdcore.decompose(X, 2, solver="naive", offset=1.0, tsvd="randomized")


def test_offset_tsvd_start_is_the_truncation_of_x_minus_c():
    rng = np.random.default_rng(5)
    X = np.maximum(0, rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20)) + 0.3)
    c = 0.3
    res = nmdcore.decompose(X, 3, solver="bcd", offset=c, init="tsvd", max_iter=0)
    U, s, Vt = np.linalg.svd(X - c)
    start = (U[:, :3] * s[:3]) @ Vt[:3]
    expected = np.linalg.norm(X - c - start) / np.linalg.norm(X)
    assert res.history["objective"][0] == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(res.theta, start, atol=1e-10)
    assert res.relu_error == pytest.approx(np.linalg.norm(X - np.maximum(0, start + c)) / np.linalg.norm(X))


@pytest.mark.parametrize("solver", [k for k, s in nmdcore.SOLVERS.items() if s.run_offset is not None])
def test_offset_runs_stop_on_callback_and_keep_float32(solver):
    rng = np.random.default_rng(6)
    X = np.maximum(0, rng.standard_normal((25, 3)) @ rng.standard_normal((3, 20)) - 0.2).astype(np.float32)
    res = nmdcore.decompose(X, 3, solver=solver, offset=-0.2, max_iter=100, random_state=0,
                            callback=lambda p: p.iteration == 3)
    assert res.stop_reason == "callback" and res.n_iter == 3
    assert res.theta.dtype == np.float32 and np.isfinite(res.theta).all()


def test_offset_with_extreme_data_is_scaled_with_it():
    """Data near 1e100 is solved as X / 2^k; the offset is scaled with it, Θ scaled back."""
    rng = np.random.default_rng(9)
    X = np.maximum(0, rng.standard_normal((30, 3)) @ rng.standard_normal((3, 25)) + 0.5)
    plain = nmdcore.decompose(X, 3, solver="bcd", offset=-0.5, max_iter=40, random_state=0)
    big = nmdcore.decompose(X * 2.0**340, 3, solver="bcd", offset=-0.5 * 2.0**340, max_iter=40, random_state=0)
    assert big.data_scale > 1 and big.offset == -0.5 * 2.0**340
    np.testing.assert_allclose(big.theta, plain.theta * 2.0**340, rtol=1e-9)
    assert big.relu_error == pytest.approx(plain.relu_error, rel=1e-9)
