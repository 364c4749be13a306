"""CD-NMD: the exact one-dimensional solver, monotonicity, recovery, reproducibility, dtype."""
import itertools
import types

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import nmdcore
from nmdcore import InitError, _kernels
from nmdcore.solvers import coordinate
from nmdcore.solvers.coordinate import exact_coordinate_minimisers


def phi(a, b, c, x):
    """φ(x) = Σ_i (c_i − max(0, a_i x + b_i))² for one problem."""
    return float(np.sum((c - np.maximum(0.0, a * x + b)) ** 2))


def brute_force_minimum(a, b, c):
    """Minimum of φ over a fine grid on every piece between breakpoints, refined locally.

    φ is one quadratic between consecutive breakpoints, so on each piece the best grid point
    brackets that piece's minimiser; a bounded scalar search around it gives the piece's
    minimum to rounding accuracy, and the smallest of these is returned.
    """
    nonzero = a != 0
    knots = np.unique(-b[nonzero] / a[nonzero])
    if knots.size == 0:
        return phi(a, b, c, 0.0)
    # every vertex of the pieces lies within this distance of the origin
    reach = 2.0 * (1.0 + np.max(np.abs(knots))
                   + np.sum(np.abs(a) * np.abs(b - c)) / np.min(a[nonzero] ** 2))
    edges = np.concatenate(([knots[0] - reach], knots, [knots[-1] + reach]))
    best = np.inf
    for lo, hi in zip(edges[:-1], edges[1:]):
        grid = np.linspace(lo, hi, 1001)
        values = np.sum((c[:, None] - np.maximum(0.0, a[:, None] * grid + b[:, None])) ** 2, axis=0)
        i = int(np.argmin(values))
        local = minimize_scalar(lambda x: phi(a, b, c, x), method="bounded",
                                bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
                                options={"xatol": 1e-14})
        best = min(best, values[i], local.fun)
    return best


def random_problems(seed, q=6):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(1, 12))
    a = rng.standard_normal(p) * rng.choice([0.1, 1.0, 10.0], p)
    a[rng.random(p) < 0.25] = 0.0            # entries that do not depend on x
    B = rng.standard_normal((q, p)) * 2
    C = np.maximum(0.0, rng.standard_normal((q, p)) + rng.choice([0.0, 3.0]))
    return a, B, C, rng.standard_normal(q)


@pytest.mark.parametrize("seed", range(40))
def test_one_dimensional_solver_matches_brute_force(seed):
    a, B, C, current = random_problems(seed)
    x = exact_coordinate_minimisers(a, B, C, current)
    for j in range(B.shape[0]):
        found = phi(a, B[j], C[j], x[j])
        reference = brute_force_minimum(a, B[j], C[j])
        scale = 1.0 + np.sum(C[j] ** 2)
        assert found <= reference + 1e-12 * scale       # never worse than the brute force
        assert found >= reference - 1e-9 * scale        # and the brute force is not far off


def test_minimiser_right_of_the_last_breakpoint():
    # Breakpoints at 1, 0, -1; on [1, inf) all entries are active and the vertex lies at
    # Σ a(c − b) / Σ a² = 53.25 / 5.25, far right of the last breakpoint. A solver that only
    # tests the last breakpoint on the unbounded interval returns 1 here.
    a = np.array([1.0, 2.0, 0.5])
    b = np.array([-1.0, 0.0, 0.5])
    c = np.array([10.0, 20.0, 5.0])
    x = exact_coordinate_minimisers(a, b[None], c[None], np.zeros(1))[0]
    assert x == pytest.approx(53.25 / 5.25, rel=1e-12)
    assert phi(a, b, c, x) < phi(a, b, c, 1.0) - 1.0


def test_minimiser_left_of_the_first_breakpoint():
    # The mirror image: all a_i < 0, so the entries are active far to the left.
    a = -np.array([1.0, 2.0, 0.5])
    b = np.array([-1.0, 0.0, 0.5])
    c = np.array([10.0, 20.0, 5.0])
    x = exact_coordinate_minimisers(a, b[None], c[None], np.zeros(1))[0]
    assert x == pytest.approx(-53.25 / 5.25, rel=1e-12)


def test_constant_objective_keeps_the_current_value():
    a = np.zeros(4)
    B, C = np.ones((2, 4)), np.ones((2, 4))
    current = np.array([0.3, -2.0])
    assert np.array_equal(exact_coordinate_minimisers(a, B, C, current), current)


@pytest.fixture(params=["numpy", "numba"])
def backend(request, monkeypatch):
    """Runs a test on the pure NumPy path and on the compiled kernels of the sweeps."""
    if request.param == "numba" and not _kernels.numba_available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv(_kernels.ENV_VAR, request.param)
    return request.param


@pytest.mark.parametrize("seed", range(12))
def test_compiled_block_equals_the_numpy_block(seed):
    """One block of a sweep through the kernels gives the NumPy path's Θ and H up to rounding."""
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(seed)
    m, n, r = int(rng.integers(3, 300)), int(rng.integers(1, 40)), int(rng.integers(1, 6))
    X = np.where(rng.random((m, n)) < 0.3, rng.random((m, n)), 0.0)
    W = rng.standard_normal((m, r)) * rng.choice([1e-16, 1e-3, 1.0], (m, r))  # tiny entries: far breakpoints
    W[rng.random((m, r)) < 0.2] = 0.0
    W[:, 0] = 0.0 if seed % 3 == 0 else W[:, 0]  # a column with no nonzero entry
    if seed % 2 == 0:
        W[rng.random(m) < 0.3] = 0.0  # rows with no nonzero entry (pixels no image uses): left out
    H = rng.standard_normal((r, n))
    if seed % 4 == 1:
        H[:, :3] = 0.0  # rows of B equal to 0: tied breakpoints
    cols = slice(0, n)
    expected_theta, got_theta = W @ H, W @ H
    expected_H, got_H = H.copy(), H.copy()
    coordinate._minimise_block_numpy(X, expected_theta, W, expected_H, cols)
    used, coordinates = coordinate._coordinates(W)
    coordinate._minimise_block_compiled(_kernels._load(), X, got_theta, got_H, cols, coordinates, used)
    # the same operations but for the vertex's placement and the order of near-tied breakpoints
    np.testing.assert_allclose(got_H, expected_H, rtol=1e-12, atol=1e-12 * np.abs(expected_H).max())
    np.testing.assert_allclose(got_theta, expected_theta, rtol=0, atol=1e-12 * np.abs(expected_theta).max())


@pytest.mark.parametrize("n", [1, 5, 8, 9, 127, 128, 129, 300, 784, 5000, 50000])
def test_pairwise_sum_is_numpys_sum(n):
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    import numba
    from nmdcore._cd_kernels import _pairwise_sum
    _kernels._load()  # registers the helper for compiled callers

    @numba.njit
    def pairwise(v):
        return _pairwise_sum(v, v.size, np.zeros((64, 3), np.int64), np.zeros(64))

    v = np.random.default_rng(n).random(n) ** 4 * 10.0 ** np.linspace(-8, 8, n)
    assert pairwise(v) == np.sum(v) == np.sum(v[None, :], axis=1)[0]


@pytest.mark.parametrize("K", [1, 2, 7, 784, 5000])
def test_sorted_breakpoint_keys_give_argsorts_order(K):
    """The compiled path sorts float keys that carry positions: the same order as argsort
    for distinct breakpoints, infinities first and last, NaNs last, every position once."""
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    from nmdcore._cd_kernels import position_mask
    rng = np.random.default_rng(K)
    a = rng.standard_normal(K)
    a[rng.random(K) < 0.2] *= 1e-200  # breakpoints beyond float64: ±inf
    T = rng.standard_normal((3, K)) * 10.0 ** rng.integers(-300, 300, (3, K))
    T[:, :K // 3] = rng.integers(-3, 3, (3, K // 3))  # exact ties, zeros of both signs
    T[0, K // 2] = np.nan
    nonzero = np.arange(K)
    breaks, keys = np.empty((3, K)), np.empty((3, K))
    with np.errstate(over="ignore", invalid="ignore"):
        _kernels._load().cd_detach(T, np.zeros(3), a, nonzero, -1.0 / a, breaks, keys, position_mask(K))
        keys.sort(axis=1)
    positions = (keys.view(np.uint64) & position_mask(K)).astype(np.int64)
    for row, order in zip(breaks, positions):
        assert sorted(order) == list(range(K))
        assert np.array_equal(row[order], np.sort(row), equal_nan=True)  # sorted values, NaN last


@pytest.fixture
def planted():
    rng = np.random.default_rng(7)
    return np.maximum(0, rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30)))


@pytest.fixture
def sparse_data():
    rng = np.random.default_rng(1)
    return np.where(rng.random((35, 45)) < 0.3, 0.1 + 0.9 * rng.random((35, 45)), 0.0)


@pytest.mark.parametrize("init", ["tsvd", "random"])
def test_objective_never_increases(sparse_data, init, backend):
    res = nmdcore.decompose(sparse_data, 4, solver="cd", init=init, max_iter=40, tol=0,
                            tol_stall=0, random_state=3)
    h = res.history["objective"]
    assert len(h) == 41 and res.stop_reason == "max_iter"
    assert np.all(np.diff(h) <= 1e-12 * h[:-1])
    assert h[-1] < 0.9 * h[0]
    assert np.array_equal(h, res.history["relu_error"])
    assert res.relu_error == pytest.approx(h.min(), rel=1e-12)


def test_recovers_a_planted_relu_low_rank_matrix(planted, backend):
    res = nmdcore.decompose(planted, 3, solver="cd", max_iter=600, random_state=0)
    assert res.stop_reason == "tol"
    assert res.relu_error < 1e-4
    assert np.linalg.matrix_rank(res.theta, tol=1e-8 * np.abs(res.theta).max()) <= 3
    assert np.allclose(res.factors["W"] @ res.factors["H"], res.theta, atol=1e-10)


def test_block_size_does_not_change_the_result(sparse_data, monkeypatch, backend):
    kwargs = dict(solver="cd", max_iter=5, tol=0, tol_stall=0)
    whole = nmdcore.decompose(sparse_data, 3, **kwargs)
    monkeypatch.setattr(coordinate, "BLOCK_ENTRIES", 100)  # 2-3 columns per block
    blocked = nmdcore.decompose(sparse_data, 3, **kwargs)
    assert np.allclose(blocked.history["objective"], whole.history["objective"], rtol=1e-12, atol=0)


def test_starts_are_optimally_scaled(sparse_data):
    for init in ("tsvd", "random"):
        res = nmdcore.decompose(sparse_data, 3, solver="cd", init=init, max_iter=0, random_state=0)
        W, H = res.factors["W"], res.factors["H"]
        start_error = res.history["relu_error"][0]
        assert np.allclose(W @ H, res.theta)
        for s in (0.99, 1.01):  # s = 1 minimises ‖X − max(0, sΘ0)‖ over s
            scaled = np.linalg.norm(sparse_data - np.maximum(0, s * res.theta)) / np.linalg.norm(sparse_data)
            assert scaled > start_error
    # the TSVD split is balanced: equal column norms of W and row norms of H, up to the scale
    res = nmdcore.decompose(sparse_data, 3, solver="cd", init="tsvd", max_iter=0)
    ratio = np.linalg.norm(res.factors["W"], axis=0) / np.linalg.norm(res.factors["H"], axis=1)
    assert np.allclose(ratio, ratio[0])


def test_explicit_start_is_used_as_given(sparse_data):
    rng = np.random.default_rng(0)
    W0, H0 = rng.random((35, 2)), rng.random((2, 45))
    res = nmdcore.decompose(sparse_data, 2, solver="cd", init={"W": W0, "H": H0}, max_iter=0)
    expected = np.linalg.norm(sparse_data - np.maximum(0, W0 @ H0)) / np.linalg.norm(sparse_data)
    assert res.history["objective"][0] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InitError):
        nmdcore.decompose(sparse_data, 2, solver="cd", init={"W": W0, "H": H0[:, :10]})
    with pytest.raises(InitError):
        nmdcore.decompose(sparse_data, 2, solver="cd", init={"W": W0})


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["sparse", "planted", "random_start"])
def test_compiled_sweeps_give_the_numpy_iterates(case, dtype, monkeypatch):
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng({"sparse": 1, "planted": 2, "random_start": 3}[case])
    if case == "planted":
        X = np.maximum(0, rng.standard_normal((50, 4)) @ rng.standard_normal((4, 70)))
    else:
        X = np.where(rng.random((60, 80)) < 0.25, rng.random((60, 80)), 0.0)
        X[:5] = 0.0  # empty rows, as the border pixels of images: TSVD entries of order 1e-16
    kwargs = dict(solver="cd", init="random" if case == "random_start" else "tsvd", max_iter=6,
                  tol=0, tol_stall=0, random_state=5)
    monkeypatch.setattr(coordinate, "BLOCK_ENTRIES", 600)  # several blocks, on every core
    runs = {}
    for name in ("numpy", "numba"):
        monkeypatch.setenv(_kernels.ENV_VAR, name)
        runs[name] = nmdcore.decompose(X.astype(dtype), 4, **kwargs)
    numpy_run, compiled = runs["numpy"], runs["numba"]
    assert compiled.n_iter == numpy_run.n_iter == 6
    # The same floating-point operations in the same order, but for the vertex's placement and
    # near-tied breakpoints (relative gap ~1e-12), which the two paths may order differently: on
    # these inputs the factors agree to the last bit. The running sums of a minimiser cancel, so
    # a sum taken in another order (as a BLAS dot product takes it) moves the minimiser by ~1e-7
    # and the error by ~1e-4 within six iterations; a wrong candidate moves them by far more.
    np.testing.assert_allclose(compiled.history["relu_error"], numpy_run.history["relu_error"], rtol=1e-12)
    for name in ("W", "H"):
        assert compiled.factors[name].dtype == dtype
        np.testing.assert_allclose(compiled.factors[name], numpy_run.factors[name],
                                   rtol=0, atol=1e-12 * np.abs(numpy_run.factors[name]).max())


def test_compiled_sweeps_leave_out_the_rows_that_cannot_change(monkeypatch):
    """Rows of X that are zero where W is zero too (pixels no image uses): the H-sweep's blocks
    leave them out and the W-sweep skips them, and the iterates are those of sweeps over all."""
    if not _kernels.numba_available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(7)
    m, n, empty = 40, 60, [0, 1, 17]
    X = np.where(rng.random((m, n)) < 0.3, rng.random((m, n)), 0.0)
    X[empty] = 0.0
    W0 = rng.random((m, 3))
    W0[empty] = 0.0
    kwargs = dict(solver="cd", init={"W": W0, "H": rng.standard_normal((3, n))}, max_iter=4, tol=0, tol_stall=0)
    monkeypatch.setattr(coordinate, "BLOCK_ENTRIES", 300)
    monkeypatch.setenv(_kernels.ENV_VAR, "numba")
    blocks = []
    block = coordinate._minimise_block_compiled

    def recording(kernels, X_, theta, H, cols, coordinates, used):
        blocks.append((X_.shape, cols, used))
        return block(kernels, X_, theta, H, cols, coordinates, used)

    monkeypatch.setattr(coordinate, "_minimise_block_compiled", recording)
    run = nmdcore.decompose(X, 3, **kwargs)
    kept = np.setdiff1d(np.arange(m), empty)
    h_sweeps = [used for shape, _, used in blocks if shape == (m, n)]
    w_sweeps = [cols for shape, cols, _ in blocks if shape == (n, m)]
    # blocks of 300 entries: 7 of the 60 columns of X, then 5 of its 37 rows left
    assert (len(h_sweeps), len(w_sweeps)) == (4 * 9, 4 * 8)
    assert all(np.array_equal(used, kept) for used in h_sweeps)
    assert np.array_equal(np.unique(np.concatenate(w_sweeps)), kept)

    monkeypatch.setattr(coordinate, "_idle_columns", lambda X_, H: np.array([], dtype=np.intp))
    monkeypatch.setattr(coordinate, "_coordinates", lambda W: (
        slice(None), [coordinate._Coordinate(W[:, k]) for k in range(W.shape[1])]))
    everything = nmdcore.decompose(X, 3, **kwargs)
    for name in ("W", "H"):  # equal values (a left-out 0 may keep a sign the full sweep gives it)
        np.testing.assert_array_equal(run.factors[name], everything.factors[name])
    np.testing.assert_array_equal(run.history["relu_error"], everything.history["relu_error"])
    assert not run.factors["W"][empty].any()


def test_stop_inside_a_sweep_keeps_the_partial_point(sparse_data, backend, monkeypatch):
    monkeypatch.setattr(coordinate, "BLOCK_ENTRIES", 100)
    full = nmdcore.decompose(sparse_data, 3, solver="cd", max_iter=1, tol=0, tol_stall=0)
    checks = itertools.count(1)  # set from the 4th check on: record(start), then blocks of the first H-sweep
    event = types.SimpleNamespace(is_set=lambda: next(checks) >= 4)
    res = nmdcore.decompose(sparse_data, 3, solver="cd", max_iter=50, tol=0, tol_stall=0, stop_event=event)
    assert res.stop_reason == "interrupted" and res.n_iter == 1
    start, partial = res.history["relu_error"]
    # stopped inside the first sweep: worse than the whole first iteration, not worse than the start
    assert full.history["relu_error"][1] < partial <= start
    assert res.relu_error == pytest.approx(partial, rel=1e-12)
    assert np.allclose(res.factors["W"] @ res.factors["H"], res.theta)
