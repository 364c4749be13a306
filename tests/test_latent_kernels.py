"""The latent solvers' fused passes: compiled kernels against the NumPy chains and plain formulas."""
import numpy as np
import pytest
import scipy.special

import nmdcore
from nmdcore import _kernels
from nmdcore._problem import Problem
from nmdcore.solvers import latent

needs_numba = pytest.mark.skipif(not _kernels.numba_available(), reason="numba is not installed")
DTYPES = (np.float64, np.float32)


@pytest.fixture(scope="module")
def relu_data():
    """1200×600 with ~70 % zeros: several row chunks and several blocks per chunk in the passes."""
    rng = np.random.default_rng(4)
    theta = rng.standard_normal((1200, 6)) @ rng.standard_normal((6, 600))
    return np.maximum(0, theta + 0.3 * rng.standard_normal(theta.shape) - 0.6)


def _em_kernel():
    return _kernels._load().em_block


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [False, True])
def test_e_step_kernel_writes_what_the_numpy_chain_writes(relu_data, dtype, momentum):
    X = relu_data[:300].astype(dtype)
    rng = np.random.default_rng(1)
    T = (rng.standard_normal(X.shape) * 3).astype(dtype)
    T[0, :8] = [40, -40, 1e4, -1e4, 0, -0.0, 1e-30, 300]  # far tails of the truncated Gaussian
    prev, prev2 = (rng.standard_normal(X.shape).astype(dtype) for _ in range(2))
    problem = Problem(X, 4, rng)
    alpha = 0.6 if momentum else None
    outs, sums = [], []
    for kernel in (None, _em_kernel()):
        step = latent._EStep(problem, kernel, alpha)
        step.set_sigma(1.7)
        out = np.full_like(X, np.nan)
        scratch = [np.empty_like(X) for _ in range(3)] + [np.empty(X.shape)]
        sums.append(step(slice(0, X.shape[0]), T, scratch, out, prev, prev2))
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    assert np.array_equal(outs[0][X > 0], X[X > 0])
    assert np.allclose(sums[0], sums[1], rtol=1e-12 if dtype == np.float64 else 1e-6)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [False, True])
def test_e_step_kernel_in_place_as_the_solvers_call_it(relu_data, dtype, momentum):
    """EM writes the new Z over Z_prev and A-EM over Z_prev2: the kernel reads those rows before
    it writes them, so in place it writes what the NumPy chain writes into a fresh array."""
    X = relu_data[:300].astype(dtype)
    rng = np.random.default_rng(2)
    T = (rng.standard_normal(X.shape) * 3).astype(dtype)
    prev, prev2 = (np.where(X > 0, X, -np.abs(rng.standard_normal(X.shape))).astype(dtype) for _ in range(2))
    problem = Problem(X, 4, rng)
    alpha = 0.6 if momentum else None
    scratch = [np.empty_like(X) for _ in range(3)] + [np.empty(X.shape)]
    rows = slice(0, X.shape[0])
    expected_step = latent._EStep(problem, None, alpha)
    expected_step.set_sigma(0.8)
    expected = np.empty_like(X)
    expected_sums = expected_step(rows, T, scratch, expected, prev, prev2)
    step = latent._EStep(problem, _em_kernel(), alpha)
    step.set_sigma(0.8)
    if momentum:
        out = prev2.copy()
        sums = step(rows, T, scratch, out, prev, out)
    else:
        out = prev.copy()
        sums = step(rows, T, scratch, out, out, out)
    assert np.array_equal(out, expected)
    assert np.allclose(sums, expected_sums, rtol=1e-12 if dtype == np.float64 else 1e-6)


def _run_both(X, solver, **kwargs):
    runs = {}
    for backend in ("numpy", "numba"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(_kernels.ENV_VAR, backend)
            runs[backend] = nmdcore.decompose(X, 6, solver, init="tsvd", max_iter=12, tol=0, tol_stall=0,
                                              random_state=0, **kwargs)
    return runs["numpy"], runs["numba"]


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tsvd", ["exact", "randomized"])
@pytest.mark.parametrize("solver", ["naive", "a_nmd"])
def test_projection_solvers_identical_on_both_backends(relu_data, solver, tsvd, dtype):
    """Naive-NMD and A-NMD: the iterates do not depend on the sums, so Θ is bit for bit the same
    (A-NMD's acceptance tests compare sums, which agree here far beyond any near-tie)."""
    ref, fast = _run_both(relu_data.astype(dtype), solver, tsvd=tsvd)
    assert np.array_equal(ref.theta, fast.theta)
    if solver == "a_nmd":
        assert np.array_equal(ref.history["beta"], fast.history["beta"])
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.allclose(ref.history["objective"], fast.history["objective"], rtol=tol)
    assert np.allclose(ref.history["relu_error"], fast.history["relu_error"], rtol=tol)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["em", "a_em"])
def test_em_solvers_agree_on_both_backends(relu_data, solver, dtype):
    """EM's σ² comes from sums, whose rounding differs between the backends: Θ agrees to rounding."""
    ref, fast = _run_both(relu_data.astype(dtype), solver, tsvd="randomized")
    tol = 1e-10 if dtype == np.float64 else 2e-4
    assert np.allclose(ref.history["sigma2"], fast.history["sigma2"], rtol=tol)
    assert np.allclose(ref.history["objective"], fast.history["objective"], rtol=tol)
    assert np.linalg.norm(ref.theta - fast.theta) <= tol * np.linalg.norm(ref.theta)


@pytest.mark.parametrize("solver", ["naive", "a_nmd", "em", "a_em"])
def test_fused_pass_matches_plain_numpy_iteration(relu_data, solver):
    """One iteration from a start, against the solvers' formulas (docs/solvers.md) written in plain NumPy."""
    X = relu_data
    r = 6
    theta0 = nmdcore.decompose(X, r, "tsvd").theta
    res = nmdcore.decompose(X, r, solver, init={"theta": theta0}, max_iter=1, tol=0, tol_stall=0)
    nX = np.linalg.norm(X)
    if solver in ("naive", "a_nmd"):
        Z = np.where(X > 0, X, np.minimum(theta0, 0))
        if solver == "a_nmd":
            Z = Z + 0.7 * (Z - X)
    else:
        sigma2 = X.var()
        sigma = np.sqrt(sigma2)
        g = theta0 / sigma
        rho = np.sqrt(2 / np.pi) / scipy.special.erfcx(g / np.sqrt(2))
        Z = np.where(X > 0, X, theta0 - sigma * rho)
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    theta1 = (U[:, :r] * s[:r]) @ Vt[:r]
    latent_gap = np.linalg.norm(Z - theta1) / nX
    relu = np.linalg.norm(X - np.maximum(0, theta1)) / nX
    expected = relu if solver == "a_em" else latent_gap
    assert res.history["objective"][1] == pytest.approx(expected, rel=1e-10)
    assert res.history["relu_error"][1] == pytest.approx(relu, rel=1e-10)
    if solver in ("em", "a_em"):
        variance = np.sum((sigma2 * (1 - rho * (rho - g)))[X == 0])
        assert res.history["sigma2"][1] == pytest.approx((variance + (latent_gap * nX) ** 2) / X.size, rel=1e-10)
    if solver != "a_nmd":  # A-NMD returns the extrapolated Θ after max_iter = 1 only through W H too
        assert np.linalg.norm(res.theta - theta1) <= 1e-10 * np.linalg.norm(theta1)


@pytest.mark.parametrize("tsvd", ["exact", "randomized"])
@pytest.mark.parametrize("solver", ["em", "a_em"])
def test_em_residual_from_small_products_matches_the_entrywise_one(relu_data, solver, tsvd, monkeypatch):
    """σ² needs ‖Z − Θ‖ before the E-step pass: the r-sized formula must give what the entrywise
    pass (its fallback, forced here) gives."""
    X = relu_data[:500]
    run = lambda: nmdcore.decompose(X, 6, solver, init="tsvd", max_iter=15, tol=0, tol_stall=0,
                                    random_state=0, tsvd=tsvd)
    formula = run()
    monkeypatch.setattr(latent, "lowrank_residual_sq", lambda *args: None)
    entrywise = run()
    for name in ("objective", "relu_error", "sigma2"):
        assert np.allclose(formula.history[name], entrywise.history[name], rtol=1e-10, atol=0)


@pytest.mark.parametrize("tsvd", ["exact", "randomized"])
@pytest.mark.parametrize("solver", ["naive", "a_nmd", "em", "a_em"])
def test_overflow_in_the_row_pool_ends_as_diverged(relu_data, solver, tsvd):
    """Overflow inside work done on the row pool's threads (np.errstate is per thread) must end
    the run as "diverged", not raise a RuntimeWarning (an error under this suite's settings) or,
    on the randomized path, a LinAlgError from the SVD of a NaN block."""
    theta0 = np.full(relu_data.shape, -1e160)   # the Gram matrices of the first Z overflow
    res = nmdcore.decompose(relu_data, 6, solver, init={"theta": theta0}, max_iter=5, tsvd=tsvd)
    assert res.stop_reason == "diverged" and res.n_iter == 0
    assert np.array_equal(res.theta, theta0)


def test_e_step_kernel_cache_is_keyed_to_the_erfcx_sources(tmp_path):
    """numba's disk cache only watches _kernels.py; a change in _erfcx must still recompile the E-step."""
    from types import SimpleNamespace

    from nmdcore import _erfcx, _erfcx_table
    source = tmp_path / "erfcx_like.py"
    module = SimpleNamespace(__file__=str(source))
    source.write_text("POLY = [1.0]\n")
    before = _kernels._keyed_to(_kernels._em_block, module)
    source.write_text("POLY = [2.0]\n")
    after = _kernels._keyed_to(_kernels._em_block, module)
    assert before.__qualname__ != after.__qualname__
    assert before.__code__ is after.__code__ is _kernels._em_block.__code__
    if _kernels.numba_available():
        compiled = _kernels._load().em_block.py_func
        assert compiled.__qualname__ == _kernels._keyed_to(_kernels._em_block, _erfcx, _erfcx_table).__qualname__
