"""Three-block solvers (bcd, ebcd, nmd_3b, nmd_tm): reference traces and properties."""
import numpy as np
import pytest

import nmdcore
from nmdcore._monitor import DIVERGENCE_LIMIT
from nmdcore import HyperparameterError, InitError, _kernels
from nmdcore._linalg import SingularGramWarning
from nmdcore._parallel import RowBlockRunner
from nmdcore.solvers import three_block

from tests.helpers import THREE_BLOCK_REFERENCE_NAME, reference_trace, reference_traces_among, run_trace

THREE_BLOCK = ("bcd", "ebcd", "nmd_3b", "nmd_tm")
TRACES = reference_traces_among(f"{case}_{solver}_{init}_it{maxit}"
                                for case in ("lr60x40", "sp50x70", "sym40")
                                for solver in THREE_BLOCK_REFERENCE_NAME
                                for init in ("rand", "tsvd")
                                for maxit in (50, 300))


@pytest.fixture(autouse=True, params=["numpy", "numba"])
def kernel_backend(request, monkeypatch):
    """Every test of this module runs on both backends of the fused passes (nmdcore._kernels)."""
    if request.param == "numba" and not _kernels.numba_available():
        pytest.skip("numba is not installed")
    monkeypatch.setenv(_kernels.ENV_VAR, request.param)
    return request.param


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    return np.maximum(0, rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40)))


@pytest.mark.parametrize("name", TRACES)
def test_reference_trace(name):
    d = np.load(reference_trace(name))
    res = run_trace(d)
    err = d["err"]
    trust = int(d["trust_len"])
    if res.stop_reason == "diverged":
        # NMD-TM from a random start: the reference blows up as well (README, "chaotic runs"), and
        # the run ends once the ReLU error passes the divergence limit, after the trusted window.
        assert err.max() > DIVERGENCE_LIMIT and len(res.history["objective"]) > trust
    else:
        assert res.history["objective"].shape == err.shape
    if trust < len(err):
        # Chaotic run (NMD-TM; README "chaotic runs"). Octave itself leaves its own trace after
        # probe_len entries when the start is perturbed by 1e-13, and a literal NumPy transcription
        # of the reference code misses trust_len on two of these runs, so entries past
        # min(trust_len, probe_len) agree only by rounding luck; compare the stable prefix.
        trust = min(trust, int(d["probe_len"]))
    assert np.allclose(res.history["objective"][:trust], err[:trust], rtol=1e-8, atol=1e-12)
    if int(d["trust_len"]) == len(err):
        gap = np.linalg.norm(res.theta - d["Theta"]) / np.linalg.norm(d["Theta"])
        assert gap <= max(1e-10, 100 * float(d["theta_rel_np"]))
    relu = np.linalg.norm(d["X"] - np.maximum(0, res.theta)) / np.linalg.norm(d["X"])
    assert res.relu_error == pytest.approx(relu, rel=1e-12)


@pytest.mark.parametrize("name", reference_traces_among(["lr60x40_NMD_3B_rand_it50", "sp50x70_BCD_NMD_tsvd_it50",
                                                         "sym40_eBCD_NMD_rand_it300", "sp50x70_NMD_TM_tsvd_it50"]))
def test_reference_trace_with_many_row_blocks_on_two_threads(name, monkeypatch):
    """The fused passes split the rows into cache-sized blocks; force 7-row blocks on 2 workers."""
    d = np.load(reference_trace(name))
    n = d["X"].shape[1]
    def seven_row_blocks(*args, **kwargs):
        return RowBlockRunner(*args, **{**kwargs, "block_bytes": 7 * n * 8, "workers": 2})

    monkeypatch.setattr(three_block, "RowBlockRunner", seven_row_blocks)
    res = run_trace(d)
    assert np.allclose(res.history["objective"], d["err"], rtol=1e-8, atol=1e-12)
    gap = np.linalg.norm(res.theta - d["Theta"]) / np.linalg.norm(d["Theta"])
    assert gap <= max(1e-10, 100 * float(d["theta_rel_np"]))


@pytest.mark.parametrize("solver", THREE_BLOCK)
def test_history_relu_error_is_that_of_theta(solver):
    d = np.load(reference_trace("sp50x70_BCD_NMD_rand_it50"))
    res = nmdcore.decompose(d["X"], int(d["r"]), solver, init={"W": d["W0"], "H": d["H0"]},
                            max_iter=7, tol=0, tol_stall=0)
    assert res.history["relu_error"][-1] == pytest.approx(res.relu_error, rel=1e-12)
    assert res.factors["W"].shape == (50, 6) and res.factors["H"].shape == (6, 70)
    assert np.allclose(res.factors["W"] @ res.factors["H"], res.theta, rtol=0, atol=1e-12 * np.abs(res.theta).max())
    if solver != "nmd_tm":  # latent residual of P(Θ) bounds the ReLU error
        assert res.history["relu_error"][0] <= res.history["objective"][0] + 1e-15


def test_bcd_residual_is_non_increasing():
    d = np.load(reference_trace("sp50x70_BCD_NMD_rand_it300"))
    obj = run_trace(d).history["objective"]
    assert np.all(np.diff(obj) <= 1e-12 * obj[:-1])
    assert obj[-1] < 0.7 * obj[0]


def test_ebcd_residual_is_non_increasing_and_flat_on_rejections():
    d = np.load(reference_trace("sp50x70_eBCD_NMD_rand_it300"))
    h = run_trace(d).history
    obj, accepted = h["objective"], h["accepted"].astype(bool)
    steps = np.diff(obj)
    assert np.all(steps[accepted[1:]] < 0)  # an accepted step strictly lowers the residual
    assert np.all(steps[~accepted[1:]] == 0)  # a rejected one leaves the iterate unchanged
    assert (~accepted).any() and (h["alpha"] > 1).any()  # both branches were exercised
    assert np.all(h["alpha"][1:][~accepted[1:]] >= 1)


def test_ebcd_without_extrapolation_is_bcd():
    d = np.load(reference_trace("sp50x70_BCD_NMD_rand_it50"))
    X, W0, H0 = d["X"], d["W0"], d["H0"]
    Z0 = np.where(X > 0, X, np.minimum(0, W0 @ H0))
    kw = dict(init={"W": W0, "H": H0, "Z": Z0}, max_iter=40, tol=0, tol_stall=0)
    bcd = nmdcore.decompose(X, 6, "bcd", **kw)
    ebcd = nmdcore.decompose(X, 6, "ebcd", alpha_max=1.0, **kw)
    assert np.all(ebcd.history["alpha"] == 1) and np.all(ebcd.history["accepted"] == 1)
    assert np.linalg.norm(ebcd.theta - bcd.theta) <= 1e-12 * np.linalg.norm(bcd.theta)


@pytest.mark.parametrize("solver", ["ebcd", "nmd_3b"])
def test_planted_relu_low_rank_matrix_is_recovered(solver, planted):
    res = nmdcore.decompose(planted, 3, solver, init="random", max_iter=500, random_state=2)
    assert res.relu_error < 1e-6
    assert np.linalg.matrix_rank(res.theta, tol=1e-8 * np.abs(res.theta).max()) == 3


def test_ebcd_factors_hold_no_subnormal_numbers():
    """On digits whose border pixels are zero in every image, eBCD's W decays there; its entries
    must become 0 rather than subnormal numbers, on which every product slows down."""
    from nmdcore import datasets
    X = np.ascontiguousarray(datasets.load("mnist5k").X[:, :1000], dtype=np.float32)
    res = nmdcore.decompose(X, 20, solver="ebcd", max_iter=150, tol=0, tol_stall=0, random_state=0)
    tiny = np.finfo(np.float32).tiny
    for name, A in res.factors.items():
        assert not np.any((A != 0) & (np.abs(A) < tiny)), name
    assert np.count_nonzero(res.factors["W"][X.max(axis=1) == 0]) < res.factors["W"][X.max(axis=1) == 0].size


def test_ebcd_keeps_working_when_its_factors_lose_rank():
    """X of rank 2 at r = 5: from the first step on H = W_eᵀ Z has rank 2, so the basis uses
    the pseudo-inverse of HHᵀ (with a warning), and X is still recovered with an orthonormal W."""
    rng = np.random.default_rng(5)
    X = rng.random((60, 2)) @ rng.random((2, 40))  # positive: every entry is observed
    with pytest.warns(SingularGramWarning):
        res = nmdcore.decompose(X, 5, "ebcd", init="random", random_state=1, max_iter=20, tol=0, tol_stall=0)
    assert res.relu_error < 1e-12
    W = res.factors["W"]
    assert np.abs(W.T @ W - np.eye(5)).max() < 1e-12


def test_nmd_tm_from_random_diverges_cleanly():
    d = np.load(reference_trace("sp50x70_NMD_TM_rand_it300"))
    # float64 follows the reference's blow-up (error ~1e16 after 300 iterations) past the trusted
    # window, until the ReLU error passes the divergence limit ...
    grown = run_trace(d)
    assert grown.stop_reason == "diverged" and grown.n_iter > int(d["trust_len"])
    assert grown.history["relu_error"].max() <= DIVERGENCE_LIMIT and np.isfinite(grown.theta).all()
    assert grown.relu_error == pytest.approx(grown.history["relu_error"][-1], rel=1e-6)
    # ... and in float32 the same run overflows within a few hundred iterations
    res = run_trace(d, max_iter=2000, dtype=np.float32)
    assert res.stop_reason == "diverged" and res.n_iter < 2000
    assert np.isfinite(res.theta).all() and res.theta.dtype == np.float32
    assert all(np.isfinite(v).all() for v in res.history.values())
    assert np.array_equal(res.factors["W"] @ res.factors["H"], res.theta)


def test_nmd_tm_ignores_an_explicit_z(planted):
    d = np.load(reference_trace("sp50x70_NMD_TM_tsvd_it50"))
    Z = np.where(d["X"] > 0, d["X"], -1.0)
    a = run_trace(d, max_iter=10)
    b = run_trace(d, max_iter=10, init={"W": d["W0"], "H": d["H0"], "Z": Z})
    assert np.array_equal(a.history["objective"], b.history["objective"])


@pytest.mark.parametrize("solver", THREE_BLOCK)
@pytest.mark.parametrize("name, shape", [("W", (60, 2)), ("H", (4, 40)), ("Z", (40, 60))])
def test_wrong_start_shape_raises(solver, name, shape, planted):
    init = {"W": np.ones((60, 3)), "H": np.ones((3, 40)), name: np.ones(shape)}
    with pytest.raises(InitError, match=name):
        nmdcore.decompose(planted, 3, solver, init=init)


@pytest.mark.parametrize("solver", ["bcd", "ebcd", "nmd_3b"])
def test_infeasible_z_start_raises(solver, planted):
    init = {"W": np.ones((60, 3)), "H": np.ones((3, 40)), "Z": np.ones((60, 40))}
    with pytest.raises(InitError, match="feasible"):
        nmdcore.decompose(planted, 3, solver, init=init)


def test_missing_factor_raises(planted):
    with pytest.raises(InitError, match="H"):
        nmdcore.decompose(planted, 3, "bcd", init={"W": np.ones((60, 3))})


@pytest.mark.parametrize("solver, params", [
    ("ebcd", {"alpha": 0.5}), ("ebcd", {"delta_bar": 1.5}), ("ebcd", {"mu": -1.0}),
    ("nmd_3b", {"beta": 1.2}), ("nmd_tm", {"lam": -1e-3}), ("nmd_tm", {"beta": 0.0}),
    ("bcd", {"beta": 0.5}),
])
def test_bad_hyperparameters_raise(solver, params, planted):
    with pytest.raises(HyperparameterError):
        nmdcore.decompose(planted, 3, solver, **params)


def test_singular_gram_uses_minimum_norm_solution_and_warns(planted):
    rng = np.random.default_rng(3)
    W0, H0 = rng.standard_normal((60, 3)), rng.standard_normal((3, 40))
    H0[2] = H0[1]  # H0 H0ᵀ is singular
    with pytest.warns(SingularGramWarning):
        res = nmdcore.decompose(planted, 3, "bcd", init={"W": W0, "H": H0}, max_iter=1, tol=0, tol_stall=0)
    Z1 = np.where(planted > 0, planted, np.minimum(0, W0 @ H0))
    W1 = Z1 @ np.linalg.pinv(H0)  # minimum-norm least squares, then the same for H
    theta = W1 @ (np.linalg.pinv(W1) @ Z1)
    assert np.linalg.norm(res.theta - theta) <= 1e-10 * np.linalg.norm(theta)
    with pytest.warns(SingularGramWarning):
        res = nmdcore.decompose(planted, 3, "nmd_3b", init={"W": W0, "H": H0}, max_iter=5, tol=0, tol_stall=0)
    assert np.isfinite(res.theta).all() and np.isfinite(res.history["objective"]).all()


def test_specs_describe_the_contract():
    for key in THREE_BLOCK:
        spec = nmdcore.SOLVERS[key]
        assert spec.family == "three_block" and spec.required_start == ("W", "H")
        assert "Z" in spec.start_names
    assert nmdcore.SOLVERS["ebcd"].extras == ("alpha", "accepted")
    assert nmdcore.SOLVERS["nmd_tm"].defaults() == {"lam": 1e-4, "alpha": 0.95, "beta": 0.95}
    assert (nmdcore.SOLVERS["nmd_tm"].tol, nmdcore.SOLVERS["nmd_tm"].tol_stall) == (1e-4, 1e-5)


@pytest.mark.parametrize("solver", THREE_BLOCK)
def test_memory_peak_in_m_by_n_arrays(solver, kernel_backend, monkeypatch):
    """During the iterations: the solver's m×n states (ebcd: D and D_e; nmd_3b, nmd_tm: Z and Θ_old;
    bcd: Z), plus ``problem.lower`` or U on the NumPy backend; X is read in place, not copied, and Θ
    is written into a state's memory. On two workers the row-block scratch is ≤ 4 MiB."""
    import tracemalloc
    from nmdcore import _parallel
    monkeypatch.setattr(_parallel, "available_cpus", lambda: 2)
    m, n, r = 8000, 400, 5
    rng = np.random.default_rng(0)
    X = np.maximum(0, rng.standard_normal((m, r)) @ rng.standard_normal((r, n)))
    init = {"W": rng.standard_normal((m, r)), "H": rng.standard_normal((r, n))}
    nmdcore.decompose(X, r, solver, init=init, max_iter=1)  # compile outside the measurement
    tracemalloc.start()
    try:
        nmdcore.decompose(X, r, solver, init=init, max_iter=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arrays = 2 if kernel_backend == "numba" else 3
    assert peak <= (arrays + 0.1) * m * n * 8 + 4 * 2**20
