r"""The offset model: ReLU-NMD with a known constant added to the low-rank matrix.

.. math::

    X \approx \max(0,\ Θ + c\,\mathbf{1}\mathbf{1}^T), \qquad \operatorname{rank} Θ \le r,

for a known scalar c. It is the model of Euclidean distance matrix completion: with the
squared distances D (rank ≤ dim + 2) and a threshold d, the observed matrix of the distances
below d is X = max(0, d·11ᵀ − D), so c = d and Θ = −D. Gillis, Porcelli & Seraghiti (2025),
"An extrapolated and provably convergent algorithm for nonlinear matrix decomposition with the
ReLU function", §5.2, solve it with offset versions of Naive-NMD, A-NMD, BCD-NMD, eBCD-NMD and
3B-NMD; this module holds those five, step for step as the authors' published codes (the tests
replay their traces), and in the same way NMD-TM, EM-NMD and A-EM, for which no offset code was
published (with c = 0 each gives the standard solver's iterates, which the tests check). Each is
the standard solver with the offset inserted:

* the latent matrix is still Z with max(0, Z) = X: ``Z = P(c + Θ)`` (X on Ω = {X > 0},
  min(0, c + Θ) elsewhere; EM-NMD: the posterior mean of N(c + Θ, σ²) on the zeros);
* the rank-r fit (truncated SVD, least squares, QR) is applied to ``Z − c``;
* the recorded objective is the latent residual ``‖Z − c − Θ‖_F / ‖X‖_F`` (NMD-TM and A-EM:
  the ReLU error ``‖X − max(0, c + Θ)‖_F / ‖X‖_F``, as in their standard versions).

The problems of this model are distance matrices of a few hundred points, so the solvers are
plain NumPy on whole arrays (exact truncated SVD, ``lstsq`` least squares), not the fused
row-block passes of the standard solvers, on one BLAS thread (a threaded eigendecomposition
of a 60×60 matrix measured 5× slower here).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._errors import HyperparameterError
from .._erfcx import erfcx
from .._parallel import serial_blas
from .._tsvd import tsvd_exact

def _norm(A: np.ndarray) -> float:
    return float(np.linalg.norm(A))


class _Errors:
    """The two recorded errors of the offset model, relative to ‖X‖_F."""

    def __init__(self, problem, c: float):
        self.X, self.c, self.norm_X = problem.X, c, problem.norm_X
        self.project = problem.project

    def latent(self, Z, theta) -> float:
        """‖Z − c − Θ‖_F / ‖X‖_F."""
        return _norm(Z - self.c - theta) / self.norm_X

    def relu(self, theta) -> float:
        """‖X − max(0, c + Θ)‖_F / ‖X‖_F."""
        return _norm(self.X - np.maximum(theta + self.c, 0)) / self.norm_X

    def feasible(self, theta):
        """P(c + Θ): X on Ω, min(0, c + Θ) on the zeros of X."""
        return self.project(theta + self.c)


def prepare_start(spec, problem, init, c: float) -> dict:
    """The start of an offset run: the solver's own for a mapping or ``"random"``; for ``"tsvd"``
    the truncated SVD of ``X − c`` (the best rank-r fit to the latent matrix Z0 − c = X − c)."""
    if init != "tsvd":
        return spec.prepare_start(problem, init)
    W, H = tsvd_exact(problem.X - problem.dtype.type(c), problem.rank)
    if spec.family == "latent":
        return {"theta": W @ H, "Z": None}
    return {"W": W, "H": H, "Z": None}


def check_params(key: str, params: dict) -> None:
    """Refuse settings the offset solvers do not have (the randomized truncation)."""
    if params.get("tsvd", "exact") != "exact":
        raise HyperparameterError(f"{key}: the offset model uses the exact truncated SVD; "
                                  f"tsvd={params['tsvd']!r} is not available with offset")


def with_offset_model(spec):
    """``spec`` with its ``run_offset`` when this module has the solver's offset version."""
    runner = _RUNNERS.get(spec.key)
    if runner is None:
        return spec

    def run_offset(problem, start, params, monitor, c: float):
        """The offset version of the solver; returns ``(theta, factors)`` with Θ without c."""
        errors = _Errors(problem, float(c))
        Z0 = problem.X.copy() if start.get("Z") is None else start["Z"]
        with serial_blas():  # small dense problems: threaded LAPACK only adds synchronisation
            return runner(problem, start, params, monitor, errors, Z0)

    return replace(spec, run_offset=run_offset)


def _naive(problem, start, params, monitor, errors, Z):
    theta = start["theta"]
    if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
        return theta, {}
    while True:
        Z = errors.feasible(theta)
        W, H = tsvd_exact(Z - errors.c, problem.rank)
        theta = W @ H
        if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
            break
    return theta, {"W": W, "H": H}


def _a_nmd(problem, start, params, monitor, errors, Z):
    """A-NMD with the offset; the bookkeeping of the standard A-NMD (see ``latent.py``)."""
    beta, eta, gamma, gamma_bar = params["beta"], params["eta"], params["gamma"], params["gamma_bar"]
    beta_bar = 1.0
    accepted_beta = {1: beta}
    theta = theta_old = start["theta"]
    Z_old = Z
    factors = {}
    if monitor.record(errors.latent(Z, theta), errors.relu(theta), beta=beta):
        return theta, factors
    previous_gap = np.inf
    while True:
        k = monitor.iteration + 1
        Z = errors.feasible(theta)
        Z = Z + beta * (Z - Z_old)
        W, H = tsvd_exact(Z - errors.c, problem.rank)
        factors = {"W": W, "H": H}
        theta = W @ H
        stop = monitor.record(errors.latent(Z, theta), errors.relu(theta), beta=beta)
        if stop and monitor.stop_reason != "max_iter":
            break                                    # the reference returns W H here
        if k < monitor.max_iter - 1:
            theta = theta + beta * (theta - theta_old)
        gap = errors.latent(Z, theta)
        if k > 2:
            if gap < previous_gap:
                beta = min(beta_bar, gamma * beta)
                beta_bar = min(1.0, gamma_bar * beta)
                accepted_beta[k] = beta
                Z_old, theta_old = Z, theta
            else:
                beta *= eta
                accepted_beta[k] = beta
                beta_bar = accepted_beta.get(k - 2, 0.0)
                Z, theta = Z_old, theta_old
        previous_gap = gap
        if stop:
            break
    return theta, factors


def _least_squares(Z_shifted, H, lam: float = 0.0, mix: float = 1.0, W_old=None, H_old=None):
    """W = argmin ‖Z_shifted − W H‖² (+ λ‖W‖²), then H likewise with the new W.

    λ = 0: least squares by ``lstsq`` (the authors' backslash). λ > 0: the Tikhonov normal
    equations of NMD-TM. ``mix`` ≠ 1 blends each factor with its previous value (NMD-TM's β).
    """
    r = H.shape[0]
    if lam:
        W = np.linalg.solve(H @ H.T + lam * np.eye(r, dtype=H.dtype), H @ Z_shifted.T).T
    else:
        W = np.linalg.lstsq(H.T, Z_shifted.T, rcond=None)[0].T
    if mix != 1.0:
        W = mix * W + (1 - mix) * W_old
    if lam:
        H = np.linalg.solve(W.T @ W + lam * np.eye(r, dtype=H.dtype), W.T @ Z_shifted)
    else:
        H = np.linalg.lstsq(W, Z_shifted, rcond=None)[0]
    if mix != 1.0:
        H = mix * H + (1 - mix) * H_old
    return W, H


def _bcd(problem, start, params, monitor, errors, Z):
    W, H = start["W"], start["H"]
    theta = W @ H
    if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
        return theta, {"W": W, "H": H}
    while True:
        Z = errors.feasible(theta)
        W, H = _least_squares(Z - errors.c, H)
        theta = W @ H
        if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
            break
    return theta, {"W": W, "H": H}


def _momentum(problem, start, monitor, errors, Z, *, momentum, lam=0.0, mix=1.0, relu_objective=False):
    """3B-NMD (λ = 0, mix = 1) and NMD-TM with the offset: Z ← (1+a)P(c + Θ) − aZ_old, the factor
    steps on Z − c, and the Θ-extrapolation except in the last two iterations (as the references)."""
    a = momentum
    W, H = start["W"], start["H"]
    theta = theta_old = W @ H
    Z_old = Z

    def record(Z, theta):
        relu = errors.relu(theta)
        return monitor.record(relu if relu_objective else errors.latent(Z, theta), relu)

    if record(Z, theta):
        return theta, {"W": W, "H": H}
    while True:
        k = monitor.iteration + 1
        Z = errors.feasible(theta)
        Z = (1 + a) * Z - a * Z_old
        W, H = _least_squares(Z - errors.c, H, lam, mix, W, H)
        theta = W @ H
        if record(Z, theta):
            break
        theta_next = (1 + a) * theta - a * theta_old if k < monitor.max_iter - 1 else theta
        Z_old, theta_old, theta = Z, theta_next, theta_next
    return W @ H, {"W": W, "H": H}


def _nmd_3b(problem, start, params, monitor, errors, Z):
    return _momentum(problem, start, monitor, errors, Z, momentum=params["beta"])


def _nmd_tm(problem, start, params, monitor, errors, Z):
    """NMD-TM with the offset; like its standard version it starts from Z0 = X."""
    return _momentum(problem, start, monitor, errors, problem.X.copy(), momentum=params["alpha"],
                     lam=params["lam"], mix=params["beta"], relu_objective=True)


_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _e_step(mean, X, zeros, sigma2):
    """Posterior means of N(mean, σ²) truncated to (−∞, 0] on the zeros of X, X elsewhere, and
    the sum of the posterior variances (EM-NMD's E-step, with mean = c + Θ)."""
    sigma = float(np.sqrt(sigma2))
    gamma = np.asarray(mean, dtype=np.float64) / sigma
    rho = _SQRT_2_OVER_PI / erfcx(gamma / np.sqrt(2.0))
    Z = np.where(zeros, (rho - gamma) * -sigma, X).astype(X.dtype)
    reduction = float(np.sum((rho * (rho - gamma))[zeros]))
    return Z, sigma2 * (np.count_nonzero(zeros) - reduction)


def _em(problem, start, params, monitor, errors, Z, *, alpha=None):
    """EM-NMD (A-EM with ``alpha``) with the offset: the E-step of N(c + Θ, σ²), Θ = T_r(Z − c),
    σ² = (Σ posterior variances + ‖Z − c − Θ‖²)/(mn); the bookkeeping of the standard EM."""
    X = problem.X
    zeros = X <= 0
    momentum = alpha is not None
    sigma2 = float(np.var(X, dtype=np.float64))
    theta = start["theta"]
    factors = {}
    relu = errors.relu(theta)
    if monitor.record(relu if momentum else errors.latent(Z, theta), relu, sigma2=sigma2):
        return theta, factors
    Z_prev = Z_prev2 = X
    Z, variance = _e_step(theta + errors.c, X, zeros, sigma2)
    if momentum:
        Z_prev, Z_prev2 = Z, Z_prev
    while True:
        W, H = tsvd_exact(Z - errors.c, problem.rank)
        factors = {"W": W, "H": H}
        theta = W @ H
        residual = errors.latent(Z, theta) * errors.norm_X
        sigma2 = (variance + residual ** 2) / X.size
        relu = errors.relu(theta)
        if monitor.record(relu if momentum else residual / errors.norm_X, relu, sigma2=sigma2):
            break
        Z, variance = _e_step(theta + errors.c, X, zeros, sigma2)
        if momentum:
            Z = np.where(zeros, Z + alpha * (Z_prev - Z_prev2), X).astype(X.dtype)
            Z_prev, Z_prev2 = Z, Z_prev
    return theta, factors


def _a_em(problem, start, params, monitor, errors, Z):
    return _em(problem, start, params, monitor, errors, Z, alpha=params["alpha"])


def _ebcd(problem, start, params, monitor, errors, Z):
    """eBCD-NMD with the offset, as the authors' offset code: α stays at α_max once it gets
    there (their standard code resets it to 1); a rejected step resets α to 1. The first
    acceptance test compares with the offset residual ‖Z0 − c − Θ0‖ (their code uses ‖Z0 − W0H0‖
    there, without the offset; both accept the first step in every reference run)."""
    alpha, mu = params["alpha"], params["mu"]
    alpha_max, delta_bar = params["alpha_max"], params["delta_bar"]
    c = errors.c
    W, H = start["W"], start["H"]
    theta = W @ H
    S = _norm(Z - c - theta)
    if monitor.record(S / errors.norm_X, errors.relu(theta), alpha=alpha, accepted=1.0):
        return theta, {"W": W, "H": H}
    while True:
        alpha_used = alpha
        Z_alpha = alpha * Z + (1 - alpha) * (theta + c)
        shifted = Z_alpha - c
        W_e = np.linalg.qr(shifted @ H.T)[0]
        H_e = W_e.T @ shifted
        theta_e = W_e @ H_e
        Z_e = errors.feasible(theta_e)
        S_e = _norm(Z_e - c - theta_e)
        ratio = S_e / S if S > 0 else np.inf
        accepted = ratio < 1
        if accepted:
            W, H, Z, S, theta = W_e, H_e, Z_e, S_e, theta_e
            if ratio > delta_bar:
                mu = max(mu, 0.25 * (alpha - 1.0))
                alpha = min(alpha + mu, alpha_max)
        else:
            alpha = 1.0
        if monitor.record(S / errors.norm_X, errors.relu(theta), alpha=alpha_used, accepted=float(accepted)):
            break
    return theta, {"W": W, "H": H}


_RUNNERS = {"naive": _naive, "a_nmd": _a_nmd, "em": _em, "a_em": _a_em, "bcd": _bcd, "ebcd": _ebcd,
            "nmd_3b": _nmd_3b, "nmd_tm": _nmd_tm}
