"""Compiled kernels (nmdcore._kernels): identical to the NumPy passes, backend selection, disk cache."""
import os
import subprocess
import sys
import textwrap
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from nmdcore import _kernels

from conftest import REPO, reference_trace
from test_three_block import run_trace

needs_numba = pytest.mark.skipif(not _kernels.numba_available(), reason="numba is not installed")
DTYPES = [np.float64, np.float32]


def sq64(A):
    return float(np.sum(A.astype(np.float64) ** 2))


def block_data(dtype, rows=9, n=37, seed=0):
    """X with ~80% zeros, Θ with a few NaN/±inf and exact zeros, feasible Z, a Θ_old."""
    rng = np.random.default_rng(seed)
    X = rng.random((rows, n))
    X[rng.random((rows, n)) < 0.8] = 0.0
    T = 2 * rng.standard_normal((rows, n))
    T.flat[rng.choice(T.size, 12, replace=False)] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300,
                                                      np.nan, np.inf, -np.inf, 0.0, 1e-310, -1e-310]
    Z = np.where(X > 0, X, -np.abs(rng.standard_normal((rows, n))))
    T_old = rng.standard_normal((rows, n))
    with np.errstate(over="ignore"):
        return [A.astype(dtype) for A in (X, T, Z, T_old)]


def assert_same_array(a, b):
    assert a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True)


def assert_same_sums(got, expected):
    for g, e in zip(got, expected):
        if np.isfinite(e):
            assert g == pytest.approx(e, rel=1e-12, abs=0)
        else:
            assert np.isnan(g) and np.isnan(e) or g == e


def finite_part(T):
    return np.where(np.isfinite(T), T, 0.5).astype(T.dtype)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("special", [False, True])
def test_bcd_block_equals_the_numpy_pass(dtype, exact, special):
    X, T, Z, _ = block_data(dtype)
    T = T if special else finite_part(T)
    lower = np.where(X > 0, X, dtype(-np.inf))
    with np.errstate(all="ignore"):
        expected_Z = np.clip(T, lower, X)
        expected = (sq64(Z - T) if exact else 0.0, sq64(np.maximum(T, 0) - X), sq64(expected_Z))
        got_Z = Z.copy()
        got = _kernels._load().bcd_block(T, got_Z, X, exact, dtype(0))
    assert_same_array(got_Z, expected_Z)
    assert_same_sums(got, expected)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact, extrapolate, want_z_sq", [(True, True, True), (False, True, True),
                                                           (False, False, False), (True, False, True)])
@pytest.mark.parametrize("special", [False, True])
def test_momentum_block_equals_the_numpy_pass(dtype, exact, extrapolate, want_z_sq, special):
    a = 0.7
    X, T, Z, T_old = block_data(dtype, seed=1)
    T = T if special else finite_part(T)
    lower = np.where(X > 0, X, dtype(-np.inf))
    with np.errstate(all="ignore"):
        res = sq64(Z - T) if exact else 0.0
        rel = sq64(np.maximum(T, 0) - X)
        expected_old = T_old * -a + T * (1.0 + a) if extrapolate else T.copy()
        expected_Z = Z * -a + np.clip(expected_old, lower, X) * (1.0 + a)
        expected = (res, rel, sq64(expected_Z) if want_z_sq else 0.0)
        got_Z, got_old = Z.copy(), T_old.copy()
        got = _kernels._load().momentum_block(T, got_Z, X, got_old, exact, extrapolate, want_z_sq,
                                                      dtype(-a), dtype(1.0 + a), dtype(0))
    assert_same_array(got_old, expected_old)
    assert_same_array(got_Z, expected_Z)
    assert_same_sums(got, expected)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("special", [False, True])
def test_ebcd_block_equals_the_numpy_pass(dtype, special):
    X, T, _, _ = block_data(dtype, seed=2)
    T = T if special else finite_part(T)
    upper = np.where(X > 0, dtype(np.inf), dtype(0))
    with np.errstate(all="ignore"):
        E = X - T
        expected_D = np.minimum(E, upper)
        expected = (sq64(expected_D), sq64(np.minimum(E, X)))
        got_D = np.empty_like(X)
        got = _kernels._load().ebcd_block(T, got_D, X, dtype(0))
    assert_same_array(got_D, expected_D)
    assert_same_sums(got, expected)


@needs_numba
def test_sums_are_accumulated_in_float64_for_float32_blocks():
    X = np.zeros((4, 1000), np.float32)
    T = np.ones_like(X)
    T[:, 0] = 2.0 ** 12  # in float32, 2^24 + 1 rounds back to 2^24: every unit term would be lost
    res, rel, z_sq = _kernels._load().bcd_block(T, np.zeros_like(X), X, True, np.float32(0))
    assert res == rel == 4 * (2.0 ** 24 + 999) and z_sq == 0.0  # exact in float64


@needs_numba
@pytest.mark.parametrize("name", ["sp50x70_BCD_NMD_rand_it300", "sp50x70_eBCD_NMD_rand_it300",
                                  "lr60x40_NMD_3B_tsvd_it300", "sp50x70_NMD_TM_tsvd_it300"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backends_give_the_same_iterates(name, dtype, monkeypatch):
    """The compiled passes write the same Z, Θ_old, D as NumPy; only the sums' rounding differs."""
    d = np.load(reference_trace(name))
    runs = {}
    for backend in ("numba", "numpy"):
        monkeypatch.setenv(_kernels.ENV_VAR, backend)
        runs[backend] = run_trace(d, dtype=dtype)
    assert np.array_equal(runs["numba"].theta, runs["numpy"].theta)
    for key, values in runs["numpy"].history.items():
        if key != "time":
            assert np.allclose(runs["numba"].history[key], values, rtol=1e-12, atol=0), key


def test_backend_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv(_kernels.ENV_VAR, "numpy")
    assert _kernels.backend() == "numpy" and _kernels.fused_kernels() is None
    monkeypatch.setenv(_kernels.ENV_VAR, "fortran")
    with pytest.raises(ValueError, match="NMD_KERNELS"):
        _kernels.backend()
    monkeypatch.delenv(_kernels.ENV_VAR)
    assert _kernels.backend() == ("numba" if _kernels.numba_available() else "numpy")


def test_without_numba_auto_falls_back_silently_and_explicit_numba_raises(monkeypatch):
    monkeypatch.setattr(_kernels, "_NUMBA", False)
    monkeypatch.setenv(_kernels.ENV_VAR, "auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _kernels.backend() == "numpy" and _kernels.fused_kernels() is None
    monkeypatch.setenv(_kernels.ENV_VAR, "numba")
    with pytest.raises(ImportError, match="numba"):
        _kernels.backend()


def test_jit_falls_back_to_no_cache_when_no_cache_directory_is_writable():
    calls = []

    def njit(**options):
        calls.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return lambda fn: fn

    assert _kernels._jit(SimpleNamespace(njit=njit), len) is len
    assert calls == [True, False]


@needs_numba
@pytest.mark.slow
def test_a_second_process_loads_the_kernels_from_the_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        from nmdcore import _kernels
        k = _kernels.fused_kernels()
        A = np.ones((2, 3))
        k.ebcd_block(A, np.empty_like(A), A, 0.0)
        print(sum(k.ebcd_block.stats.cache_hits.values()), sum(k.ebcd_block.stats.cache_misses.values()))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), NMD_KERNELS="numba", PYTHONPATH=str(REPO))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                           cwd=tmp_path).stdout.split() for _ in range(2)]
    assert runs == [["0", "1"], ["1", "0"]]
    assert any(tmp_path.rglob("*.nbi"))


# ---------------------------------------------------------------------------------------------
# tall-skinny helpers of nmdcore._linalg used by the three-block solvers

@pytest.mark.parametrize("dtype", DTYPES)
def test_gram64_and_matmul_rows_match_plain_products(dtype):
    from nmdcore._linalg import _CHUNK_ROWS_MAX, gram64, matmul_rows, row_chunks
    rng = np.random.default_rng(3)
    m, r = 2 * _CHUNK_ROWS_MAX + 17, 5
    assert len(row_chunks(m)) > 2 and row_chunks(m)[-1].stop - row_chunks(m)[-1].start < row_chunks(m)[0].stop
    A = rng.standard_normal((m, r)).astype(dtype)
    B = np.asfortranarray(rng.standard_normal((m, r + 2)).astype(dtype))
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    G, C = gram64(A), gram64(A, B)
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


def test_map_row_chunks_returns_results_in_row_order():
    from nmdcore._linalg import _CHUNK_ROWS_MAX, map_row_chunks
    m = 3 * _CHUNK_ROWS_MAX + 1
    starts = map_row_chunks(lambda rows: (rows.start, rows.stop), m)
    assert starts[0][0] == 0 and starts[-1][1] == m
    assert all(a[1] == b[0] for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooled_products_match_plain_products(dtype):
    from nmdcore._linalg import inner_rows, matmul_rows, matmul_rows_t, row_chunks
    rng = np.random.default_rng(11)
    m, n, r = 9001, 37, 6
    assert len(row_chunks(m)) > 8
    Z = rng.standard_normal((m, n)).astype(dtype)
    W = np.asfortranarray(rng.standard_normal((m, r)).astype(dtype))
    H = rng.standard_normal((r, n)).astype(dtype)
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for got, want in [(matmul_rows(W, H), W @ H), (matmul_rows_t(H, Z), H @ Z.T), (inner_rows(Z, W), Z.T @ W)]:
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    out = np.empty((n, r), dtype)
    assert inner_rows(Z, W, out=out) is out


def test_run_indexed_order_workers_and_errors():
    from nmdcore._linalg import run_indexed
    seen = run_indexed(lambda i, worker: (i, worker), 50, workers=3)
    assert [i for i, _ in seen] == list(range(50))
    assert {w for _, w in seen} <= {0, 1, 2}

    def fail(i, worker):
        if i == 17:
            raise KeyError("chunk 17")
        return i

    with pytest.raises(KeyError, match="chunk 17"):
        run_indexed(fail, 40, workers=2)
    assert run_indexed(lambda i, w: i, 0) == []


def test_serial_blas_from_several_threads_limits_once_and_restores_after_the_last(monkeypatch):
    """BLAS's thread count is process-wide: the first entry (any thread) limits it, nested and
    concurrent entries only count, and the last exit restores it."""
    import threading
    from nmdcore import _linalg

    events = []

    def limit():
        events.append("limit")
        return lambda: events.append("restore")

    monkeypatch.setattr(_linalg, "_blas_limiter", lambda: limit)
    inside, release = threading.Barrier(3, timeout=30), threading.Event()

    def session():
        with _linalg.serial_blas():
            inside.wait()
            release.wait(timeout=30)

    workers = [threading.Thread(target=session, daemon=True) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        inside.wait()
        with _linalg.serial_blas():  # a nested entry and exit while two threads are inside
            pass
        during = list(events)
    finally:
        release.set()
        for w in workers:
            w.join(timeout=30)
    assert during == ["limit"]
    assert events == ["limit", "restore"]
    with _linalg.serial_blas():
        pass
    assert events[2:] == ["limit", "restore"]


def test_serial_blas_takes_effect_in_a_new_thread_after_the_row_pool_ran():
    """The app runs solvers in its script threads: serial_blas must limit BLAS from there too."""
    import threading
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from nmdcore._linalg import inner_rows, serial_blas

    A = np.ones((3000, 8))
    inner_rows(A, A)  # the row pool has run BLAS on one thread
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    seen = []

    def session():
        with serial_blas():
            seen.append([i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"])

    thread = threading.Thread(target=session, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert seen and all(n == 1 for n in seen[0])
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


@pytest.mark.parametrize("dtype", DTYPES)
def test_gram64_and_cholqr2_with_products_in_the_data_dtype(dtype):
    from nmdcore._linalg import cholqr2, gram64
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


def test_run_indexed_workers_follow_the_callers_errstate():
    from nmdcore._linalg import run_indexed

    def overflow(i, worker):
        return np.float64(1e300) * np.float64(1e300)

    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            run_indexed(overflow, 8, workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore"):
            assert all(np.isinf(v) for v in run_indexed(overflow, 8, workers=2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_relu_error_equals_the_numpy_one(dtype, monkeypatch):
    from nmdcore import _linalg
    rng = np.random.default_rng(4)
    X = np.maximum(0, rng.standard_normal((70, 90))).astype(dtype)
    theta = rng.standard_normal((70, 90)).astype(dtype)
    norm_X = float(np.linalg.norm(X.astype(np.float64)))
    expected = _linalg.relu_error(X, theta, norm_X)
    for backend in ("numba", "numpy"):
        if backend == "numba" and not _kernels.numba_available():
            continue
        monkeypatch.setenv(_kernels.ENV_VAR, backend)
        assert _kernels.relu_error(X, theta, norm_X) == pytest.approx(expected, rel=1e-12)
        # a view that is not C-contiguous takes the NumPy path
        assert _kernels.relu_error(X.T, theta.T, norm_X) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scan_entries_counts_as_numpy(dtype, monkeypatch):
    A = np.array([[0.0, -0.0, 1.5, -2.0], [np.nan, np.inf, -np.inf, 3.0]], dtype)
    for backend in ("numba", "numpy"):
        if backend == "numba" and not _kernels.numba_available():
            continue
        monkeypatch.setenv(_kernels.ENV_VAR, backend)
        assert _kernels.scan_entries(A) == (3, 2, True)
        assert _kernels.scan_entries(np.zeros((3, 2), dtype)) == (0, 0, False)
        assert _kernels.scan_entries(-np.zeros((3, 2), dtype)) == (0, 0, False)
