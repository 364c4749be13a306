r"""The offset model: ReLU-NMD with a known constant added to the low-rank matrix.

.. math::

    X \approx \max(0,\ Θ + c\,\mathbf{1}\mathbf{1}^T), \qquad \operatorname{rank} Θ \le r,

for a known scalar c. It is the model of Euclidean distance matrix completion: with the
squared distances D (rank ≤ dim + 2) and a threshold d, the observed matrix of the distances
below d is X = max(0, d·11ᵀ − D), so c = d and Θ = −D. Gillis, Porcelli & Seraghiti (2025),
"An extrapolated and provably convergent algorithm for nonlinear matrix decomposition with the
ReLU function", §5.2, solve it with offset versions of Naive-NMD, A-NMD, BCD-NMD, eBCD-NMD and
3B-NMD; this module holds those five, step for step as the authors' published codes (the tests
replay their traces). Each is the standard solver with the offset inserted:

* the latent matrix is still Z with max(0, Z) = X: ``Z = P(c + Θ)`` (X on Ω = {X > 0},
  min(0, c + Θ) elsewhere);
* the rank-r fit (truncated SVD, least squares, QR) is applied to ``Z − c``;
* the recorded objective is the latent residual ``‖Z − c − Θ‖_F / ‖X‖_F``.

The problems of this model are distance matrices of a few hundred points, so the solvers are
plain NumPy on whole arrays (exact truncated SVD, ``lstsq`` least squares), not the fused
row-block passes of the standard solvers, on one BLAS thread (a threaded eigendecomposition
of a 60×60 matrix measured 5× slower here).
"""
from __future__ import annotations

import numpy as np

from .._errors import HyperparameterError
from .._linalg import serial_blas, tsvd_exact

#: Solvers that accept ``offset`` ≠ 0 in :func:`nmdcore.decompose`.
OFFSET_SOLVERS = ("naive", "a_nmd", "bcd", "ebcd", "nmd_3b")


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


def run(key: str, problem, start, params, monitor, c: float):
    """Run the offset version of solver ``key``; return ``(theta, factors)`` with Θ without c."""
    errors = _Errors(problem, float(c))
    Z0 = problem.X.copy() if start.get("Z") is None else start["Z"]
    with serial_blas():  # small dense problems: threaded LAPACK only adds synchronisation
        return _RUNNERS[key](problem, start, params, monitor, errors, Z0)


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


def _least_squares(Z_shifted, H):
    """W = argmin ‖Z_shifted − W H‖, then H = argmin ‖Z_shifted − W H‖ with the new W."""
    W = np.linalg.lstsq(H.T, Z_shifted.T, rcond=None)[0].T
    H = np.linalg.lstsq(W, Z_shifted, rcond=None)[0]
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


def _nmd_3b(problem, start, params, monitor, errors, Z):
    beta = params["beta"]
    W, H = start["W"], start["H"]
    theta = theta_old = W @ H
    Z_old = Z
    if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
        return theta, {"W": W, "H": H}
    while True:
        k = monitor.iteration + 1
        Z = errors.feasible(theta)
        Z = (1 + beta) * Z - beta * Z_old
        W, H = _least_squares(Z - errors.c, H)
        theta = W @ H
        if monitor.record(errors.latent(Z, theta), errors.relu(theta)):
            break
        if k < monitor.max_iter - 1:                 # no Θ-extrapolation in the last two iterations
            theta_next = (1 + beta) * theta - beta * theta_old
        else:
            theta_next = theta
        Z_old, theta_old, theta = Z, theta_next, theta_next
    return W @ H, {"W": W, "H": H}


def _ebcd(problem, start, params, monitor, errors, Z):
    """eBCD-NMD with the offset, as the authors' offset code: α stays at α_max once it gets
    there (their standard code resets it to 1); a rejected step resets α to 1."""
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


_RUNNERS = {"naive": _naive, "a_nmd": _a_nmd, "bcd": _bcd, "ebcd": _ebcd, "nmd_3b": _nmd_3b}
