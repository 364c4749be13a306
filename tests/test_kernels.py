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

from tests.helpers import REPO, reference_trace, run_trace

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
@pytest.mark.parametrize("fill", [False, True])
def test_bcd_block_equals_the_numpy_pass(dtype, exact, special, fill):
    """``fill``: Z is first set to X (a solver's first pass), as if Z were X."""
    X, T, Z, _ = block_data(dtype)
    Z = X.copy() if fill else Z
    T = T if special else finite_part(T)
    lower = np.where(X > 0, X, dtype(-np.inf))
    with np.errstate(all="ignore"):
        expected_Z = np.clip(T, lower, X)
        expected = (sq64(Z - T) if exact else 0.0, sq64(np.maximum(T, 0) - X), sq64(expected_Z))
        got_Z = np.full_like(Z, np.nan) if fill else Z.copy()
        got = _kernels._load().bcd_block(T, got_Z, X, exact, fill, dtype(0))
    assert_same_array(got_Z, expected_Z)
    assert_same_sums(got, expected)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exact, extrapolate, want_z_sq", [(True, True, True), (False, True, True),
                                                           (False, False, False), (True, False, True)])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("fill", [False, True])
def test_momentum_block_equals_the_numpy_pass(dtype, exact, extrapolate, want_z_sq, special, fill):
    a = 0.7
    X, T, Z, T_old = block_data(dtype, seed=1)
    Z = X.copy() if fill else Z
    T = T if special else finite_part(T)
    lower = np.where(X > 0, X, dtype(-np.inf))
    with np.errstate(all="ignore"):
        res = sq64(Z - T) if exact else 0.0
        rel = sq64(np.maximum(T, 0) - X)
        expected_old = T_old * -a + T * (1.0 + a) if extrapolate else T.copy()
        expected_Z = Z * -a + np.clip(expected_old, lower, X) * (1.0 + a)
        expected = (res, rel, sq64(expected_Z) if want_z_sq else 0.0)
        got_Z, got_old = (np.full_like(Z, np.nan) if fill else Z.copy()), T_old.copy()
        got = _kernels._load().momentum_block(T, got_Z, X, got_old, exact, extrapolate, want_z_sq, fill,
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
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("z_is_x", [False, True])
def test_difference_block_equals_the_numpy_pass(dtype, special, z_is_x):
    X, T, Z, _ = block_data(dtype, seed=4)
    T = T if special else finite_part(T)
    Z = X if z_is_x else Z
    with np.errstate(all="ignore"):
        expected_D = Z - T
        expected = (sq64(expected_D), sq64(np.maximum(T, 0) - X))
        got_D = np.empty_like(X)
        got = _kernels._load().difference_block(T, Z, X, got_D, dtype(0))
    assert_same_array(got_D, expected_D)
    assert_same_sums(got, expected)


@needs_numba
def test_sums_are_accumulated_in_float64_for_float32_blocks():
    X = np.zeros((4, 1000), np.float32)
    T = np.ones_like(X)
    T[:, 0] = 2.0 ** 12  # in float32, 2^24 + 1 rounds back to 2^24: every unit term would be lost
    res, rel, z_sq = _kernels._load().bcd_block(T, np.zeros_like(X), X, True, False, np.float32(0))
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
        assert _kernels.scan_entries(A)[:4] == (3, 2, 6, 3.0)  # the largest finite magnitude
        assert _kernels.scan_entries(np.zeros((3, 2), dtype)) == (0, 0, 0, 0.0, 0.0)
        assert _kernels.scan_entries(-np.zeros((3, 2), dtype)) == (0, 0, 0, 0.0, 0.0)
        big = np.random.default_rng(0).standard_normal((9000, 7)).astype(dtype)  # several row chunks
        big[8500, 3] = -7.25
        scan = _kernels.scan_entries(big)
        assert scan[:4] == (0, int(np.count_nonzero(big < 0)), big.size, 7.25)
        assert scan.sq_norm == pytest.approx(float(np.sum(big.astype(np.float64) ** 2)), rel=1e-13)
