r"""Latent-model solvers: Naive-NMD, A-NMD, EM-NMD and A-EM (ALGORITHMS.md §5–7).

All four alternate between a latent matrix Z with max(0, Z) = X (or its
Gaussian posterior mean) and the rank-r truncation Θ = T_r(Z):

.. math::

    \min_{Z \in F(X),\ \operatorname{rank} Θ \le r} \|Z - Θ\|_F^2,
    \qquad F(X) = \{Z : \max(0, Z) = X\}.

They follow the reference MATLAB codes step by step (the golden traces in
``shared/reference`` check it). Every solver takes ``tsvd``: ``"exact"`` (the
Gram eigendecomposition of the reference codes, :func:`nmdcore._linalg.tsvd_gram`)
or ``"randomized"`` (warm-started randomized subspace iteration,
:func:`nmdcore._linalg.randomized_tsvd`, seeded by ``random_state``), the fast
option for large matrices. Returned factors are ``{"W", "H"}`` of the last
truncation, ``W`` with orthonormal columns and ``H = Σ_r V_rᵀ``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfcx

from .._errors import HyperparameterError
from .._linalg import axpby_inplace, randomized_tsvd, relu_error, sq_norm, tsvd_gram
from .._spec import Hyperparameter, SolverSpec
from .._starts import factor_start, start_array

_TSVD = Hyperparameter(
    "tsvd", "exact", kind="choice", choices=("exact", "randomized"),
    help="Rank-r truncation per iteration: exact (Gram eigendecomposition, reproduces the "
         "reference codes) or randomized (warm-started subspace iteration, for large data)")

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_INV_SQRT_2 = float(1.0 / np.sqrt(2.0))


def _prepare_start(problem, init) -> dict:
    """``{"theta": Θ0, "Z": Z0 or None}``; None stands for Z0 = X (no copy)."""
    if isinstance(init, str):
        W0, H0 = factor_start(problem, init)
        return {"theta": W0 @ H0, "Z": None}
    theta = start_array(init, "theta", problem.shape, problem)
    Z = start_array(init, "Z", problem.shape, problem) if "Z" in init else None
    return {"theta": theta, "Z": Z}


class _Truncation:
    """Θ ← T_r(Z) with the chosen method; remembers the factors (and subspace) of the last call."""

    def __init__(self, problem, method: str):
        self.rank = problem.rank
        self.randomized = method == "randomized"
        self.rng = problem.rng
        self.basis = None
        self.W = self.H = None

    def __call__(self, Z: np.ndarray, theta: np.ndarray) -> bool:
        """Write T_r(Z) into ``theta``; return False, leaving ``theta`` as it was, if Z is not finite."""
        try:
            if self.randomized:
                if self.basis is None:  # cold start: the default number of power steps
                    W, H, self.basis = randomized_tsvd(Z, self.rank, random_state=self.rng)
                else:                   # warm start from the previous subspace: one step
                    W, H, self.basis = randomized_tsvd(Z, self.rank, basis=self.basis, n_power_iter=1)
            else:
                W, H = tsvd_gram(Z, self.rank)
        except FloatingPointError:
            return False
        np.matmul(W, H, out=theta)
        self.W, self.H = W, H
        return True

    def factors(self) -> dict:
        return {} if self.W is None else {"W": self.W, "H": self.H}


def _distance(A: np.ndarray, B: np.ndarray, work: np.ndarray) -> float:
    """``‖A − B‖_F`` through the buffer ``work`` (float64 accumulation)."""
    np.subtract(A, B, out=work)
    return float(np.sqrt(sq_norm(work)))


def _relu(problem, theta, work) -> float:
    return relu_error(problem.X, theta, problem.norm_X, work)


def _initial_variance(X: np.ndarray) -> float:
    """Population variance of all m·n entries of X (EM-NMD's σ² start), in float64."""
    size = X.size
    mean = float(np.sum(X, dtype=np.float64)) / size
    return sq_norm(X) / size - mean * mean


class _EStep:
    """Posterior mean and variance of N(Θ, σ²) truncated to (−∞, 0] on the zeros of X (§7)."""

    def __init__(self, problem, work: np.ndarray):
        self.index = problem.zero_index
        count = self.index.size
        # γ lives in the first entries of the m×n work buffer, ρ in its own vector.
        self.gamma = work.reshape(-1)[:count]
        self.rho = np.empty(count, dtype=problem.dtype)

    def __call__(self, theta: np.ndarray, sigma2: float, Z: np.ndarray) -> float:
        """Write the posterior means into Z on the zeros of X; return Σ of their variances."""
        gamma, rho = self.gamma, self.rho
        sigma = np.sqrt(sigma2)
        np.take(theta.reshape(-1), self.index, out=gamma)
        gamma /= sigma                                    # γ = Θ/σ
        np.multiply(gamma, _INV_SQRT_2, out=rho)
        erfcx(rho, out=rho)
        np.divide(_SQRT_2_OVER_PI, rho, out=rho)          # ρ = φ(γ)/Φ(−γ)
        np.subtract(rho, gamma, out=gamma)                # ρ − γ
        if rho.dtype == np.float64:
            reduction = float(np.dot(rho, gamma))
        else:  # accumulate float32 data in float64
            reduction = float(np.einsum("i,i->", rho, gamma, dtype=np.float64))
        variance = sigma2 * (self.index.size - reduction)   # Σ σ²(1 − ρ(ρ − γ))
        np.multiply(gamma, -sigma, out=gamma)             # Θ − σρ = −σ(ρ − γ)
        np.put(Z.reshape(-1), self.index, gamma)
        return variance


def _run_naive(problem, start, params, monitor):
    """Naive-NMD (Saul): Z ← P(Θ), Θ ← T_r(Z); records ‖Z − Θ‖_F/‖X‖_F (non-increasing)."""
    X, norm_X = problem.X, problem.norm_X
    theta = start["theta"]
    Z = np.empty_like(X)
    work = np.empty_like(X)
    truncate = _Truncation(problem, params["tsvd"])
    Z0 = X if start["Z"] is None else start["Z"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if monitor.record(_distance(theta, Z0, work) / norm_X, _relu(problem, theta, work)):
            return theta, truncate.factors()
        while True:
            problem.project(theta, out=Z)
            if not truncate(Z, theta):
                monitor.record(np.nan, np.nan)
                return theta, truncate.factors()
            if monitor.record(_distance(Z, theta, work) / norm_X, _relu(problem, theta, work)):
                break
    return _finish(theta, truncate, monitor)


def _finish(theta, truncate, monitor):
    """The returned iterate: the current one, or the last finite truncation after a divergence."""
    if monitor.stop_reason == "diverged" and truncate.W is not None:
        np.matmul(truncate.W, truncate.H, out=theta)
    return theta, truncate.factors()


def _run_a_nmd(problem, start, params, monitor):
    """A-NMD: Naive-NMD with adaptive extrapolation of Z and Θ, as in the reference code (§6).

    Returns Θ = W H of the last truncation, except when ``max_iter`` ends the run
    on a rejected step: then, like the reference, Θ is the restored previous
    (extrapolated) iterate, of rank up to 2r, and ``factors`` still hold the last
    truncation ``W``, ``H`` (so ``theta != W @ H`` in that case only).
    """
    X, norm_X = problem.X, problem.norm_X
    beta, eta, gamma, gamma_bar = params["beta"], params["eta"], params["gamma"], params["gamma_bar"]
    beta_bar = 1.0
    accepted_beta = {1: beta}      # h[k] of the reference; unset entries read as 0
    theta = start["theta"]
    theta_old = theta.copy()
    Z_old = X.copy() if start["Z"] is None else start["Z"]
    Z = np.empty_like(X)
    work = np.empty_like(X)
    truncate = _Truncation(problem, params["tsvd"])
    previous_gap = np.inf           # b[k − 1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if monitor.record(_distance(theta, Z_old, work) / norm_X, _relu(problem, theta, work), beta=beta):
            return theta, truncate.factors()
        while True:
            k = monitor.iteration + 1
            problem.project(theta, out=Z)
            axpby_inplace(-beta, Z_old, 1.0 + beta, Z)   # Z ← Z + β(Z − Z_old)
            if not truncate(Z, theta):
                monitor.record(np.nan, np.nan, beta=beta)
                break
            stop = monitor.record(_distance(Z, theta, work) / norm_X, _relu(problem, theta, work),
                                  beta=beta)
            if stop and monitor.stop_reason != "max_iter":
                break                                   # the reference returns W H here
            if k < monitor.max_iter - 1:                # Θ ← Θ + β(Θ − Θ_old)
                axpby_inplace(-beta, theta_old, 1.0 + beta, theta)
            gap = _distance(Z, theta, work)
            if k > 2:
                if gap < previous_gap:                  # accept the extrapolated step
                    beta = min(beta_bar, gamma * beta)
                    beta_bar = min(1.0, gamma_bar * beta)
                    accepted_beta[k] = beta
                    Z_old, Z = Z, Z_old                 # Z is overwritten by the next projection
                    np.copyto(theta_old, theta)
                else:                                   # reject: restore the previous iterate
                    beta *= eta
                    accepted_beta[k] = beta
                    beta_bar = accepted_beta.get(k - 2, 0.0)
                    np.copyto(theta, theta_old)
            previous_gap = gap
            if stop:
                return theta, truncate.factors()
    return _finish(theta, truncate, monitor)


def _run_em(problem, start, params, monitor, *, alpha=None):
    """EM-NMD (Saul), or A-EM when ``alpha`` is given (§7)."""
    X, norm_X = problem.X, problem.norm_X
    size = X.size
    theta = start["theta"]
    work = np.empty_like(X)
    truncate = _Truncation(problem, params["tsvd"])
    e_step = _EStep(problem, work)
    sigma2 = _initial_variance(X)
    Z = X.copy()                # X on the positives throughout; the zeros get posterior means
    momentum = alpha is not None
    if momentum:
        Z_old = X.copy()
        step = np.zeros_like(X)  # Z^{(k−1)} − Z^{(k−2)} (zero on the positives of X)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        relu = _relu(problem, theta, work)
        if momentum:
            objective = relu
        else:
            objective = _distance(theta, X if start["Z"] is None else start["Z"], work) / norm_X
        if monitor.record(objective, relu, sigma2=sigma2):
            return theta, truncate.factors()
        while True:
            variance = e_step(theta, sigma2, Z)
            if momentum:
                axpby_inplace(alpha, step, 1.0, Z)     # Z ← Z + α(Z^{(k−1)} − Z^{(k−2)})
            if not truncate(Z, theta):
                monitor.record(np.nan, np.nan, sigma2=sigma2)
                break
            residual = _distance(Z, theta, work)
            sigma2 = (variance + residual * residual) / size
            relu = _relu(problem, theta, work)
            if monitor.record(relu if momentum else residual / norm_X, relu, sigma2=sigma2):
                break
            if momentum:
                np.subtract(Z, Z_old, out=step)
                Z_old, Z = Z, Z_old  # the E-step rewrites the zeros; the positives hold X in both
    return _finish(theta, truncate, monitor)


def _run_a_em(problem, start, params, monitor):
    """A-EM: EM-NMD with momentum α on the latent matrix; records the ReLU error."""
    return _run_em(problem, start, params, monitor, alpha=params["alpha"])


class _ANMDSpec(SolverSpec):
    """A-NMD's spec: also checks η < 1 < γ̄ < γ, which ties several hyperparameters together."""

    def resolve(self, given):
        params = super().resolve(given)
        if not params["gamma_bar"] < params["gamma"]:
            raise HyperparameterError(
                f"{self.key}: hyperparameters must satisfy eta < 1 < gamma_bar < gamma, got "
                f"gamma_bar={params['gamma_bar']!r} >= gamma={params['gamma']!r}")
        return params


_PAPER_SAUL = "Saul 2022, SIAM J. Math. Data Sci. 4(2)"
_PAPER_SERAGHITI = "Seraghiti, Awari, Vandaele, Porcelli, Gillis 2025"
_LATENT_STARTS = dict(start_names=("theta", "Z"), required_start=("theta",))
_LATENT_RESIDUAL = "latent residual ‖Z − Θ‖_F/‖X‖_F"

SPECS = (
    SolverSpec(
        key="naive",
        label="Naive-NMD",
        family="latent",
        model="Latent-RMD",
        paper=_PAPER_SAUL,
        objective=_LATENT_RESIDUAL,
        run=_run_naive,
        prepare_start=_prepare_start,
        hyperparameters=(_TSVD,),
        description="Alternating projections: Z ← P(Θ) (X on the positives, min(0, Θ) on the zeros), "
                    "Θ ← TSVD_r(Z). The latent residual never increases.",
        **_LATENT_STARTS,
    ),
    _ANMDSpec(
        key="a_nmd",
        label="A-NMD",
        family="latent",
        model="Latent-RMD",
        paper=_PAPER_SERAGHITI,
        objective="latent residual ‖Z − Θ‖_F/‖X‖_F with the extrapolated Z",
        run=_run_a_nmd,
        prepare_start=_prepare_start,
        hyperparameters=(
            Hyperparameter("beta", 0.7, 0.0, 1.0, symbol="β",
                           help="Initial extrapolation weight β0 (the reference code's default is 0.9; "
                                "every experiment of the paper uses 0.7)"),
            Hyperparameter("eta", 0.4, 0.0, 1.0, low_open=True, high_open=True, symbol="η",
                           help="Factor applied to β after a rejected step (η < 1)"),
            Hyperparameter("gamma", 1.1, 1.0, None, low_open=True, symbol="γ",
                           help="Factor applied to β after an accepted step (γ > γ̄)"),
            Hyperparameter("gamma_bar", 1.05, 1.0, None, low_open=True, symbol="γ̄",
                           help="Growth factor of the upper bound on β (1 < γ̄ < γ)"),
            _TSVD,
        ),
        extras=("beta",),
        description="Naive-NMD with extrapolation of Z and Θ; β grows by γ after a step that "
                    "decreases ‖Z − Θ‖ and shrinks by η (restoring the previous iterate) otherwise. "
                    "After a final rejected step Θ is the restored iterate (rank up to 2r) and "
                    "factors hold the last truncation.",
        **_LATENT_STARTS,
    ),
    SolverSpec(
        key="em",
        label="EM-NMD",
        family="latent",
        model="Gaussian latent (EM)",
        paper=_PAPER_SAUL,
        objective="latent residual ‖Z − Θ‖_F/‖X‖_F with the posterior-mean Z (not monotone)",
        run=_run_em,
        prepare_start=_prepare_start,
        hyperparameters=(_TSVD,),
        extras=("sigma2",),
        description="Expectation–maximisation for X = max(0, Z), Z ~ N(Θ, σ²): posterior means of "
                    "the zeros (truncated Gaussian), then Θ ← TSVD_r(Z) and the variance update. "
                    "An explicit Z start only enters the first recorded residual.",
        **_LATENT_STARTS,
    ),
    SolverSpec(
        key="a_em",
        label="A-EM",
        family="latent",
        model="Gaussian latent (EM)",
        paper="Saul 2023 (momentum EM), MLSP-era code copy",
        objective="ReLU error ‖X − max(0, Θ)‖_F/‖X‖_F",
        run=_run_a_em,
        prepare_start=_prepare_start,
        hyperparameters=(
            Hyperparameter("alpha", 0.6, 0.0, 1.0, high_open=True, symbol="α",
                           help="Momentum weight on the difference of the two previous latent matrices"),
            _TSVD,
        ),
        start_names=("theta",),
        required_start=("theta",),
        tol=1e-4,
        tol_stall=1e-5,
        extras=("sigma2",),
        description="EM-NMD with momentum: after the E-step add α(Z⁽ᵏ⁻¹⁾ − Z⁽ᵏ⁻²⁾). Records the "
                    "ReLU error. The reference code starts its latent matrix at X and takes no Z.",
    ),
)
