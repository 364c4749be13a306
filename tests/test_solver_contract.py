"""The contract every registered solver keeps, checked over ``nmdcore.SOLVERS``.

Whatever its family, a solver keeps float32 as float32, gives the same run for the same
``random_state``, calls the callback at the start and after every iteration and stops when
it returns True, records histories of equal lengths, returns its last finite iterate when
the run diverges, refuses bad input with a specific error before any work, and stays within
the memory model that :func:`nmdcore.estimate_memory` reads. A solver added with
``nmdcore.register`` is checked the same way (``test_registered_solver.py``).
"""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import nmdcore
from nmdcore import _monitor

SOLVERS = sorted(nmdcore.SOLVERS)
ITERATIVE = [k for k in SOLVERS if nmdcore.SOLVERS[k].iterative]


def data_for(spec, m=36, n=28, rank=3, seed=0, dtype=np.float64):
    """A matrix ``spec`` accepts: ReLU-low-rank, symmetric for symmetric solvers."""
    rng = np.random.default_rng(seed)
    if spec.input_kind == "symmetric":
        U = rng.standard_normal((m, rank))
        X = np.maximum(0, U @ U.T)
    else:
        X = np.maximum(0, rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n)))
    return X.astype(dtype)


def run(key, X, **kwargs):
    kwargs.setdefault("max_iter", 6)
    kwargs.setdefault("tol", 0)
    kwargs.setdefault("tol_stall", 0)
    return nmdcore.decompose(X, 3, key, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("key", SOLVERS)
def test_data_is_read_in_place_and_never_written(key, dtype):
    """decompose does not copy a writeable C array of the working dtype, so no solver may write
    into it: the caller's X is bit for bit the same after a run (with the offset model too)."""
    spec = nmdcore.SOLVERS[key]
    X = data_for(spec, dtype=dtype)
    assert not nmdcore.copies_input(X, X.dtype)
    assert nmdcore._validation.check_matrix(X, input_kind=spec.input_kind) is X
    before = X.tobytes()
    run(key, X, init="random", random_state=0)
    if spec.run_offset is not None:
        run(key, X, init="random", random_state=0, offset=-0.1)
    assert X.tobytes() == before


def test_data_that_needs_converting_is_copied():
    X = np.arange(12.0).reshape(3, 4)
    assert not nmdcore.copies_input(X, np.dtype(np.float64))
    assert nmdcore.copies_input(X, np.dtype(np.float32))  # another dtype
    assert nmdcore.copies_input(np.asfortranarray(X), np.dtype(np.float64))
    assert nmdcore.copies_input(X.tolist(), np.dtype(np.float64))
    frozen = X.copy()
    frozen.flags.writeable = False  # a read-only type would compile the kernels again
    assert nmdcore.copies_input(frozen, np.dtype(np.float64))
    checked = nmdcore._validation.check_matrix(frozen)
    assert checked is not frozen and checked.flags.writeable and np.array_equal(checked, frozen)
    assert (nmdcore.estimate_memory((300, 200), 3, "ebcd") - nmdcore.estimate_memory((300, 200), 3, "ebcd", copies_x=False)
            == 300 * 200 * 8)


@pytest.mark.parametrize("key", SOLVERS)
def test_float32_stays_float32(key):
    spec = nmdcore.SOLVERS[key]
    res = run(key, data_for(spec, dtype=np.float32), init="random", random_state=0)
    assert res.theta.dtype == np.float32
    assert all(a.dtype == np.float32 for a in res.factors.values()), {k: a.dtype for k, a in res.factors.items()}
    assert all(h.dtype == np.float64 for h in res.history.values())


@pytest.mark.parametrize("key", SOLVERS)
def test_float32_agrees_with_float64(key):
    X = data_for(nmdcore.SOLVERS[key])
    single, double = (run(key, X.astype(dtype), init="tsvd") for dtype in (np.float32, np.float64))
    assert single.n_iter == double.n_iter
    np.testing.assert_allclose(single.history["relu_error"], double.history["relu_error"], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("key", SOLVERS)
def test_same_random_state_gives_the_same_run(key):
    X = data_for(nmdcore.SOLVERS[key])
    first, second = (run(key, X, init="random", random_state=7) for _ in range(2))
    assert np.array_equal(first.theta, second.theta)
    for name in first.history:
        if name != "time":
            assert np.array_equal(first.history[name], second.history[name], equal_nan=True), name
    if nmdcore.SOLVERS[key].iterative:
        other = run(key, X, init="random", random_state=8)
        assert not np.array_equal(first.theta, other.theta)


@pytest.mark.parametrize("key", ITERATIVE)
def test_callback_at_the_start_and_after_every_iteration_and_true_stops(key):
    X = data_for(nmdcore.SOLVERS[key])
    seen = []
    res = run(key, X, callback=lambda p: seen.append((p.iteration, p.relu_error)) and False, max_iter=4)
    assert [i for i, _ in seen] == list(range(res.n_iter + 1)) and res.n_iter >= 1
    assert np.allclose([e for _, e in seen], res.history["relu_error"])
    stopped = run(key, X, callback=lambda p: p.iteration == 2, max_iter=50)
    assert stopped.stop_reason == "callback" and stopped.n_iter == 2


@pytest.mark.parametrize("key", SOLVERS)
def test_history_arrays_have_equal_lengths_and_the_result_matches_them(key):
    spec = nmdcore.SOLVERS[key]
    res = run(key, data_for(spec), max_iter=5)
    lengths = {name: len(values) for name, values in res.history.items()}
    assert set(lengths.values()) == {res.n_iter + 1}, lengths
    assert {"objective", "relu_error", "time", *spec.extras} <= set(res.history)
    assert res.stop_reason in (*_monitor.STOP_REASONS, "exact")
    X = data_for(spec).astype(np.float64)
    error = np.linalg.norm(X - np.maximum(0, res.theta)) / np.linalg.norm(X)
    assert res.relu_error == pytest.approx(error, rel=1e-9, abs=1e-12)


def _diverging_at_iteration_3(monkeypatch):
    """Make the monitor see a non-finite objective at iteration 3 (the solver's iterate stays finite)."""
    real_record = _monitor.Monitor.record

    def record(self, objective, relu_error, **extras):
        if len(self.history["objective"]) == 3:
            objective = float("nan")
        return real_record(self, objective, relu_error, **extras)

    monkeypatch.setattr(_monitor.Monitor, "record", record)


@pytest.mark.parametrize("key", ITERATIVE)
def test_divergence_keeps_a_finite_iterate(key, monkeypatch):
    _diverging_at_iteration_3(monkeypatch)
    res = run(key, data_for(nmdcore.SOLVERS[key]), max_iter=20)
    assert res.stop_reason == "diverged" and res.n_iter == 2
    assert np.isfinite(res.theta).all() and np.isfinite(res.relu_error)
    assert all(len(v) == 3 for v in res.history.values())


#: Solvers that, when the monitor reports divergence on an iterate whose factors are still
#: finite, return that iterate instead of the last recorded one (``Monitor``'s documented rule).
RETURN_THE_DIVERGED_ITERATE = {"cd"}


@pytest.mark.parametrize("key", [
    pytest.param(k, marks=pytest.mark.xfail(strict=True, reason="returns the iterate the monitor refused"))
    if k in RETURN_THE_DIVERGED_ITERATE else k for k in ITERATIVE])
def test_divergence_returns_the_last_recorded_iterate(key, monkeypatch):
    _diverging_at_iteration_3(monkeypatch)
    res = run(key, data_for(nmdcore.SOLVERS[key]), max_iter=20)
    assert res.relu_error == pytest.approx(res.history["relu_error"][-1], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("key", SOLVERS)
def test_bad_input_is_refused_before_any_work(key):
    spec = nmdcore.SOLVERS[key]
    X = data_for(spec)
    calls = []
    with_nan = X.copy()
    with_nan[1, 2] = with_nan[2, 1] = np.nan
    cases = [(with_nan, nmdcore.NonFiniteError), (X[:, :, None], nmdcore.ShapeError), (0 * X, nmdcore.ZeroMatrixError)]
    if spec.input_kind != "real":
        negative = X.copy()
        negative[0, 1] = negative[1, 0] = -1.0
        cases.append((negative, nmdcore.NegativeEntriesError))
    for bad, error in cases:
        with pytest.raises(error):
            nmdcore.decompose(bad, 3, key, callback=calls.append)
    with pytest.raises(nmdcore.RankError):
        nmdcore.decompose(X, min(X.shape) + 1, key, callback=calls.append)
    with pytest.raises(nmdcore.HyperparameterError):
        nmdcore.decompose(X, 3, key, no_such_parameter=1, callback=calls.append)
    with pytest.raises(nmdcore.InitError):
        nmdcore.decompose(X, 3, key, init="warm", callback=calls.append)
    assert calls == []


@pytest.mark.parametrize("key", SOLVERS)
def test_hyperparameter_defaults_are_valid_and_every_control_has_a_range(key):
    spec = nmdcore.SOLVERS[key]
    assert spec.resolve({}) == spec.defaults()
    for h in spec.hyperparameters:
        if h.widget in ("slider", "log_slider"):
            low, high = h.range()
            assert low < high and low <= h.default <= high, (h.name, h.range())
            if h.widget == "log_slider":
                assert low > 0, h.name


#: Shape and dtype of the memory checks: a tall float64 matrix and a nearly square float32 one
#: (where the p×p terms count); symmetric solvers get a square one of each dtype.
MEMORY_CASES = [((3000, 400), np.float64), ((1100, 1000), np.float32)]


def _traced_peak(key, X):
    gc.collect()
    tracemalloc.start()
    try:
        nmdcore.decompose(X, 6, key, max_iter=3, tol=0, tol_stall=0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("shape, dtype", MEMORY_CASES)
@pytest.mark.parametrize("key", SOLVERS)
def test_memory_model_bounds_the_traced_peak(key, shape, dtype):
    """``estimate_memory`` is not below what ``decompose`` allocates (tracemalloc; the caller's X
    not counted, and not copied: it is a writeable C array of the working dtype), and the
    solver's model is not loose by more than two m×n arrays beyond the full eigendecomposition's
    LAPACK workspace (about two p×p arrays), which tracemalloc does not see."""
    spec = nmdcore.SOLVERS[key]
    m, n = (900, 900) if spec.input_kind == "symmetric" else shape
    X = data_for(spec, m=m, n=n, rank=6, dtype=dtype)
    run(key, X[:60, :60], max_iter=1)  # compile kernels outside the measurement
    peak = _traced_peak(key, X)
    one_array = X.size * X.dtype.itemsize
    assert peak <= nmdcore.estimate_memory(X.shape, 6, key, dtype, copies_x=False), (peak / one_array, spec.memory)
    untraced = 2 * min(m, n) ** 2 / (m * n)
    modelled = spec.memory.peak_arrays(m, n) - 1  # the model counts a copy of X
    assert modelled <= peak / one_array + 2 + untraced, (peak / one_array, spec.memory)


def test_hyperparameter_controls_follow_their_ranges():
    H = nmdcore.Hyperparameter
    assert H("a", 0.5, low=0.0, high=1.0).widget == "slider"
    assert H("a", 0.5, low=0.0).widget == "number"
    assert H("a", 0.5, low=0.0, slider_range=(0.0, 2.0)).widget == "slider"
    assert H("a", 1e-3, low=0.0, log=True, slider_range=(1e-6, 1.0)).widget == "log_slider"
    assert H("a", 1e-3, low=0.0, high=1.0, log=True).widget == "slider"  # no positive range for a log scale
    assert H("a", 1e-3, low=0.0, log=True).widget == "number"
    assert H("a", "x", kind="choice", choices=("x", "y")).widget == "select"
    assert H("a", True, kind="bool").widget == "checkbox"
    assert H("a", 0.5, low=0.0, high=1.0, control="number").widget == "number"
    for bad in (dict(control="dial"), dict(control="slider"), dict(control="log_slider", low=0.0, high=1.0)):
        with pytest.raises(ValueError):
            H("a", 0.5, **bad)
