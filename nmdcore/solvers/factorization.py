r"""Gradient descent on a factorization U Vᵀ from a small random start (teaching solver).

With ``loss="lra"`` it runs the iteration analysed by Ye and Du (NeurIPS 2021) for

.. math:: \min_{U, V} \tfrac12 \|U V^\top - \Sigma\|_F^2, \qquad \Sigma = X,

simultaneous updates ``R = U Vᵀ − Σ``, ``U ← U − η R V``, ``V ← V − η Rᵀ U`` from
``U0, V0 ~ N(0, σ0²)``: global convergence at a polynomial rate for exactly rank-r Σ.
The ReLU variants use the same update with another residual R,
without a guarantee.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from .._errors import NegativeEntriesError
from .._linalg import relu_error, sq_norm
from .._spec import Hyperparameter, MemoryModel, SolverSpec
from .._starts import balanced_tsvd_factors, start_array

#: Number of leading singular values of U and of V recorded per iteration.
N_SINGULAR_VALUES = 5
_SINGULAR_VALUE_NAMES = tuple(f"sv_{side}_{i}" for side in "UV" for i in range(1, N_SINGULAR_VALUES + 1))

#: Below this min(m, n) the largest singular value of X comes from a dense SVD, above it from Lanczos.
_DENSE_SPECTRAL_NORM = 100


def spectral_norm(X: np.ndarray, rng: np.random.Generator) -> float:
    """Largest singular value σ₁(X), in float64 (Lanczos started from ``rng`` for large X)."""
    if min(X.shape) <= _DENSE_SPECTRAL_NORM:
        return float(scipy.linalg.svdvals(X.astype(np.float64, copy=False), check_finite=False)[0])
    start = rng.standard_normal(min(X.shape))
    top = scipy.sparse.linalg.svds(X.astype(np.float64, copy=False), k=1, v0=start,
                                   return_singular_vectors=False)
    return float(top[0])


def _prepare_gd(problem, init):
    # Named starts are built in run(): the random one depends on init_scale, and the ReLU
    # losses must refuse a negative X before any work is done.
    if isinstance(init, str):
        return {"init": init}
    m, n = problem.shape
    r = problem.rank
    return {"U": start_array(init, "U", (m, r), problem),
            "V": start_array(init, "V", (n, r), problem)}


def _start(problem, start, init_scale, sigma_1):
    if "U" in start:
        return start["U"], start["V"]
    if start["init"] == "tsvd":
        W, H = balanced_tsvd_factors(problem)
        return W, np.ascontiguousarray(H.T)
    m, n = problem.shape
    r = problem.rank
    sigma_0 = init_scale * np.sqrt(sigma_1 / r)
    U = problem.rng.standard_normal((m, r)) * sigma_0
    V = problem.rng.standard_normal((n, r)) * sigma_0
    return U.astype(problem.dtype), V.astype(problem.dtype)


def _residual(problem, theta, loss, R):
    """Write the loss's residual into R; return (objective, relu error) at theta."""
    X = problem.X
    error = relu_error(X, theta, problem.norm_X, R)
    if loss == "lra":        # R = Θ − Σ
        np.subtract(theta, X, out=R)
        objective = np.sqrt(sq_norm(R)) / problem.norm_X
    elif loss == "latent":   # R = Θ − P(Θ), the gradient of ½ dist(Θ, F(X))²
        problem.project(theta, out=R)
        np.subtract(theta, R, out=R)
        objective = np.sqrt(sq_norm(R)) / problem.norm_X
    else:                    # R = (max(0, Θ) − X) ∘ 1[Θ > 0], a subgradient of ½‖X − max(0, Θ)‖²
        np.subtract(theta, X, out=R)
        R[theta <= 0] = 0
        objective = error
    return objective, error


def _dynamics(U, V):
    """Imbalance ‖UᵀU − VᵀV‖_F and the leading singular values of U and V (NaN beyond r)."""
    gram_U = U.T.astype(np.float64) @ U
    gram_V = V.T.astype(np.float64) @ V
    extras = {"imbalance": float(np.linalg.norm(gram_U - gram_V))}
    for side, gram in (("U", gram_U), ("V", gram_V)):
        if np.isfinite(gram).all():
            values = np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[::-1], 0))
        else:  # a diverging run: the monitor stops it on the objective
            values = np.full(gram.shape[0], np.nan)
        for i in range(N_SINGULAR_VALUES):
            extras[f"sv_{side}_{i + 1}"] = values[i] if i < values.size else np.nan
    return extras


def _run_gd(problem, start, params, monitor):
    loss = params["loss"]
    X = problem.X
    if loss != "lra" and np.any(X < 0):
        raise NegativeEntriesError(
            f"X has {int(np.count_nonzero(X < 0))} negative entries; gd with loss={loss!r} needs a "
            "nonnegative matrix (use loss='lra' for real matrices)")
    sigma_1 = spectral_norm(X, problem.rng)
    U, V = _start(problem, start, params["init_scale"], sigma_1)
    step = problem.dtype.type(params["step"] / sigma_1)
    theta = U @ V.T
    R = np.empty_like(X)
    with np.errstate(over="ignore", invalid="ignore"):
        objective, error = _residual(problem, theta, loss, R)
        stop = monitor.record(objective, error, **_dynamics(U, V))
    U_last, V_last = U, V
    while not stop:
        U_last, V_last = U, V
        with np.errstate(over="ignore", invalid="ignore"):
            U = U_last - step * (R @ V_last)
            V = V_last - step * (R.T @ U_last)
            np.matmul(U, V.T, out=theta)
            objective, error = _residual(problem, theta, loss, R)
            stop = monitor.record(objective, error, **_dynamics(U, V))
    if monitor.stop_reason == "diverged":
        return U_last @ V_last.T, {"U": U_last, "V": V_last}
    return theta, {"U": U, "V": V}


SPECS = (
    SolverSpec(
        key="gd",
        label="Gradient descent (U Vᵀ)",
        family="factorization",
        model="LRA; with loss='latent' 3B-RMD (smooth g(UVᵀ)), with loss='relu' LS-RMD",
        paper=('Ye & Du (2021), "Global convergence of gradient descent for asymmetric low-rank matrix '
               'factorization", NeurIPS 2021, arXiv:2106.14289'),
        objective=("‖UVᵀ − X‖_F/‖X‖_F (lra); latent residual ‖UVᵀ − P(UVᵀ)‖_F/‖X‖_F (latent); "
                   "ReLU error (relu)"),
        run=_run_gd,
        prepare_start=_prepare_gd,
        memory=MemoryModel(held=2, transient=1.1),
        pages=("explore", "compare", "dynamics"),
        hyperparameters=(
            Hyperparameter(
                "step", 0.2, low=0.0, high=1.0, low_open=True, symbol="η",
                help="Step size in units of 1/σ₁(X); the theory asks for at most 1/3"),
            Hyperparameter(
                "init_scale", 1e-3, low=0.0, high=10.0, low_open=True, log=True, slider_range=(1e-6, 10.0), symbol="σ₀",
                help="Scale of the random start: entries N(0, σ₀²), σ₀ = init_scale·√(σ₁(X)/r)"),
            Hyperparameter(
                "loss", "lra", kind="choice", choices=("lra", "latent", "relu"),
                help="lra: ½‖UVᵀ − X‖²; latent: ½ dist(UVᵀ, F(X))²; relu: ½‖X − max(0, UVᵀ)‖²"),
        ),
        start_names=("U", "V"),
        required_start=("U", "V"),
        input_kind="real",
        tol=1e-9,
        tol_stall=0.0,
        extras=("imbalance", *_SINGULAR_VALUE_NAMES),
        description=(
            "Plain gradient descent on the factors of Θ = U Vᵀ (simultaneous updates, step "
            "η = step/σ₁(X)). From the small random start ('random') the loss sits on a plateau, "
            "then drops as the singular values of U and V grow one by one; the imbalance "
            "‖UᵀU − VᵀV‖_F stays small. 'tsvd' starts from U_rΣ^½, V_rΣ^½ (a global minimiser "
            "for lra). Any real X for lra; the ReLU losses need X ≥ 0. The stall rule is off "
            "by default: it would mistake the plateau for convergence."),
        summary=("Plain gradient descent on the two factors of Θ, started from tiny random values. Pick it to "
                 "watch the learning dynamics: the loss sits on a plateau, then drops as the singular values "
                 "grow one by one."),
    ),
)
